// patrols.test.mjs - joint street patrols in the console (issue 18) in Debian's chromium against a
// real patrold (PATROLD_URL): a supervisor opens 巡查计划, a refused plan names its field in Chinese
// and creates nothing, then a joint plan is made from the page (a one-off window, units of two
// agencies ticked, a target point clicked on the map, both agencies required); the ledger layer
// shows the target missed; the units' tracks are posted through the API and, once the scorer has
// scored them, the layer turns the target met by itself (a live patrol.visit event) and its visits
// list both agencies; the window started unvisited, so an overdue alert shows; the campaign page
// shows the figures of GET /api/v1/campaigns/{id}/summary; nothing is logged as an error.
import fs from "node:fs";
import { chromium, CHROMIUM, step, finish, assert, api as apiAt, waitFor, signIn, labeller, sleep } from "./lib.mjs";

const BASE = process.env.PATROLD_URL;
const OUT = process.env.E2E_OUT || "build/e2e";
const P = [119.163509, 34.572274]; // 海州区 320706
const M_LON = 1 / (111320 * Math.cos(P[1] * Math.PI / 180)), M_LAT = 1 / 110540;
const at = (east, north = 0) => [P[0] + east * M_LON, P[1] + north * M_LAT];
const TARGET = at(1500, 800);
const api = (m, p, body, token) => apiAt(BASE, m, p, body, token);
const now = Math.floor(Date.now() / 60000) * 60000;

const admin = (await api("POST", "/api/v1/auth/login", { username: "admin", password: "demo" })).data.token;
const supervisor = (await api("POST", "/api/v1/auth/login", { username: "supervisor", password: "demo" })).data.token;
const vocabulary = (await api("GET", "/api/v1/vocabulary")).data;
const label = labeller(vocabulary);

// two agencies of 海州区, a unit each, and a campaign the plan joins
const stations = (await api("GET", "/api/v1/stations?limit=500", null, admin)).data.items;
const station = stations.find((s) => s.division_code.startsWith("320706"));
const units = {};
for (const kind of ["police", "civil_affairs"]) {
  const a = await api("POST", "/api/v1/agencies", { name: "联巡" + label("agency_kinds", kind), kind, division_code: "320706" }, admin);
  assert(a.status === 201, "POST /api/v1/agencies: " + a.status);
  const u = await api("POST", "/api/v1/units", { name: "联巡" + label("agency_kinds", kind) + "一组", station_id: station.id, agency_id: a.data.id }, admin);
  assert(u.status === 201, "POST /api/v1/units: " + u.status);
  units[kind] = u.data;
}
const day = (ms) => new Date(ms).toISOString().slice(0, 10);
const campaign = await api("POST", "/api/v1/campaigns", { name: "寒冬送温暖联合巡查", division_code: "320700",
  starts_on: day(now - 3 * 86400000), ends_on: day(now + 30 * 86400000) }, supervisor);
assert(campaign.status === 201, "POST /api/v1/campaigns: " + campaign.status + " " + JSON.stringify(campaign.data));

fs.mkdirSync(OUT, { recursive: true });
const userDir = fs.mkdtempSync("/tmp/patrold-e2e-patrols-");
const browser = await chromium.launchPersistentContext(userDir, { ...CHROMIUM, viewport: { width: 1366, height: 900 }, locale: "zh-CN" });
const page = browser.pages()[0] || await browser.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(e.message));
// the one refusal provoked below is the browser's "Failed to load resource" (a 400): counted apart
const refused = [];
page.on("response", (r) => { if (r.status() >= 400) refused.push(r.status() + " " + r.request().method() + " " + new URL(r.url()).pathname); });
page.on("console", (m) => { if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });
if (process.env.E2E_DEBUG) page.on("console", (m) => console.log("console:", m.type(), m.text().slice(0, 400)));

function mercator([lon, lat]) {
  const r = 6378137;
  return [r * lon * Math.PI / 180, r * Math.log(Math.tan(Math.PI / 4 + lat * Math.PI / 360))];
}
// <input type=datetime-local> of a time, in the browser's (and this process's) zone
const local = (ms) => {
  const d = new Date(ms), p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};
const targetInput = (name) => `#pp-editor .pp-target [data-t="${name}"]`;

let planId = null, targetId = null;

await step("a supervisor opens 巡查计划 from the tab bar: the week view and the map", async () => {
  await signIn(page, BASE, "supervisor");
  assert(await page.textContent('#tabs [data-page="patrols"]') === label("audit_entities", "patrol_plan"), "no 巡查计划 tab");
  assert(await page.textContent('#tabs [data-page="campaigns"]') === label("audit_entities", "campaign"), "no campaign tab");
  await page.click('#tabs [data-page="patrols"]');
  await waitFor(page, () => window.__patrols && window.__patrols.loaded >= 1, null, 15000, "the week's ledger read");
  const legend = await page.textContent("#pp-legend");
  for (const c of ["complete", "partial", "missed"]) assert(legend.includes(label("walked_statuses", c)), "the legend lacks " + c);
});

await step("the editor: one-off window, units of two agencies ticked, a target point clicked on the map", async () => {
  await page.click("#pp-new");
  await page.waitForSelector("#pp-editor:not([hidden]) form");
  await page.fill("#pp-editor input[name=name]", "海州区夜间联合巡查");
  await page.selectOption("#pp-editor select[name=campaign_id]", String(campaign.data.id));
  await page.selectOption("#pp-editor select[name=mode]", "once");
  await page.fill("#pp-editor input[name=once_from]", local(now - 60 * 60000));
  await page.fill("#pp-editor input[name=once_to]", local(now + 60 * 60000));
  for (const u of Object.values(units)) await page.check(`#pp-editor [data-field="unit_ids"] input[value="${u.id}"]`);
  const units_text = await page.textContent('#pp-editor [data-field="unit_ids"]');
  for (const k of ["police", "civil_affairs"]) assert(units_text.includes(label("agency_kinds", k)), "units not shown with their agency " + k);
  await page.click("#pp-add-point");
  await page.evaluate(([c]) => { const v = window.__patrols.map.getView(); v.setCenter(c); v.setZoom(16); }, [mercator(TARGET)]);
  await sleep(300);
  const box = await page.locator("#pp-map").boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForSelector(targetInput("radius_m"));
  await page.fill(targetInput("name"), "桥下");
  await page.fill(targetInput("radius_m"), "100");
  await page.fill(targetInput("visits_per_week"), "1");
  for (const k of ["police", "civil_affairs"]) await page.check(`#pp-editor .pp-target [data-field="agencies"] input[value="${k}"]`);
});

await step("a dwell of 0 is refused in Chinese at its target, naming the field, and creates nothing", async () => {
  await page.fill(targetInput("min_dwell_min"), "0");
  await page.click("#pp-editor button[type=submit]");
  await page.waitForSelector('#pp-editor .field-error[data-for="targets"]', { timeout: 5000 });
  const text = await page.textContent('#pp-editor .field-error[data-for="targets"]');
  assert(text.includes("目标") && text.includes("最短停留") && !/[A-Za-z]{4}/.test(text), "the refusal reads " + JSON.stringify(text));
  const plans = await api("GET", "/api/v1/patrol-plans", null, supervisor);
  assert(plans.data.items.length === 0, "a refused plan was stored");
});

await step("the joint plan is created: both units, the point's circle, both agencies required, the campaign", async () => {
  await page.fill(targetInput("min_dwell_min"), "10");
  await page.click("#pp-editor button[type=submit]");
  await waitFor(page, () => window.__patrols.created, null, 10000, "the plan created").catch(async (e) => {
    throw new Error(e.message + ": " + await page.textContent("#pp-editor"));
  });
  planId = await page.evaluate(() => window.__patrols.created);
  const plan = (await api("GET", "/api/v1/patrol-plans/" + planId, null, supervisor)).data;
  assert(JSON.stringify(plan.unit_ids.sort()) === JSON.stringify(Object.values(units).map((u) => u.id).sort()), "units " + plan.unit_ids);
  assert(plan.campaign_id === campaign.data.id, "campaign " + plan.campaign_id);
  assert(plan.windows.length === 1 && Math.abs(Date.parse(plan.windows[0].starts_at) - (now - 3600000)) < 1000, "window " + JSON.stringify(plan.windows));
  const t = plan.targets[0];
  assert(plan.targets.length === 1 && t.radius_m === 100 && t.min_dwell_min === 10 && t.visits_per_week === 1, "target " + JSON.stringify(t));
  assert(Math.abs(t.center.lon - TARGET[0]) < 1e-4 && Math.abs(t.center.lat - TARGET[1]) < 1e-4, "the clicked point " + JSON.stringify(t.center));
  assert(t.agencies.sort().join() === "civil_affairs,police", "agencies " + t.agencies);
  targetId = t.id;
  await waitFor(page, (id) => window.__patrols.states && window.__patrols.states[id] === "missed", targetId, 10000, "the target on the ledger layer, missed");
  const row = await page.textContent(`#pp-week-view tr[data-plan="${planId}"]`);
  assert(row.includes("海州区夜间联合巡查") && row.includes("联巡" + label("agency_kinds", "police")), "the week view's row: " + row);
});

await step("the window started unvisited: an overdue alert names the plan", async () => {
  await waitFor(page, () => document.getElementById("pp-alerts").textContent.includes("海州区夜间联合巡查"), null, 75000, "the overdue alert");
  assert((await page.evaluate(() => window.__console.alerts.last)).why === "patrol.overdue", "the overdue window did not sound");
  assert((await page.textContent("#pp-alerts")).includes(label("event_kinds", "patrol.overdue")), "the alert lacks the event's label");
});

await step("the units' tracks arrive: the scorer scores them and the layer turns the target met by itself", async () => {
  const enter = now - 40 * 60000;
  for (const [k, u] of Object.values(units).entries()) {
    const pts = [[enter - 300000, ...at(1100, 800 + 3 * k)]];
    for (let s = 0; s <= 12 * 60; s += 30) pts.push([enter + s * 1000, ...at(1470 + 60 * s / 720, 800 + 3 * k)]);
    pts.push([enter + 12 * 60000 + 300000, ...at(1900, 800 + 3 * k)]);
    const r = await api("POST", `/api/v1/units/${u.id}/positions`,
      { positions: pts.map(([t, lon, lat]) => ({ location: { lon, lat }, at: new Date(t).toISOString() })) }, admin);
    assert(r.status === 200, "positions: " + r.status + " " + JSON.stringify(r.data));
  }
  await waitFor(page, (id) => window.__patrols.states[id] === "met", targetId, 75000, "the target met on the layer");
  // nothing but the live event read the ledger again (no reload, no tab change)
  assert(await page.evaluate((id) => window.__console.eventLog.some((e) => e.kind === "patrol.visit"), planId), "no patrol.visit event came");
  const ledger = (await api("GET", "/api/v1/patrol-ledger", null, supervisor)).data;
  const t = ledger.plans.find((p) => p.id === planId).targets[0];
  assert(t.met && t.visits.length === 1, "the API's ledger: " + JSON.stringify(t));
});

await step("a click on the target lists its visit: dwell and both agencies", async () => {
  await page.evaluate(([c]) => { const v = window.__patrols.map.getView(); v.setCenter(c); v.setZoom(16); }, [mercator(TARGET)]);
  await sleep(400);
  const box = await page.locator("#pp-map").boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForSelector("#pp-visits:not([hidden]) table", { timeout: 5000 });
  const text = await page.textContent("#pp-visits");
  for (const k of ["police", "civil_affairs"]) assert(text.includes(label("agency_kinds", k)), "the visit lacks " + k + ": " + text);
  assert(text.includes(label("walked_statuses", "complete")), "the state is not 'complete': " + text);
  assert(await page.getAttribute("#pp-target-state", "data-state") === "met", "the state attribute");
});

await step("the campaign page shows the figures of the API's summary, per county and in total", async () => {
  await page.click('#tabs [data-page="campaigns"]');
  await page.click(`#cp-list button[data-id="${campaign.data.id}"]`);
  await waitFor(page, () => window.__patrols.summary && document.querySelector("#cp-summary table"), null, 10000, "the summary");
  const s = (await api("GET", `/api/v1/campaigns/${campaign.data.id}/summary`, null, supervisor)).data;
  assert(s.total.patrols >= 1, "the API counts no patrol: " + JSON.stringify(s.total));
  const shown = await page.$$eval("#cp-summary tbody tr", (rows) => rows.map((r) => [r.dataset.county,
    Object.fromEntries([...r.querySelectorAll("td")].map((td) => [td.dataset.k, td.textContent]))]));
  const want = [...s.counties.map((c) => [c.county_code, c]), ["total", s.total]];
  assert(shown.length === want.length, `${shown.length} rows, the API has ${want.length}`);
  for (const [i, [key, fig]] of want.entries()) {
    assert(shown[i][0] === key, "row " + i + " is " + shown[i][0]);
    for (const k of ["patrols", "staff_turns", "places_visited", "hours", "km", "people_found"])
      assert(shown[i][1][k] === String(fig[k]), `${key} ${k}: page ${shown[i][1][k]}, API ${fig[k]}`);
  }
  const heads = await page.textContent("#cp-summary thead");
  for (const w of ["patrols", "staff_turns", "places_visited", "hours", "km"]) assert(heads.includes(label("stats_terms", w)), "no column " + w);
});

await step("the plan edited from the week view: renamed, its window and target kept", async () => {
  await page.click('#tabs [data-page="patrols"]');
  await page.click(`#pp-week-view button[data-plan="${planId}"]`);
  await page.waitForSelector("#pp-editor:not([hidden]) form");
  assert(await page.inputValue("#pp-editor select[name=mode]") === "once", "the editor shows the plan's one-off window");
  assert(await page.inputValue("#pp-editor input[name=once_from]") === local(now - 3600000), "the window's start is not shown");
  await page.fill("#pp-editor input[name=name]", "海州区夜间联合巡查（调整）");
  await page.click("#pp-editor button[type=submit]");
  await waitFor(page, () => document.querySelector("#pp-editor").hidden, null, 10000, "the edit saved").catch(async (e) => {
    throw new Error(e.message + ": " + await page.textContent("#pp-editor .msg"));
  });
  const plan = (await api("GET", "/api/v1/patrol-plans/" + planId, null, supervisor)).data;
  assert(plan.name === "海州区夜间联合巡查（调整）", "name " + plan.name);
  assert(plan.targets.length === 1 && plan.targets[0].id === targetId, "the target was not kept: " + JSON.stringify(plan.targets.map((t) => t.id)));
  assert(plan.windows.length === 1 && plan.unit_ids.length === 2 && plan.campaign_id === campaign.data.id, "the plan changed beyond its name");
  await waitFor(page, (id) => document.querySelector(`#pp-week-view tr[data-plan="${id}"]`).textContent.includes("（调整）"), planId, 5000, "the week view renamed");
});

await step("a weekly plan with a polygon drawn on the map at night and a division picked: stored as drawn, its windows in the week view", async () => {
  const SQUARE = at(-3000, -2000);
  await page.click("#pp-new");
  await page.waitForSelector("#pp-editor:not([hidden]) form");
  await page.fill("#pp-editor input[name=name]", "站前广场每周夜巡");
  assert(await page.inputValue("#pp-editor select[name=mode]") === "weekly", "a new plan is not weekly");
  await page.fill("#pp-editor input[name=weekly_from]", "20:00");
  await page.fill("#pp-editor input[name=weekly_to]", "22:00");
  await page.check(`#pp-editor [data-field="unit_ids"] input[value="${units.police.id}"]`);
  await page.click("#pp-add-polygon");
  await page.evaluate(([c]) => { const v = window.__patrols.map.getView(); v.setCenter(c); v.setZoom(16); }, [mercator(SQUARE)]);
  await sleep(300);
  const box = await page.locator("#pp-map").boundingBox();
  const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
  for (const [dx, dy] of [[-60, -50], [60, -50], [60, 50], [-60, 50], [-60, -50]]) {
    await page.mouse.click(cx + dx, cy + dy);
    await sleep(120);
  }
  await page.waitForSelector(targetInput("time_window"));
  await page.selectOption(targetInput("time_window"), "night");
  // a second target: a division, picked from the supervisor's city down to 海州区
  await page.click("#pp-add-division");
  const pick = '#pp-editor .pp-target[data-index="1"] select[data-parent="320700000000"]';
  await page.waitForSelector(pick + ' option[value="320706000000"]', { state: "attached" });
  await page.selectOption(pick, "320706000000");
  await page.click("#pp-editor button[type=submit]");
  await waitFor(page, () => document.querySelector("#pp-editor").hidden, null, 10000, "the plan saved").catch(async (e) => {
    throw new Error(e.message + ": " + await page.textContent("#pp-editor .msg"));
  });
  const id = await page.evaluate(() => window.__patrols.created);
  const plan = (await api("GET", "/api/v1/patrol-plans/" + id, null, supervisor)).data;
  assert(plan.weekly && plan.weekly.days.length === 7 && plan.weekly.from === "20:00" && plan.weekly.to === "22:00", "weekly " + JSON.stringify(plan.weekly));
  assert(plan.targets.length === 2 && plan.targets[1].division_code === "320706000000", "the division target: " + JSON.stringify(plan.targets[1]).slice(0, 200));
  const t = plan.targets[0];
  assert(t.center === null && t.division_code === null && /Polygon$/.test(t.geometry.type), "not a drawn polygon: " + JSON.stringify(t).slice(0, 200));
  // 120 × 100 px at zoom 16 (2.39 m/px on the map, 1.97 m on the ground at 34.6°N): some 46,400 m²
  assert(Math.abs(t.area_m2 - 46400) < 4000, "area " + t.area_m2);
  assert(JSON.stringify(t.time_window) === JSON.stringify({ from: "20:00", to: "06:00" }), "time window " + JSON.stringify(t.time_window));
  // the plan starts today: its windows this week are those of the days left (the ledger's)
  const windows = (await api("GET", "/api/v1/patrol-ledger", null, supervisor)).data.plans.find((p) => p.id === id).windows;
  assert(windows.length >= 1 && windows.length <= 7, "the ledger's windows: " + windows.length);
  await waitFor(page, ([pid, n]) => { const r = document.querySelector(`#pp-week-view tr[data-plan="${pid}"]`);
    return r && r.querySelectorAll(".pp-window").length === n && [...r.querySelectorAll(".pp-window")].every((w) => w.textContent.startsWith("20:00–22:00")); },
  [id, windows.length], 5000, windows.length + " windows 20:00–22:00 in the week view");
});

await step("nothing logged as an error in the browser", async () => {
  assert(pageErrors.length === 0, pageErrors.join(" | ").slice(0, 400));
  assert(refused.length === 1 && refused[0] === "400 POST /api/v1/patrol-plans", "refusals met: " + refused.join(", "));
});

await browser.close();
fs.rmSync(userDir, { recursive: true, force: true });
finish();
