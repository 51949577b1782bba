// search.test.mjs - place search that knows where the dispatcher is (issue 20), in Debian's chromium
// (playwright-core) against a real patrold (PATROLD_URL) whose database run.py gave a small fixture
// of namesakes beside the seeded city (E2E_NAMESAKES: 鼓楼区 of 南京 and 福州, 海州区 of 辽宁阜新):
// without a token the public search ranks a namesake first (as the issue saw with the national
// list); typed into the console's search box by the 海州区 dispatcher, 鼓楼 lists 海州区's 鼓楼社区
// first and `hzq` lists 连云港's 海州区 first; the page sends its token and near= (the map's
// centre); the browser log has no error.
import fs from "node:fs";
import { chromium, CHROMIUM, step, finish, assert, api as apiAt, waitFor, signIn } from "./lib.mjs";

const BASE = process.env.PATROLD_URL;
const api = (...a) => apiAt(BASE, ...a);
const HOME = "320706"; // 海州区, the dispatcher's division
const NAMESAKES = (process.env.E2E_NAMESAKES || "").split(",").filter(Boolean);
const places = async (q, token) => {
  const r = await api("GET", "/api/v1/places?q=" + encodeURIComponent(q) + "&limit=8", null, token);
  assert(r.status === 200, `GET /api/v1/places?q=${q}: ${r.status}`);
  return r.data.items;
};

await step("the fixture's namesakes are found, and without a token one of them ranks first", async () => {
  assert(NAMESAKES.length >= 3, "no namesakes given (E2E_NAMESAKES)");
  const found = new Set([...(await places("鼓楼")), ...(await places("hzq"))].map((h) => h.code));
  for (const c of NAMESAKES) assert(found.has(c), `namesake ${c} not found: ${[...found]}`);
  const gulou = await places("鼓楼"), hzq = await places("hzq");
  assert(!gulou[0].code.startsWith(HOME), "the public 鼓楼 already ranks 海州区 first: " + gulou[0].code);
  assert(hzq[0].code === "210902000000", "the public hzq ranks first " + hzq[0].code + ", not 阜新's 海州区");
});

const userDir = fs.mkdtempSync("/tmp/patrold-e2e-search-");
const browser = await chromium.launchPersistentContext(userDir, { ...CHROMIUM, viewport: { width: 1366, height: 768 }, locale: "zh-CN" });
const page = browser.pages()[0] || await browser.newPage();
page.setDefaultTimeout(10000);
const pageErrors = [], asked = [];
page.on("pageerror", (e) => pageErrors.push(e.message));
page.on("console", (m) => { if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });
page.on("request", (r) => { if (r.url().includes("/api/v1/places?")) asked.push({ url: r.url(), auth: r.headers().authorization || "" }); });

await step("sign in as the 海州区 dispatcher", async () => {
  await signIn(page, BASE, "dispatcher");
});

// Types q into the header's search box: the listed hits, as [name, the small line (chain and code)].
async function typed(q) {
  const n = asked.length;
  await page.evaluate(() => document.getElementById("search-results").replaceChildren()); // the last query's hits
  await page.fill("#search", q);
  await waitFor(page, () => document.querySelectorAll("#search-results li small").length > 0
    && !document.getElementById("search-results").hidden, null, 4000, `the hits of ${q}`);
  const mine = asked.slice(n).filter((a) => new URL(a.url).searchParams.get("q") === q);
  assert(mine.length, `the page did not ask for ${q}`);
  const url = new URL(mine[mine.length - 1].url);
  assert(/^-?\d+\.\d+,-?\d+\.\d+$/.test(url.searchParams.get("near") || ""), "no near= (the map centre): " + url.search);
  assert(mine[mine.length - 1].auth.startsWith("Bearer "), "the search is sent without the token");
  return page.$$eval("#search-results li", (lis) => lis.map((li) => [li.firstChild.textContent.trim(), (li.querySelector("small") || {}).textContent || ""]));
}

await step("鼓楼 lists 海州区's 鼓楼社区 first, the other 鼓楼 after it", async () => {
  const hits = await typed("鼓楼");
  assert(hits[0][0].startsWith("鼓楼社区") && hits[0][1].includes("海州区") && hits[0][1].includes(HOME),
    "first hit: " + JSON.stringify(hits[0]));
  assert(hits.some(([n, s]) => n === "鼓楼区" && s.includes("南京市")), "南京's 鼓楼区 is not listed: " + JSON.stringify(hits));
});

await step("hzq lists 连云港's 海州区 first, 阜新's after it", async () => {
  const hits = await typed("hzq");
  assert(hits[0][0] === "海州区" && hits[0][1].includes("连云港市") && hits[0][1].includes(HOME + "000000"),
    "first hit: " + JSON.stringify(hits[0]));
  const other = hits.findIndex(([n, s]) => n === "海州区" && s.includes("阜新市"));
  assert(other > 0, "阜新's 海州区 is not listed after it: " + JSON.stringify(hits));
});

await step("the browser log has no error", async () => {
  assert(pageErrors.length === 0, "page errors: " + pageErrors.slice(0, 3).join(" | ").replace(/\s+/g, " "));
});

await browser.close();
fs.rmSync(userDir, { recursive: true, force: true });
finish();
