// shift.test.mjs - a dispatcher's shift in the console (issue 20) against a real patrold (PATROLD_URL,
// started by run.py with a town station's acknowledgement limit of 2 s and a county's of 200 s, the
// escalation thread idle): the report panel shows the person, the times, the station, unit and
// outcome; only the actions the API lists are offered (none to acknowledge a resolved report); a
// 409 reads in Chinese with its code small; escalate, mark duplicate and cancel work from the page;
// a report entering the queue sounds and notifies unless the act was the user's own; an overdue
// report pulses, escalated ones sort first (after a reload too), countdowns read "剩余 m:ss" and turn red near the end;
// the browser log has no error.
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { chromium, CHROMIUM, step, finish, assert, api as apiAt, waitFor, signIn, labeller, sleep } from "./lib.mjs";

const BASE = process.env.PATROLD_URL;
const OUT = process.env.E2E_OUT || "build/e2e";
const PAGE = BASE + "/";
const HAIZHOU = [119.163509, 34.572274];
const api = (...a) => apiAt(BASE, ...a);

const login = async (u) => (await api("POST", "/api/v1/auth/login", { username: u, password: "demo" })).data.token;
const dispatcher = await login("dispatcher"), patrol = await login("patrol"), supervisor = await login("supervisor");
const vocabulary = (await api("GET", "/api/v1/vocabulary")).data;
const label = labeller(vocabulary);

async function newReport(token, dx, extra) {
  const body = { client_id: randomUUID(), category: "lost_elderly", description: "交接班测试",
    location: { lon: HAIZHOU[0] + dx, lat: HAIZHOU[1] + dx / 2 }, observed_at: new Date().toISOString(), ...extra };
  const r = await api("POST", "/api/v1/reports", body, token);
  assert(r.status === 201, "POST /api/v1/reports: " + r.status + " " + JSON.stringify(r.data));
  return r.data;
}
const event = (id, token, body) => api("POST", `/api/v1/reports/${id}/events`, body, token);
const report = async (id) => (await api("GET", "/api/v1/reports/" + id, null, dispatcher)).data;

fs.mkdirSync(OUT, { recursive: true });
const userDir = fs.mkdtempSync("/tmp/patrold-e2e-chromium-");
const browser = await chromium.launchPersistentContext(userDir, {
  ...CHROMIUM, viewport: { width: 1366, height: 768 }, locale: "zh-CN", permissions: ["notifications"],
});
const page = browser.pages()[0] || await browser.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(e.message));
page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });
if (process.env.E2E_DEBUG) page.on("console", (m) => console.log("console:", m.type(), m.text().slice(0, 400)));

const alerts = () => page.evaluate(() => ({ ...window.__console.alerts }));
const open = async (id) => {
  await page.evaluate((i) => window.__console.open(i), id);
  await waitFor(page, (i) => document.getElementById("d-title").textContent.startsWith("#" + i + " "), id, 3000, `the details of report ${id}`);
};
const field = (code) => page.$$eval(`#d-fields dd[data-field="${code}"]`, (d) => d.map((x) => x.textContent));
const actions = () => page.$$eval("#d-actions [data-action]", (bs) => bs.map((b) => b.dataset.action));
const inLog = (id, ev) => waitFor(page, ([i, e]) => window.__console.eventLog.some((x) => x.entity_id === i && (!e || x.kind === e)),
  [id, ev], 3000, `the live event of report ${id}`);

await step("sign in (dispatcher), notifications granted", async () => {
  await signIn(page, BASE, "dispatcher");
  await waitFor(page, () => window.__console.streamOpen, null, 10000, "the console's stream open");
  assert(await page.evaluate(() => Notification.permission) === "granted", "notifications not granted to the page");
});

let a; // a patrol's report of an old man, seen ten minutes ago
const person = { sex: "male", approx_age: 78, appearance: "蓝色外套，拄拐杖" };
const observed = new Date(Date.now() - 600e3).toISOString();
await step("a report posted by another user (a patrol) sounds and notifies", async () => {
  const before = await alerts();
  a = await newReport(patrol, 0.001, { person, observed_at: observed, people_count: 1 });
  await waitFor(page, ([n, id]) => window.__console.alerts.sounds > n && window.__console.alerts.last.id === id,
    [before.sounds, a.id], 3000, "the alert sound of a new report");
  const after = await alerts();
  assert(after.notified === before.notified + 1, "no browser notification: " + JSON.stringify(after));
  assert(after.last.why === "new", "alert reason " + JSON.stringify(after.last));
});

await step("a report posted by this user does not sound", async () => {
  const before = await alerts();
  const own = await newReport(dispatcher, 0.05, { category: "minor" });
  await inLog(own.id, "report.created");
  await sleep(300);
  const after = await alerts();
  assert(after.sounds === before.sounds && after.notified === before.notified, "own report alerted: " + JSON.stringify(after));
});

await step("the report panel shows the person, the times, tier and station", async () => {
  await page.click(`#queue li[data-id="${a.id}"]`);
  await waitFor(page, (i) => document.getElementById("d-title").textContent.startsWith("#" + i + " "), a.id, 3000, "the details");
  assert((await field("person_appearance"))[0] === person.appearance, "appearance: " + await field("person_appearance"));
  assert((await field("person_sex"))[0] === label("sexes", "male"), "sex: " + await field("person_sex"));
  assert((await field("person_approx_age"))[0].includes("78"), "age: " + await field("person_approx_age"));
  const shown = await page.evaluate((t) => new Date(t).toLocaleString("zh-CN"), a.observed_at);
  assert((await field("observed_at"))[0] === shown, `observed ${await field("observed_at")} not ${shown}`);
  assert((await field("received_at")).length === 1, "no received time");
  assert((await field("station"))[0] === a.responsible_station.name, "station: " + await field("station"));
  assert((await field("tier"))[0] === label("tiers", a.responsible_station.tier), "tier: " + await field("tier"));
  const dts = await page.$$eval("#d-fields dt", (d) => d.map((x) => x.textContent));
  for (const k of ["observed_at", "received_at", "person_appearance"])
    assert(dts.includes(label("report_fields", k)), `no ${label("report_fields", k)} in ${dts}`);
  const acts = await actions(), may = (await report(a.id)).actions;
  assert(acts.every((t) => may.includes(t)) && ["acknowledge", "escalate", "cancel"].every((t) => acts.includes(t)),
    `actions offered ${acts}, the API's ${may}`);
});

await step("an overdue report pulses, its countdown red (超时)", async () => {
  assert(a.responsible_station.tier === "town", "the test's report is not at a town station: " + a.responsible_station.tier);
  await waitFor(page, (i) => document.querySelector(`#queue li[data-id="${i}"]`).classList.contains("overdue"), a.id, 5000, "the overdue class");
  const [cls, text] = await page.$eval(`#queue li[data-id="${a.id}"] .q-count`, (s) => [s.className, s.textContent]);
  assert(/\blate\b/.test(cls) && text.startsWith("超时"), `overdue countdown ${cls} ${text}`);
  const anim = await page.$eval(`#queue li[data-id="${a.id}"]`, (li) => getComputedStyle(li).animationName);
  assert(anim && anim !== "none", "the overdue item does not pulse: " + anim);
});

await step("escalate by hand with a reason: no alert for one's own act, sorted first, 剩余 m:ss in red", async () => {
  const before = await alerts();
  await page.click("#b-escalate");
  assert((await page.textContent("#d-msg")).includes(label("event_types", "escalate")), "no reason asked for");
  assert((await report(a.id)).responsible_station.tier === "town", "escalated without a reason");
  await page.fill("#d-reason", "超时无人确认，升级处理");
  await page.click("#b-escalate");
  await waitFor(page, (i) => window.__console.eventLog.some((x) => x.entity_id === i && x.kind === "report.updated"), a.id, 3000, "the escalation's event");
  const r = await report(a.id);
  assert(r.responsible_station.tier === "county", "not escalated: " + r.responsible_station.tier);
  await sleep(300);
  assert((await alerts()).sounds === before.sounds, "one's own escalation alerted");
  await waitFor(page, (i) => document.querySelector("#queue li") && Number(document.querySelector("#queue li").dataset.id) === i, a.id, 3000,
    "the escalated report first in the queue");
  await waitFor(page, (i) => /^剩余 \d+:\d\d$/.test(document.querySelector(`#queue li[data-id="${i}"] .q-count`).textContent), a.id, 3000, "剩余 m:ss");
  const [cls, color] = await page.$eval(`#queue li[data-id="${a.id}"] .q-count`, (s) => [s.className, getComputedStyle(s).color]);
  assert(/\bsoon\b/.test(cls) && color === "rgb(201, 42, 42)", `a county deadline of 200 s is not red: ${cls} ${color}`);
  await waitFor(page, (t) => [...document.querySelectorAll("#d-timeline li")].some((li) => li.textContent.includes(t)),
    "超时无人确认，升级处理", 3000, "the reason in the timeline");
});

await step("a report escalated by another user sounds", async () => {
  const before = await alerts();
  const r = await event(a.id, supervisor, { type: "escalate", note: "主管升级" });
  assert(r.status === 200, "supervisor's escalation: " + r.status);
  await waitFor(page, (n) => window.__console.alerts.sounds > n, before.sounds, 3000, "the alert of an escalation");
  const last = (await alerts()).last;
  assert(last.id === a.id && last.why === "escalated", "alert " + JSON.stringify(last));
});

await step("a 409 reads in Chinese with its code small (escalating above the city station)", async () => {
  await open(a.id);
  await page.fill("#d-reason", "再升级");
  await page.click("#b-escalate");
  await waitFor(page, () => /409/.test(document.getElementById("d-msg").textContent), null, 3000, "the 409 message");
  const msg = await page.textContent("#d-msg");
  const code = await page.textContent("#d-msg .err-code");
  assert(msg.includes(label("error_codes", "no_parent_station")) && msg.includes("操作冲突"), "the 409 is not in Chinese: " + msg);
  assert(code === "409 no_parent_station", "the code beside it: " + code);
  assert(!/[a-z]{4,} [a-z]{4,}/.test(msg.replace(code, "")), "English in the message: " + msg);
});

await step("a stale panel's acknowledge (another user was first): 409 in Chinese, the report as it is now", async () => {
  const x = await newReport(patrol, 0.02, { category: "injured_or_ill" });
  await waitFor(page, (i) => !!document.querySelector(`#queue li[data-id="${i}"]`), x.id, 3000, "the report in the queue");
  await page.click(`#queue li[data-id="${x.id}"]`);
  await waitFor(page, () => !!document.getElementById("b-ack"), null, 3000, "the acknowledge button");
  // the supervisor acknowledges it just before the page's request reaches the server
  const route = `**/api/v1/reports/${x.id}/events`;
  await page.route(route, async (r) => {
    assert((await event(x.id, supervisor, { type: "acknowledge" })).status === 200, "the supervisor's acknowledge");
    await r.continue();
  });
  await page.click("#b-ack");
  await waitFor(page, () => /409/.test(document.getElementById("d-msg").textContent), null, 3000, "the 409 message");
  await page.unroute(route);
  const msg = await page.textContent("#d-msg");
  const want = label("error_codes", "invalid_transition") + "：" + label("event_types", "acknowledge") + "（当前状态：" + label("statuses", "acknowledged") + "）";
  assert(msg.includes(want) && msg.includes("409 invalid_transition"), `message ${msg}, wanted ${want}`);
  assert(!msg.includes("cannot"), "English in the message: " + msg);
  assert(!(await actions()).includes("acknowledge"), "acknowledge still offered");
});

await step("a resolved report shows its unit and outcome and offers no acknowledge", async () => {
  const c = await newReport(dispatcher, 0.08, { category: "vagrant" });
  const cand = (await api("GET", `/api/v1/reports/${c.id}/candidates?limit=1`, null, dispatcher)).data.items[0];
  assert(cand, "no available unit to dispatch");
  assert((await event(c.id, dispatcher, { type: "dispatch", unit_id: cand.unit_id })).status === 200, "dispatch");
  assert((await event(c.id, dispatcher, { type: "resolve", outcome: "escorted_home" })).status === 200, "resolve");
  await open(c.id);
  assert((await page.textContent("#d-title")).endsWith(label("statuses", "resolved")), "title " + await page.textContent("#d-title"));
  const acts = await actions();
  assert(acts.length === 0 && !(await page.$("#b-ack")), "actions on a resolved report: " + acts);
  assert((await field("outcome"))[0] === label("outcomes", "escorted_home"), "outcome " + await field("outcome"));
  assert((await field("unit_id"))[0] === cand.name, `unit ${await field("unit_id")} not ${cand.name}`);
  assert((await field("resolved_at")).length === 1, "no resolved time");
});

await step("mark duplicate from the page: the original picked from the nearby list", async () => {
  const orig = await newReport(supervisor, 0.1, { category: "beggar" });
  const dup = await newReport(patrol, 0.10001, { category: "beggar" });
  await waitFor(page, (i) => !!document.querySelector(`#queue li[data-id="${i}"]`), dup.id, 3000, "the second report in the queue");
  await page.click(`#queue li[data-id="${dup.id}"]`);
  await waitFor(page, (i) => !!document.querySelector(`#d-dups a[data-id="${i}"]`), orig.id, 3000, "the original among the possible duplicates");
  await page.click(`#d-dups a[data-id="${orig.id}"]`); // the link opens it
  await waitFor(page, (i) => document.getElementById("d-title").textContent.startsWith("#" + i + " "), orig.id, 3000, "the original opened by its link");
  await page.click(`#queue li[data-id="${dup.id}"]`);
  await waitFor(page, () => !!document.getElementById("d-dup-of"), null, 3000, "the duplicate choice");
  await page.selectOption("#d-dup-of", String(orig.id));
  await page.click("#b-mark-duplicate");
  await waitFor(page, (l) => document.getElementById("d-title").textContent.endsWith(l), label("statuses", "duplicate"), 3000, "marked duplicate");
  const r = await report(dup.id);
  assert(r.status === "duplicate" && r.duplicate_of === orig.id, "report " + JSON.stringify([r.status, r.duplicate_of]));
  assert(await page.$(`#d-fields dd[data-field="duplicate_of"] a[data-id="${orig.id}"]`), "no link to the original");
  await waitFor(page, (i) => !document.querySelector(`#queue li[data-id="${i}"]`), dup.id, 3000, "the duplicate out of the queue");
});

await step("cancel (撤销) from the page, with its reason", async () => {
  const g = await newReport(dispatcher, 0.12, { category: "other" });
  await waitFor(page, (i) => !!document.querySelector(`#queue li[data-id="${i}"]`), g.id, 3000, "the report in the queue");
  await page.click(`#queue li[data-id="${g.id}"]`);
  await waitFor(page, () => !!document.getElementById("b-cancel"), null, 3000, "the cancel button");
  assert((await page.textContent("#b-cancel")) === label("event_types", "cancel"), "cancel's label");
  await page.fill("#d-reason", "误报，现场无人");
  await page.click("#b-cancel");
  await waitFor(page, (l) => document.getElementById("d-title").textContent.endsWith(l), label("statuses", "cancelled"), 3000, "cancelled");
  assert((await report(g.id)).status === "cancelled", "not cancelled on the server");
  await waitFor(page, (i) => !document.querySelector(`#queue li[data-id="${i}"]`), g.id, 3000, "the cancelled report out of the queue");
  await page.screenshot({ path: path.join(OUT, "shift.png") });
});

await step("a public sighting (Open311) alerts, and staff see its call-back details", async () => {
  const before = await alerts();
  const form = new URLSearchParams({ api_key: "demo", service_code: "vagrant", lat: String(HAIZHOU[1] + 0.0015), long: String(HAIZHOU[0] + 0.003),
    description: "桥下有人露宿", first_name: "芳菲", last_name: "欧阳", phone: "13800138000" });
  const resp = await fetch(BASE + "/open311/v2/requests.json", { method: "POST", body: form,
    headers: { "Content-Type": "application/x-www-form-urlencoded" } });
  assert(resp.status === 200 || resp.status === 201, "Open311 POST: " + resp.status);
  const id = Number((await resp.json())[0].service_request_id);
  await waitFor(page, ([n, i]) => window.__console.alerts.sounds > n && window.__console.alerts.last.id === i, [before.sounds, id], 3000,
    "the alert of a public sighting");
  await page.click(`#queue li[data-id="${id}"]`);
  await waitFor(page, () => document.querySelectorAll('#d-fields dd[data-field="contact"]').length > 0, null, 3000, "the call-back details");
  const contact = await field("contact");
  assert(contact.includes("欧阳芳菲") && contact.includes("13800138000"), "call-back details: " + contact);
  assert(await page.$('#d-fields dd[data-field="contact"] a[href="tel:13800138000"]'), "the phone is no tel: link");
});

await step("after a reload the escalated report is still first (from the list, not the map's tiles)", async () => {
  const r = await report(a.id);
  assert(vocabulary.statuses.find((t) => t.code === r.status).open, "report a is closed: " + r.status);
  // the map's report tiles are refused: only the API's list can tell the queue a report was escalated
  await page.route("**/tiles/reports/**", (x) => x.abort());
  await page.reload();
  await waitFor(page, () => window.__console && window.__console.ready && document.querySelectorAll("#queue li").length > 1, null, 10000,
    "the console ready again, its queue read");
  const first = await page.$eval("#queue li", (li) => [Number(li.dataset.id), li.textContent]);
  await page.unroute("**/tiles/reports/**");
  assert(first[0] === a.id, `first in the queue after the reload: ${first[1]}, not #${a.id}`);
  assert(await page.$(`#queue li[data-id="${a.id}"] .q-esc`), "the escalated report is not marked after the reload");
  // an overdue new report was there to sort before it, had the queue not known
  const others = await page.$$eval("#queue li.overdue", (lis) => lis.map((li) => Number(li.dataset.id)));
  assert(others.some((i) => i !== a.id), "no overdue report the escalated one must beat");
});

await step("the browser log has no error", async () => {
  const errs = pageErrors.filter((e) => !/Failed to load resource|ERR_CONNECTION|net::/.test(e));
  assert(errs.length === 0, "page errors: " + errs.slice(0, 3).join(" | ").replace(/\s+/g, " "));
});

await browser.close();
fs.rmSync(userDir, { recursive: true, force: true });
finish();
