// admin.js - the administration pages of the console (stations, teams, users, audit) and the
// reset-code card of the sign-in overlay. The pages register here with their tab (shown to the
// roles the API lets administer: supervisors in their division, admins); their code is a chunk
// loaded when a page is first opened, so a dispatcher's console never downloads it.
import { $, el } from "../../shared/dom.js";
import { lazyPage, registerPage } from "../pages.js";
import "./admin.css";

// id, tab label, the module's loader and its page export. minRole: the API's (supervisor, admin).
const PAGES = [
  { id: "stations", label: "站点管理", load: () => import("./stations.js"), name: "stationsPage" },
  { id: "teams", label: "队伍与排班", load: () => import("./teams.js"), name: "teamsPage" },
  { id: "users", label: "用户管理", load: () => import("./users.js"), name: "usersPage" },
  { id: "audit", label: "操作审计", load: () => import("./audit.js"), name: "auditPage" },
  // joint patrols: dispatchers read the week and the ledger, supervisors and admins edit (patrols.js)
  { id: "patrols", label: (c) => c.vocab.label("audit_entities", "patrol_plan"), load: () => import("./patrols.js"),
    name: "patrolsPage", minRole: "dispatcher" },
  { id: "campaigns", label: (c) => c.vocab.label("audit_entities", "campaign"), load: () => import("./patrols.js"),
    name: "campaignsPage", minRole: "dispatcher" },
];

// Registers the pages (after the dispatch page) and adds to the sign-in the link to the reset-code
// card (reset.js, loaded when asked for).
export function mountAdmin(ctx) {
  // the dispatch page's figures and search step aside while one is shown (admin-open)
  for (const row of PAGES)
    registerPage(lazyPage({ minRole: "supervisor", ...row, pageClass: "admin-page", bodyClass: "admin-open" }));
  // signed out: nothing of an administration page shows through the sign-in overlay
  ctx.bus.on("signed-out", () => document.body.classList.add("signed-out"));
  ctx.bus.on("signed-in", () => document.body.classList.remove("signed-out"));
  const done = el("p", { id: "reset-done", class: "msg ok", role: "status" });
  const open = el("button", { type: "button", id: "reset-open", class: "link" }, "使用重置码设置密码");
  open.addEventListener("click", () => import("./reset.js").then((m) => m.openReset(ctx, done),
    () => { done.textContent = "无法加载，请刷新后重试"; }));
  $("login-form").append(open, done);
}
