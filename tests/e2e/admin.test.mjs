// admin.test.mjs - the console's administration pages in Debian's chromium (playwright-core) against
// a real patrold (PATROLD_URL) on a fresh database: as the admin, a station placed on the map (its
// tier chosen), moved by dragging it, its coverage drawn and given back; a taken station code refused
// at its field; an agency, a unit with a member found by name and a shift on now, a user of that unit
// created with a one-time reset code; that user sets its password with the code and signs in; the
// admin changes its role and disables it, and reads every one of those actions in the audit trail. Each result is checked through the API as well;
// screenshots to E2E_OUT/admin-*.png.
import fs from "node:fs";
import path from "node:path";
import { chromium, CHROMIUM, step, finish, assert, api as apiAt, waitFor, labeller, sleep } from "./lib.mjs";

const BASE = process.env.PATROLD_URL;
const OUT = process.env.E2E_OUT || "build/e2e";
const api = (...a) => apiAt(BASE, ...a);
const HAIZHOU = [119.163509, 34.572274]; // inside 海州区 (and a town and community of it)
const COUNTY = "320706000000";
const STAMP = String(Date.now()).slice(-6);
const NAMES = { station: "测试救助点" + STAMP, code: "E2E" + STAMP, agency: "测试城管队" + STAMP,
  unit: "测试巡查队" + STAMP, user: "e2e_patrol_" + STAMP, password: "reset-pass-" + STAMP };

fs.mkdirSync(OUT, { recursive: true });
const shot = (page, name) => page.screenshot({ path: path.join(OUT, "admin-" + name + ".png") });

const admin = (await api("POST", "/api/v1/auth/login", { username: "admin", password: "demo" })).data.token;
const vocabulary = (await api("GET", "/api/v1/vocabulary")).data;
const label = labeller(vocabulary);
const found = {}; // ids made on the way

const userDir = fs.mkdtempSync("/tmp/patrold-e2e-chromium-");
const browser = await chromium.launchPersistentContext(userDir, { ...CHROMIUM, viewport: { width: 1366, height: 768 }, locale: "zh-CN" });
const page = browser.pages()[0] || await browser.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(e.message));
page.on("console", (m) => { if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });
if (process.env.E2E_DEBUG) page.on("console", (m) => console.log("console:", m.type(), m.text().slice(0, 400)));
page.setDefaultTimeout(10000);
// The API's refusals the pages met: only the one provoked below is expected. The dispatch map's
// tiles and event stream are left out (one in flight at a sign-out is rightly a 401).
const refused = [];
page.on("response", (r) => {
  const where = r.url().replace(BASE, "");
  if (r.status() >= 400 && !/^\/(tiles\/|api\/v1\/events)/.test(where)) refused.push(r.status() + " " + r.request().method() + " " + where);
});

async function signIn(username, password) {
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click("#login-form button[type=submit]");
  await waitFor(page, (u) => window.__console.ready && window.__console.user.username === u, username, 10000, "signed in as " + username);
}

async function signOut() {
  await page.click("#logout");
  await page.waitForSelector("#login", { state: "visible" });
}

const tab = (id) => page.click(`#tabs [data-page="${id}"]`);

// EPSG:3857 of a WGS-84 point (the map's projection).
function mercator([lon, lat]) {
  const r = 6378137;
  return [r * lon * Math.PI / 180, r * Math.log(Math.tan(Math.PI / 4 + lat * Math.PI / 360))];
}

// Clicks the stations map at a lon/lat (the view centred there first).
async function clickMapAt(lonlat, dx = 0) {
  await page.evaluate(([c]) => { const v = window.__admin.stations.map.getView(); v.setCenter(c); v.setZoom(14); }, [mercator(lonlat)]);
  await sleep(200);
  const box = await page.locator("#st-map").boundingBox();
  await page.mouse.click(box.x + box.width / 2 + dx, box.y + box.height / 2);
}

await step("administration tabs for the admin and a supervisor (no admin role to grant), not a dispatcher", async () => {
  await page.goto(BASE + "/");
  await signIn("dispatcher", "demo");
  assert(await page.isHidden("#tabs [data-page=stations]"), "a dispatcher sees the stations tab");
  await signOut();
  // a supervisor administers too, but grants no role above its own
  await signIn("supervisor", "demo");
  await tab("users");
  await page.click("#user-add");
  const roles = await page.$$eval("#user-new select[name=role] option", (os) => os.map((o) => o.value));
  assert(roles.includes("supervisor") && !roles.includes("admin"), "a supervisor may grant: " + roles.join());
  await signOut();
  await signIn("admin", "demo");
  await page.waitForSelector("#tabs [data-page=stations]");
  for (const id of ["stations", "teams", "users", "audit"]) assert(await page.isVisible(`#tabs [data-page=${id}]`), "no tab " + id);
});

await step("a station placed on the map with its tier, then moved by dragging it", async () => {
  await tab("stations");
  await waitFor(page, () => window.__admin.stations.loaded, null, 10000, "stations listed");
  await page.click("#st-place");
  await clickMapAt(HAIZHOU);
  await page.waitForSelector("#st-new form");
  // the tiers offered are the divisions around the point: 海州区 for the county tier
  await waitFor(page, () => document.querySelectorAll("#st-new select[name=tier] option:not([disabled])").length >= 3, null, 5000, "tiers offered");
  await page.fill("#st-new input[name=name]", NAMES.station);
  await page.fill("#st-new input[name=code]", NAMES.code);
  await page.selectOption("#st-new select[name=tier]", "county");
  await page.fill("#st-new input[name=phone]", "0518-12345678");
  await page.click("#st-new button[type=submit]");
  await waitFor(page, (n) => [...window.__admin.stations.stations.values()].some((s) => s.name === n), NAMES.station, 10000, "the station listed");
  const list = (await api("GET", "/api/v1/stations?limit=500&tier=county", null, admin)).data.items;
  const s = list.find((x) => x.name === NAMES.station);
  assert(s && s.code === NAMES.code && s.division_code === COUNTY, "the station as stored: " + JSON.stringify(s));
  assert(Math.abs(s.location.lon - HAIZHOU[0]) < 0.001 && Math.abs(s.location.lat - HAIZHOU[1]) < 0.001, "placed at " + JSON.stringify(s.location));
  found.station = s;
  assert((await page.textContent("#st-list")).includes(NAMES.station), "not in the list");
  // drag the selected station 80 px east
  await sleep(300);
  const at = await page.evaluate((id) => {
    const S = window.__admin.stations;
    return S.map.getPixelFromCoordinate(S.points.getFeatureById(id).getGeometry().getCoordinates());
  }, s.id);
  const box = await page.locator("#st-map").boundingBox();
  await page.mouse.move(box.x + at[0], box.y + at[1]);
  await page.mouse.down();
  for (let k = 1; k <= 8; k++) await page.mouse.move(box.x + at[0] + k * 10, box.y + at[1]);
  await page.mouse.up();
  let moved;
  for (let i = 0; i < 50 && !moved; i++) {
    await sleep(100);
    const now = (await api("GET", "/api/v1/stations/" + s.id, null, admin)).data;
    if (now.location.lon > s.location.lon + 0.001) moved = now;
  }
  assert(moved, "the station did not move east");
  assert(Math.abs(moved.location.lat - s.location.lat) < 0.0005, "moved north or south: " + JSON.stringify(moved.location));
  await page.waitForSelector("text=已移动");
  await shot(page, "stations");
});

await step("the station's coverage drawn on the map, then given back to its division", async () => {
  const id = found.station.id;
  await page.click("#st-cov-draw");
  const at = await page.evaluate((sid) => {
    const S = window.__admin.stations;
    return S.map.getPixelFromCoordinate(S.points.getFeatureById(sid).getGeometry().getCoordinates());
  }, id);
  const box = await page.locator("#st-map").boundingBox();
  const ring = [[-60, -50], [60, -50], [60, 50], [-60, 50], [-60, -50]];
  for (const [dx, dy] of ring) {
    await page.mouse.click(box.x + at[0] + dx, box.y + at[1] + dy);
    await sleep(120);
  }
  await page.click("#st-cov-save:not([disabled])");
  await page.waitForSelector("#st-coverage:has-text('自定范围')");
  const s = (await api("GET", "/api/v1/stations/" + id, null, admin)).data;
  assert(s.coverage_own && s.coverage && /Polygon$/.test(s.coverage.type), "coverage as stored: " + JSON.stringify(s.coverage));
  const outer = s.coverage.type === "Polygon" ? s.coverage.coordinates[0] : s.coverage.coordinates[0][0];
  const xs = outer.map((c) => c[0]), ys = outer.map((c) => c[1]);
  assert(Math.min(...xs) < s.location.lon && s.location.lon < Math.max(...xs) && Math.min(...ys) < s.location.lat &&
    s.location.lat < Math.max(...ys), "the drawn coverage is not around the station");
  await shot(page, "coverage");
  await page.click("#st-cov-reset");
  await page.waitForSelector("#st-coverage:has-text('沿用辖区边界')");
  const back = (await api("GET", "/api/v1/stations/" + id, null, admin)).data;
  assert(!back.coverage_own && back.coverage === null, "coverage not given back: " + JSON.stringify(back.coverage));
});

await step("a taken station code is refused at the code field", async () => {
  await page.click("#st-place");
  await clickMapAt(HAIZHOU, -120);
  await page.waitForSelector("#st-new form");
  await page.fill("#st-new input[name=name]", NAMES.station + "乙");
  await page.fill("#st-new input[name=code]", NAMES.code);
  await page.click("#st-new button[type=submit]");
  const err = await page.waitForSelector("#st-new .field-error[data-for=code]");
  const text = await err.textContent();
  assert(text.includes(label("error_codes", "station_code_taken")), "the field says: " + text);
  assert(await page.getAttribute("#st-new input[name=code]", "aria-invalid") === "true", "the code field is not marked");
  const code = await page.$("#st-new input[name=code]");
  assert(await err.evaluate((e, input) => e.closest(".field").contains(input), code), "the message is not at the code field");
  await shot(page, "station-code-taken");
  const n = (await api("GET", "/api/v1/stations?limit=500&tier=county", null, admin)).data.items.filter((x) => x.name.startsWith(NAMES.station)).length;
  assert(n === 1, n + " stations of that name");
  await page.click("#st-new button.secondary");
});

await step("an agency, then a unit with a member found by name and a shift on now", async () => {
  await tab("teams");
  await waitFor(page, () => window.__admin.teams.loaded, null, 10000, "teams loaded");
  await page.click("#agency-add");
  await page.fill("#agency-form input[name=name]", NAMES.agency);
  await page.selectOption("#agency-form select[name=kind]", "urban_management");
  await page.click("#agency-form button[type=submit]");
  await page.waitForSelector(`#agency-list >> text=${NAMES.agency}`);
  const ag = (await api("GET", "/api/v1/agencies?limit=500", null, admin)).data.items.find((a) => a.name === NAMES.agency);
  assert(ag && ag.kind === "urban_management", "agency as stored: " + JSON.stringify(ag));
  found.agency = ag;
  assert((await page.textContent("#agency-list")).includes(label("agency_kinds", "urban_management")), "the agency's kind label not shown");

  await page.click("#unit-add");
  await page.fill("#unit-edit input[name=name]", NAMES.unit);
  await page.fill("#unit-edit input[name=callsign]", "E-" + STAMP);
  await page.selectOption("#unit-edit select[name=station_id]", String(found.station.id));
  await page.selectOption("#unit-edit select[name=agency_id]", String(ag.id));
  await page.fill("#member-find", "commun");
  await page.click("#member-found button[data-username=community]");
  await page.waitForSelector("#unit-members li[data-id]");
  await page.click("#unit-edit form:not(.shift-form) button[type=submit]");
  await waitFor(page, (n) => window.__admin.teams.units.some((u) => u.name === n), NAMES.unit, 10000, "the unit listed");
  const unit = (await api("GET", "/api/v1/units?limit=500", null, admin)).data.items.find((u) => u.name === NAMES.unit);
  assert(unit && unit.station.id === found.station.id && unit.agency_id === ag.id, "unit as stored: " + JSON.stringify(unit));
  assert(unit.members.map((m) => m.username).join() === "community", "members: " + JSON.stringify(unit.members));
  found.unit = unit;

  // the roster: a shift from now, its member ticked
  await page.waitForSelector("#unit-edit .shift-form");
  await page.click("#unit-edit .shift-form button[type=submit]");
  await page.waitForSelector("#roster tr.on");
  await page.waitForSelector(`#on-shift li[data-unit="${unit.id}"]`);
  const shifts = (await api("GET", `/api/v1/units/${unit.id}/shifts`, null, admin)).data.items;
  assert(shifts.length === 1 && shifts[0].on_now && shifts[0].members.map((m) => m.username).join() === "community",
    "shifts as stored: " + JSON.stringify(shifts));
  found.shift = shifts[0];
  await shot(page, "teams");
});

await step("a user of the unit created with a one-time reset code", async () => {
  await tab("users");
  await waitFor(page, () => window.__admin.users.loaded, null, 10000, "users listed");
  await page.click("#user-add");
  await page.fill("#user-new input[name=username]", NAMES.user);
  await page.selectOption("#user-new select[name=role]", "patrol");
  await page.selectOption('#user-new select[data-parent="320700000000"]', COUNTY);
  await waitFor(page, (id) => [...document.querySelectorAll("#user-new select[name=unit_id] option")].some((o) => o.value === String(id)),
    found.unit.id, 5000, "the unit offered");
  await page.selectOption("#user-new select[name=unit_id]", String(found.unit.id));
  await page.selectOption("#user-new select[name=how]", "code");
  await page.click("#user-new button[type=submit]");
  const code = (await (await page.waitForSelector("#reset-code")).textContent()).trim();
  assert(code.length >= 6, "reset code shown: " + code);
  found.code = code;
  const u = (await api("GET", "/api/v1/users?q=" + NAMES.user, null, admin)).data.items[0];
  assert(u && u.role === "patrol" && u.division_code === COUNTY && u.unit_id === found.unit.id, "user as stored: " + JSON.stringify(u));
  found.user = u;
  await page.waitForSelector(`#users-table tr[data-username="${NAMES.user}"]`);
  await shot(page, "users");
});

await step("the user sets its password with the code and signs in, its unit known", async () => {
  await signOut();
  assert(!(await page.isVisible("#reset-code")) && await page.isHidden("#page-users table"), "the users page shows through the sign-in");
  await page.click("#reset-open");
  await page.fill("#reset-form input[name=username]", NAMES.user);
  await page.fill("#reset-form input[name=code]", found.code);
  await page.fill("#reset-form input[name=new_password]", NAMES.password);
  await page.fill("#reset-form input[name=again]", NAMES.password);
  await shot(page, "reset");
  await page.click("#reset-form button[type=submit]");
  await page.waitForSelector("#reset-done:has-text('密码已设置')");
  assert(await page.inputValue("#username") === NAMES.user, "the username not carried to the sign-in");
  await page.fill("#password", NAMES.password);
  await page.click("#login-form button[type=submit]");
  await waitFor(page, (u) => window.__console.user && window.__console.user.username === u, NAMES.user, 10000, "signed in as the new user");
  assert(await page.evaluate(() => window.__console.user.unit_id) === found.unit.id, "the session's unit_id");
  await page.waitForSelector("#tabs", { state: "hidden" }); // one page for a patrol user: no tab bar
  assert(await page.isHidden("#tabs [data-page=users]"), "a patrol user sees the users tab");
  const again = await api("POST", "/api/v1/auth/reset", { username: NAMES.user, code: found.code, new_password: "another-pass-1" });
  assert(again.status === 400 || again.status === 403 || again.status === 401, "the code worked twice: " + again.status);
});

await step("the admin changes the user's role, then disables it: its session ends", async () => {
  await signOut();
  await signIn("admin", "demo");
  await tab("users");
  await page.fill(".filters-form input[name=q]", NAMES.user);
  await page.click(".filters-form button[type=submit]");
  const row = `#users-table tr[data-username="${NAMES.user}"]`;
  await page.click(row + " button.b-edit");
  await page.selectOption("#user-edit select[name=role]", "community");
  await page.click("#user-edit button[type=submit]");
  await page.waitForSelector(`${row} >> text=${label("roles", "community")}`);
  const changed = (await api("GET", "/api/v1/users?q=" + NAMES.user, null, admin)).data.items[0];
  assert(changed.role === "community" && changed.unit_id === found.unit.id, "user after the change: " + JSON.stringify(changed));
  const token = (await api("POST", "/api/v1/auth/login", { username: NAMES.user, password: NAMES.password })).data.token;
  assert(token, "the user cannot sign in");
  await page.click(row + " button.b-disable");
  await page.click(row + " button.b-confirm");
  await page.waitForSelector(row + ".off");
  assert((await api("GET", "/api/v1/users?q=" + NAMES.user, null, admin)).data.items[0].disabled === true, "not disabled");
  assert((await api("GET", "/api/v1/auth/me", null, token)).status === 401, "its session still works");
});

await step("the audit trail shows each of those actions, filtered", async () => {
  await tab("audit");
  await waitFor(page, () => window.__admin.audit.loaded, null, 10000, "audit loaded");
  await page.selectOption("#page-audit select[name=kind]", "write");
  await page.fill("#page-audit input[name=user]", "admin");
  await page.click("#page-audit form button[type=submit]");
  const wanted = ["station.create", "station.update", "agency.create", "unit.create", "shift.create", "user.create",
    "user.reset_code", "user.update"];
  // (user.update twice: the role, then disabled)
  // the filtered list: every row a write (the unfiltered first page may still be on show a moment)
  await waitFor(page, ([w, kind]) => w.every((a) => document.querySelector(`#audit-table tr[data-action="${a}"]`)) &&
    [...document.querySelectorAll("#audit-table tbody tr")].every((r) => r.children[3].textContent === kind),
  [wanted, label("audit_kinds", "write")], 10000, "only writes, with rows of " + wanted.join(", "));
  const text = await page.textContent("#audit-table");
  for (const a of wanted) assert(text.includes(label("audit_actions", a)), "no label of " + a);
  for (const name of [NAMES.station, NAMES.agency, NAMES.unit, NAMES.user]) assert(text.includes(name), "no " + name);
  // the move: its location before and after
  const updates = await page.$$eval(`#audit-table tr[data-action="station.update"] td.what`, (tds) => tds.map((td) => td.textContent));
  const move = updates.find((t) => t.includes(found.station.location.lon.toFixed(6)));
  assert(move && move.includes("→"), "the move without before/after: " + updates.join(" | "));
  assert(updates.some((t) => t.includes("→") && !t.includes(found.station.location.lon.toFixed(6))), "the coverage changes: " + updates.join(" | "));
  assert(text.includes(label("roles", "patrol") + " → " + label("roles", "community")), "the role change without before/after");
  await shot(page, "audit");
  // the new user's own sign-ins: the reset and the login
  await page.click("#page-audit form button.secondary"); // clear
  await page.selectOption("#page-audit select[name=kind]", "sign_in");
  await page.fill("#page-audit input[name=user]", NAMES.user);
  await page.click("#page-audit form button[type=submit]");
  await waitFor(page, () => document.querySelector('#audit-table tr[data-action="auth.reset"]') &&
    document.querySelector('#audit-table tr[data-action="auth.login"]') &&
    !document.querySelector('#audit-table tr[data-action="station.create"]'), null, 10000, "the user's reset and sign-in");
});

await step("no page errors, no refusal but the provoked one", async () => {
  assert(!pageErrors.length, pageErrors.join(" | "));
  assert(refused.join() === "409 POST /api/v1/stations", "refused: " + refused.join(" | "));
});

await browser.close();
fs.rmSync(userDir, { recursive: true, force: true });
finish();
