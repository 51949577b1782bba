// history.test.mjs - the console for a whole shift (issue 20), in Debian's chromium (playwright-core)
// against a real patrold (PATROLD_URL) on a fresh seeded database: the map opens on the user's
// division and the header names it; the legend shows every symbol; a closed report is found by its
// number (and by place, category, status and day) and opened; a unit's track is replayed (the
// marker at time t is the fix at time t); a report filed from a phone call is routed like any
// other; a searched place is marked; an admin is told that no base map is configured; a
// supervisor's units are grouped by county with decluttered labels; on a tablet and a phone the
// details of a tapped report are visible without scrolling; no 404 and no page error. Screenshots
// at 1366x768, 768x1024 and 390x844 to E2E_OUT and E2E_SHOTS (default /work/notes/shots).
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { chromium, CHROMIUM, step, finish, assert, api as apiAt, waitFor, signIn, labeller, sleep } from "./lib.mjs";

const BASE = process.env.PATROLD_URL;
const OUT = process.env.E2E_OUT || "build/e2e";
const SHOTS = process.env.E2E_SHOTS || "/work/notes/shots";
const api = (...a) => apiAt(BASE, ...a);
const HAIZHOU = [119.163509, 34.572274]; // inside 海州区
const COUNTY = "320706000000";

fs.mkdirSync(OUT, { recursive: true });
fs.mkdirSync(SHOTS, { recursive: true });
async function shot(page, name) {
  await page.screenshot({ path: path.join(OUT, "shift-" + name + ".png") });
  fs.copyFileSync(path.join(OUT, "shift-" + name + ".png"), path.join(SHOTS, "console-" + name + ".png"));
}

const login = async (u) => (await api("POST", "/api/v1/auth/login", { username: u, password: "demo" })).data.token;
const dispatcher = await login("dispatcher");
const vocabulary = (await api("GET", "/api/v1/vocabulary")).data;
const label = labeller(vocabulary);

async function newReport(jitter, extra) {
  const body = { client_id: randomUUID(), category: "lost_elderly", description: "历史查询测试",
    location: { lon: HAIZHOU[0] + jitter, lat: HAIZHOU[1] + jitter / 2 }, observed_at: new Date().toISOString(), ...extra };
  const r = await api("POST", "/api/v1/reports", body, dispatcher);
  assert(r.status === 201, "POST /api/v1/reports: " + r.status + " " + JSON.stringify(r.data));
  return r.data;
}
async function event(id, body) {
  const r = await api("POST", `/api/v1/reports/${id}/events`, body, dispatcher);
  assert(r.status === 200, `event ${body.type} on ${id}: ${r.status}`);
}

// A closed report (resolved) and an open one, both in 海州区.
const closed = await newReport(0.001, { category: "minor" });
await event(closed.id, { type: "acknowledge" });
const cand = (await api("GET", `/api/v1/reports/${closed.id}/candidates`, null, dispatcher)).data.items;
await event(closed.id, { type: "dispatch", unit_id: cand[0].unit_id });
await event(closed.id, { type: "arrive" });
await event(closed.id, { type: "resolve", outcome: "escorted_home" });
const open = await newReport(0.002, { category: "minor" });

// A unit of 海州区 with five fixes (whole seconds) going east from its seeded position at a walk,
// ending 5 minutes before both now and that position's time (which is when the template database
// was seeded: a fix near it in time but far in space would be flagged as an impossible jump).
const unit = (await api("GET", "/api/v1/units?division=" + COUNTY + "&limit=50", null, dispatcher)).data.items[0];
const start = unit.position || { lon: HAIZHOU[0], lat: HAIZHOU[1] };
const end = Math.floor(Math.min(Date.now(), unit.position_at ? Date.parse(unit.position_at) : Infinity) / 1000) * 1000 - 5 * 60e3;
const FIXES = [35, 25, 15, 5, 0].map((m, i) => ({ at: new Date(end - m * 60e3).toISOString(),
  lon: +(start.lon + 0.004 * i).toFixed(6), lat: +(start.lat + 0.001 * i).toFixed(6) }));
{
  const r = await api("POST", `/api/v1/units/${unit.id}/positions`, { positions: FIXES.map((f) => ({
    location: { lon: f.lon, lat: f.lat }, at: f.at, speed_mps: 1.5 })) }, dispatcher);
  assert(r.status === 200 || r.status === 201 || r.status === 202, "POST positions: " + r.status + " " + JSON.stringify(r.data));
}

const userDir = fs.mkdtempSync("/tmp/patrold-e2e-shift-");
const browser = await chromium.launchPersistentContext(userDir, { ...CHROMIUM, viewport: { width: 1366, height: 768 }, locale: "zh-CN" });
const page = browser.pages()[0] || await browser.newPage();
page.setDefaultTimeout(10000);
const pageErrors = [], missing = [], sent = [];
page.on("pageerror", (e) => pageErrors.push(e.message));
page.on("console", (m) => { if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });
page.on("response", (r) => { if (r.status() === 404) missing.push(r.url().replace(BASE, "")); });
page.on("request", (r) => { if (r.method() === "POST" && r.url().endsWith("/api/v1/reports")) sent.push(JSON.parse(r.postData() || "{}")); });

const signInAs = (username) => signIn(page, BASE, username);
async function signOut() {
  await page.click("#logout");
  await page.waitForSelector("#login", { state: "visible" });
  await page.evaluate(() => sessionStorage.clear());
}
const openTool = async (id) => {
  if (!(await page.$eval("#" + id, (d) => d.open))) await page.click(`#${id} > summary`);
};
// EPSG:3857 of a WGS-84 point (the map's projection).
function mercator([lon, lat]) {
  const r = 6378137;
  return [r * lon * Math.PI / 180, r * Math.log(Math.tan(Math.PI / 4 + lat * Math.PI / 360))];
}

await step("opens on the user's division (海州区's extent, not the city) and the header names it", async () => {
  await signInAs("dispatcher");
  await waitFor(page, () => window.__console.homed, null, 5000, "the map fitted to the user's division");
  const who = await page.textContent("#who");
  assert(who.includes("海州区") && !who.includes(COUNTY), "the header says " + JSON.stringify(who));
  const d = (await api("GET", "/api/v1/divisions/" + COUNTY + "?geometry=geojson", null, dispatcher)).data;
  const pts = JSON.stringify(d.geometry).match(/-?\d+\.\d+,-?\d+\.\d+/g).map((p) => p.split(",").map(Number));
  const lon = pts.map((p) => p[0]), lat = pts.map((p) => p[1]);
  const [x0, y0] = mercator([Math.min(...lon), Math.min(...lat)]), [x1, y1] = mercator([Math.max(...lon), Math.max(...lat)]);
  const ext = await page.evaluate(() => window.__console.map.getView().calculateExtent());
  const w = ext[2] - ext[0], h = ext[3] - ext[1];
  const cx = (ext[0] + ext[2]) / 2, cy = (ext[1] + ext[3]) / 2;
  assert(cx > x0 && cx < x1 && cy > y0 && cy < y1, "the view's centre is outside 海州区");
  // the view holds the division and not much more (the whole city is ~5 times wider)
  assert(w >= (x1 - x0) * 0.99 || h >= (y1 - y0) * 0.99, "the division does not fit the view");
  assert(w < (x1 - x0) * 3 && h < (y1 - y0) * 3, `the view (${Math.round(w)} x ${Math.round(h)} m) is far wider than 海州区`);
});

await step("the legend shows every symbol: report statuses, stations, units by status, coverage by tier", async () => {
  const legend = await page.textContent("#legend");
  assert(await page.$("#legend [data-legend=station] canvas"), "no station symbol");
  for (const t of vocabulary.unit_statuses) {
    assert(await page.$(`#legend [data-unit-status="${t.code}"] canvas`), "no symbol for units " + t.code);
    assert(legend.includes(t.label), "legend lacks the unit status " + t.label);
  }
  for (const t of vocabulary.tiers) assert(legend.includes(t.label), "legend lacks the tier " + t.label);
  // each swatch is drawn (not a blank canvas)
  const blank = await page.$$eval("#legend canvas", (cs) => cs.filter((c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return false;
    return true;
  }).length);
  assert(blank === 0, blank + " blank legend swatches");
  await waitFor(page, () => window.__console.rendered > 0, null, 15000, "a complete render");
  await sleep(1000);
  await shot(page, "1366x768");
});

await step("a closed report is found by its number and opened in the details", async () => {
  await openTool("history-box");
  await page.fill("#history-form input[name=number]", String(closed.id));
  await page.click("#history-form button[type=submit]");
  await page.waitForSelector(`#history-list li[data-id="${closed.id}"]`);
  const n = await page.$$eval("#history-list li[data-id]", (ls) => ls.length);
  assert(n === 1, n + " hits for one number");
  const text = await page.textContent(`#history-list li[data-id="${closed.id}"]`);
  assert(text.includes(label("statuses", "resolved")), "the hit does not say resolved: " + text);
  await page.click(`#history-list li[data-id="${closed.id}"]`);
  await waitFor(page, (i) => document.getElementById("d-title").textContent.startsWith("#" + i + " "), closed.id, 5000, "the closed report's details");
  const title = await page.textContent("#d-title");
  assert(title.includes(label("statuses", "resolved")) && title.includes(label("categories", "minor")), "details title " + title);
});

await step("history by place, category, status and day: the closed report, not the open one", async () => {
  const today = new Date(Date.now() - new Date().getTimezoneOffset() * 60e3).toISOString().slice(0, 10);
  await page.fill("#history-form input[name=number]", "");
  await page.fill("#history-form input[name=place]", "海州区");
  await page.selectOption("#history-form select[name=category]", "minor");
  await page.selectOption("#history-form select[name=status]", "closed");
  await page.fill("#history-form input[name=from]", today);
  await page.fill("#history-form input[name=to]", today);
  const before = await page.evaluate(() => window.__console.history.done);
  await page.click("#history-form button[type=submit]");
  await waitFor(page, (b) => window.__console.history.done > b, before, 5000, "the search answered");
  const ids = await page.$$eval("#history-list li[data-id]", (ls) => ls.map((l) => Number(l.dataset.id)));
  assert(ids.includes(closed.id), "the closed report is not found: " + ids.join());
  assert(!ids.includes(open.id), "an open report among the closed ones");
  // the same filters through the API give the same reports
  const q = (await page.evaluate(() => String(window.__console.history.query)));
  const r = await api("GET", "/api/v1/reports?" + q, null, dispatcher);
  assert(JSON.stringify(r.data.items.map((x) => x.id)) === JSON.stringify(ids), "the page and the API disagree: " + q);
  assert(/within=3207/.test(q) && /open=false/.test(q) && /category=minor/.test(q) && /received_from=/.test(q), "query " + q);
  // a day before anything was filed: nothing
  await page.fill("#history-form input[name=from]", "2020-01-01");
  await page.fill("#history-form input[name=to]", "2020-01-02");
  await page.click("#history-form button[type=submit]");
  await waitFor(page, () => document.getElementById("history-list").textContent === "无结果", null, 5000, "no hit in 2020");
});

await step("a unit's track replayed: the marker at time t is the fix at time t", async () => {
  await openTool("replay-box");
  await waitFor(page, (u) => !!document.querySelector(`#replay-form select[name=unit] option[value="${u}"]`), unit.id, 10000, "the unit offered");
  await page.selectOption("#replay-form select[name=unit]", String(unit.id));
  // the period: from the minute before the first fix posted to a minute from now (local time)
  const local = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60e3).toISOString().slice(0, 16);
  await page.fill("#replay-form input[name=from]", local(Date.parse(FIXES[0].at) - 60e3));
  await page.fill("#replay-form input[name=to]", local(Date.parse(FIXES[4].at) + 60e3));
  await page.click("#replay-form button[type=submit]");
  await waitFor(page, () => window.__console.replay.loaded > 0, null, 5000, "the track loaded");
  // the fixes replayed are the track's (the API's, same period): the five posted among them
  const shown = await page.evaluate(() => window.__console.replay.fixes.map((f) => f.t));
  const period = await page.evaluate(() => [...new FormData(document.getElementById("replay-form"))].filter(([k]) => k !== "unit")
    .map(([k, v]) => k + "=" + encodeURIComponent(new Date(v).toISOString())).join("&"));
  const track = (await api("GET", `/api/v1/units/${unit.id}/track?${period}`, null, dispatcher)).data;
  const times = track.features.filter((f) => f.properties.kind === "stretch").flatMap((f) => f.properties.times.map(Date.parse)).sort();
  assert(JSON.stringify(shown) === JSON.stringify(times), `replayed ${shown.length} fixes, the track has ${times.length}`);
  for (const f of FIXES) assert(shown.includes(Date.parse(f.at)), "the fix of " + f.at + " is not replayed");
  const from = await page.evaluate(() => window.__console.replay.from);
  assert(from === times[0], "the replay starts at " + new Date(from).toISOString());
  const seek = (s) => page.$eval("#replay-slider", (e, v) => { e.value = String(v); e.dispatchEvent(new Event("input")); }, s);
  const at = () => page.evaluate(() => ({ fix: window.__console.replay.fix, xy: window.__console.replay.marker.getGeometry().getCoordinates(),
    label: document.getElementById("replay-time").textContent }));
  for (const [k, f] of FIXES.entries()) {
    // at the fix's own time, and half-way to the next one: the marker is on this fix
    for (const extra of [0, 60]) {
      await seek((Date.parse(f.at) - from) / 1000 + extra);
      const got = await at();
      assert(Date.parse(got.fix.at) === Date.parse(f.at), `at fix ${k} + ${extra} s the marker is on the fix of ${got.fix.at}`);
      const [x, y] = mercator([f.lon, f.lat]);
      assert(Math.hypot(got.xy[0] - x, got.xy[1] - y) < 0.5, `the marker at fix ${k} is ${Math.hypot(got.xy[0] - x, got.xy[1] - y)} m off`);
      assert(got.label.includes(new Date(f.at).toLocaleTimeString("zh-CN")), "the time shown: " + got.label);
    }
  }
  // play from the start: the marker moves through the fixes to the last
  await seek(0);
  await page.click("#replay-play");
  await waitFor(page, (t) => window.__console.replay.fix && Date.parse(window.__console.replay.fix.at) === t, Date.parse(FIXES[4].at), 20000, "played to the end");
  // the path is drawn through every fix (dashed across gaps), and a dot on each
  const drawn = await page.evaluate(() => window.__console.replay.features.map((f) => f.getGeometry())
    .map((g) => ({ type: g.getType(), n: g.getType() === "LineString" ? g.getCoordinates().length : 1 })));
  assert(drawn.some((g) => g.type === "LineString" && g.n === FIXES.length), "no path through the fixes: " + JSON.stringify(drawn));
  assert(drawn.filter((g) => g.type === "Point").length >= FIXES.length + 1, "a fix without its dot: " + JSON.stringify(drawn));
  // on the map the marker carries its fix's time
  const mapLabel = await page.evaluate(() => { const r = window.__console.replay; return r.marker.getStyle().getText().getText(); });
  assert(mapLabel === new Date(FIXES[4].at).toLocaleTimeString("zh-CN"), "the marker's label: " + mapLabel);
  // a unit's own button in the units panel replays its track too
  const loads = await page.evaluate(() => window.__console.replay.loaded);
  await page.click(`#units li[data-unit="${unit.id}"] .u-track`);
  await waitFor(page, (n) => window.__console.replay.loaded > n, loads, 5000, "the track loaded from the units panel");
  assert(await page.evaluate(() => window.__console.replay.unit) === unit.id, "another unit replayed");
  await seek((Date.parse(FIXES[2].at) - from) / 1000 + 30);
  await sleep(800);
  await shot(page, "replay-1366x768");
});

let phoneReport;
await step("a report filed from a 12345 call is routed like any other", async () => {
  await openTool("intake-box");
  await page.selectOption("#intake-form select[name=channel]", "12345");
  const offered = await page.$$eval("#intake-form select[name=channel] option", (os) => os.map((o) => [o.value, o.textContent]));
  assert(JSON.stringify(offered) === JSON.stringify(vocabulary.phone_channels.map((t) => [t.code, t.label])), "channels " + JSON.stringify(offered));
  await page.fill("#intake-form input[name=caller]", "王先生");
  await page.fill("#intake-form input[name=phone]", "13800001234");
  // the place by a click on the map
  await page.evaluate(([c]) => { const v = window.__console.map.getView(); v.setCenter(c); v.setZoom(15); }, [mercator(HAIZHOU)]);
  await sleep(300);
  await page.click("#intake-pick");
  const box = await page.locator("#map").boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await waitFor(page, () => !!window.__console.intake.location, null, 3000, "the place picked on the map");
  const loc = await page.evaluate(() => window.__console.intake.location);
  assert(Math.abs(loc.lon - HAIZHOU[0]) < 0.0005 && Math.abs(loc.lat - HAIZHOU[1]) < 0.0005, "picked " + JSON.stringify(loc));
  await page.selectOption("#intake-form select[name=category]", "lost_elderly");
  await page.selectOption("#intake-form select[name=sex]", "male");
  await page.fill("#intake-form input[name=age]", "78");
  await page.fill("#intake-form input[name=appearance]", "蓝色外套，拄拐杖");
  await page.click("#intake-form button[type=submit]");
  await waitFor(page, () => !!window.__console.intake.last, null, 5000, "the report filed (" + await page.textContent("#intake-msg") + ")");
  phoneReport = await page.evaluate(() => window.__console.intake.last);
  const body = sent[sent.length - 1];
  assert(body.source === "phone" && body.channel === "12345", "sent " + JSON.stringify(body));
  assert(body.contact && body.contact.phone === "13800001234", "call-back details not sent: " + JSON.stringify(body.contact));
  // the same place filed by the patrol app's way: the same tier and station
  const other = await newReport(0, { location: loc });
  const a = (await api("GET", "/api/v1/reports/" + phoneReport.id, null, dispatcher)).data;
  assert(a.responsible_station && other.responsible_station, "no responsible station");
  assert(a.responsible_station.id === other.responsible_station.id && a.tier === other.tier,
    `routed to ${JSON.stringify(a.responsible_station)} / ${a.tier}, a report from the app to ${JSON.stringify(other.responsible_station)} / ${other.tier}`);
  assert(a.person && a.person.appearance === "蓝色外套，拄拐杖" && a.person.approx_age === 78, "person " + JSON.stringify(a.person));
  const said = await page.textContent("#intake-msg");
  assert(said.includes(a.responsible_station.name), "the page does not name the station " + a.responsible_station.name + ": " + said);
  await waitFor(page, (i) => document.getElementById("d-title").textContent.startsWith("#" + i + " "), a.id, 5000, "the new report opened");
  assert(a.source === "phone" && a.channel === "12345", "recorded as " + a.source + " / " + a.channel);
});

await step("a 110 hand-over placed by a place-name search: filed at the place found", async () => {
  const before = await page.evaluate(() => window.__console.intake.last.id);
  await page.selectOption("#intake-form select[name=channel]", "110");
  await page.fill("#intake-place", "新浦");
  await page.press("#intake-place", "Enter");
  await page.waitForSelector("#intake-form .tool-list li[tabindex]");
  await page.click("#intake-form .tool-list li[tabindex]");
  await waitFor(page, () => !!window.__console.intake.location, null, 3000, "the place set from the search");
  const loc = await page.evaluate(() => window.__console.intake.location);
  const hit = (await api("GET", "/api/v1/places?q=" + encodeURIComponent("新浦") + "&limit=6", null, dispatcher)).data.items[0];
  assert(Math.abs(loc.lon - hit.location.lon) < 1e-6 && Math.abs(loc.lat - hit.location.lat) < 1e-6, `placed at ${JSON.stringify(loc)}, the hit is ${JSON.stringify(hit.location)}`);
  await page.click("#intake-form button[type=submit]");
  await waitFor(page, (b) => window.__console.intake.last.id !== b, before, 5000, "the second report filed");
  const body = sent[sent.length - 1];
  assert(body.channel === "110" && body.source === "phone", "sent " + JSON.stringify(body));
  const r = (await api("GET", "/api/v1/reports/" + (await page.evaluate(() => window.__console.intake.last.id)), null, dispatcher)).data;
  assert(Math.abs(r.location.lon - hit.location.lon) < 1e-5 && r.responsible_station, "filed as " + JSON.stringify(r.location));
});

await step("a searched place is flown to and marked on the map", async () => {
  await page.fill("#search", "新浦");
  await page.press("#search", "Enter");
  await waitFor(page, () => window.__console.lastFly, null, 4000, "a search hit flown to");
  const m = await page.evaluate(() => {
    const f = window.__console.placeMark, p = window.__console.lastFly;
    const layer = window.__console.map.getLayers().getArray().find((l) => l.get("name") === "marks");
    return { name: f && f.get("name"), want: p.name, on: !!layer && layer.getSource().getFeatures().includes(f),
      xy: f && f.getGeometry().getCoordinates(), at: [p.location.lon, p.location.lat] };
  });
  assert(m.on && m.name === m.want, "the place is not marked: " + JSON.stringify(m));
  const [x, y] = mercator(m.at);
  assert(Math.hypot(m.xy[0] - x, m.xy[1] - y) < 1, "the mark is not at the place");
});

await step("on a tablet (768x1024) and a phone (390x844) a tapped report's details show without scrolling", async () => {
  for (const [w, h] of [[768, 1024], [390, 844]]) {
    await page.setViewportSize({ width: w, height: h });
    await page.evaluate(() => { document.getElementById("detail").hidden = true; window.__console.reload(); });
    await page.waitForSelector(`#queue li[data-id="${open.id}"]`);
    await page.click(`#queue li[data-id="${open.id}"]`); // one tap
    await waitFor(page, (i) => document.getElementById("d-title").textContent.startsWith("#" + i + " "), open.id, 5000, "the details");
    await sleep(700);
    const v = await page.evaluate(() => {
      const r = (id) => document.getElementById(id).getBoundingClientRect();
      const fields = document.querySelector("#d-fields dd:nth-of-type(2)").getBoundingClientRect();
      return { title: r("d-title"), fields, map: r("map"), scroll: document.scrollingElement.scrollTop, page: r("page-dispatch").height };
    });
    assert(v.scroll === 0, "the page scrolled");
    for (const [k, b] of [["title", v.title], ["fields", v.fields]])
      assert(b.top >= 0 && b.bottom <= h && b.height > 0, `${w}x${h}: the details' ${k} at ${Math.round(b.top)}..${Math.round(b.bottom)}`);
    assert(v.map.width >= w - 2 && v.map.height > h * 0.3, `${w}x${h}: the map is ${Math.round(v.map.width)}x${Math.round(v.map.height)}`);
    // the report is centred where the map shows: below the legend, above the sheet
    const seen = await page.evaluate((xy) => {
      const m = window.__console.map, r = (id) => document.getElementById(id).getBoundingClientRect();
      const px = m.getPixelFromCoordinate(xy), box = r("map");
      return { y: box.top + px[1], x: box.left + px[0], legend: r("legend"), sheet: r("side") };
    }, mercator([open.location.lon, open.location.lat]));
    assert(seen.legend.height > 0 && seen.legend.top < h / 2, `${w}x${h}: the legend at ${Math.round(seen.legend.top)}`);
    assert(seen.y > seen.legend.bottom && seen.y < seen.sheet.top && seen.x > 0 && seen.x < w,
      `${w}x${h}: the report at (${Math.round(seen.x)}, ${Math.round(seen.y)}), the sheet from ${Math.round(seen.sheet.top)}`);
    await shot(page, w + "x" + h);
  }
  await page.setViewportSize({ width: 1366, height: 768 });
});

await step("an admin is told that no base map is configured; a dispatcher is not", async () => {
  assert(await page.isHidden("#basemap-note"), "the dispatcher is shown the base map note");
  await signOut();
  await signInAs("admin");
  await page.waitForSelector("#basemap-note", { state: "visible", timeout: 5000 });
  assert((await page.textContent("#basemap-note")).includes("basemap_url"), "the note does not say how to set one");
  await signOut();
});

await step("a supervisor's units are grouped by county; unit labels are decluttered", async () => {
  await signInAs("supervisor");
  await waitFor(page, () => document.querySelectorAll("#units .u-county").length >= 2 && !document.querySelector('#units .u-county[data-county=""]') && ![...document.querySelectorAll("#units .u-county h4")].some((h) => /^\d/.test(h.textContent)),
    null, 15000, "units grouped under two or more named counties");
  const groups = await page.$$eval("#units .u-county", (gs) => gs.map((g) => ({ code: g.dataset.county, name: g.querySelector("h4").textContent,
    units: [...g.querySelectorAll("li[data-unit]")].map((l) => Number(l.dataset.unit)) })));
  const all = [];
  for (let cursor = null, first = true; first || cursor; first = false) {
    const r = (await api("GET", "/api/v1/units?limit=500" + (cursor ? "&cursor=" + cursor : ""), null, await login("supervisor"))).data;
    all.push(...r.items);
    cursor = r.next;
  }
  const byId = new Map(all.map((u) => [u.id, u]));
  for (const g of groups) {
    const county = (await api("GET", "/api/v1/divisions/" + g.code, null, dispatcher)).data;
    assert(g.name.startsWith(county.name), `group ${g.code} is named ${g.name}, not ${county.name}`);
    for (const id of g.units) assert(byId.get(id).division_code.slice(0, 6) === g.code.slice(0, 6), `unit ${id} under ${g.name}`);
  }
  const declutter = await page.evaluate(() => window.__console.map.getLayers().getArray().find((l) => l.get("name") === "units").getDeclutter());
  assert(declutter, "the units layer does not declutter its labels");
  await page.evaluate(() => { const v = window.__console.map.getView(); v.setZoom(10); });
  await sleep(1500);
  await page.screenshot({ path: path.join(OUT, "shift-supervisor.png") });
});

// Over a GCJ-02 base map (a second server, E2E_GCJ_URL) our own tiles are asked in GCJ-02 too.
await step("over a GCJ-02 base map the console asks its own tiles with ?crs=gcj02", async () => {
  const GCJ = process.env.E2E_GCJ_URL;
  const gp = await browser.newPage();
  const tiles = [];
  gp.on("pageerror", (e) => pageErrors.push(e.message));
  gp.on("response", (r) => { if (r.url().startsWith(GCJ + "/tiles/")) tiles.push([r.url().slice(GCJ.length), r.status()]); });
  await gp.goto(GCJ + "/");
  await gp.fill("#username", "dispatcher");
  await gp.fill("#password", "demo");
  await gp.click("#login-form button[type=submit]");
  await waitFor(gp, () => window.__console.ready && window.__console.basemapCrs === "gcj02", null, 10000, "signed in over a gcj02 base map");
  await waitFor(gp, () => window.__console.rendered > 0, null, 15000, "a complete render");
  await sleep(1500);
  const ours = tiles.filter(([u]) => /^\/tiles\/(divisions|stations|coverage|reports|units)\//.test(u));
  const shifted = ours.filter(([u]) => /\?crs=gcj02$/.test(u));
  assert(shifted.length > 0, "no tile asked with ?crs=gcj02: " + ours.slice(0, 3).map((t) => t[0]).join(" "));
  assert(shifted.some(([u]) => u.startsWith("/tiles/reports/")) && shifted.some(([u]) => u.startsWith("/tiles/divisions/")), "layers without crs");
  assert(shifted.every(([, st]) => st === 200 || st === 204), "tiles refused: " + shifted.filter(([, st]) => st >= 400).slice(0, 3));
  assert(await gp.isHidden("#basemap-note"), "the no-base-map note over a configured base map");
  await gp.close();
});

await step("no 404 (favicon.ico included) and no page error", async () => {
  const fav = await fetch(BASE + "/favicon.ico");
  assert(fav.status === 200, "/favicon.ico: " + fav.status);
  assert(missing.length === 0, "404s: " + missing.slice(0, 5).join(" "));
  assert(pageErrors.length === 0, "page errors: " + pageErrors.slice(0, 3).join(" | "));
});

await browser.close();
fs.rmSync(userDir, { recursive: true, force: true });
finish();
