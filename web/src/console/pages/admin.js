// admin.js - the administration pages of the console (stations, teams, users, audit) and the
// reset-code card of the sign-in overlay. The pages register here with their tab (shown to the
// roles the API lets administer: supervisors in their division, admins); their code is a chunk
// loaded when a page is first opened, so a dispatcher's console never downloads it.
import { $, el } from "../../shared/dom.js";
import { registerPage } from "../pages.js";
import "./admin.css";

// id, tab label, the module's loader and its page export. minRole: the API's (supervisor, admin).
const PAGES = [
  { id: "stations", label: "站点管理", load: () => import("./stations.js"), name: "stationsPage" },
  { id: "teams", label: "队伍与排班", load: () => import("./teams.js"), name: "teamsPage" },
  { id: "users", label: "用户管理", load: () => import("./users.js"), name: "usersPage" },
  { id: "audit", label: "操作审计", load: () => import("./audit.js"), name: "auditPage" },
];

// A page whose module arrives later: show() waits for mount(); a failed load says so on the page.
function lazy(row) {
  let ready = null;
  return {
    id: row.id,
    label: row.label,
    minRole: "supervisor",
    mount(element, ctx) {
      element.classList.add("admin-page");
      element.setAttribute("aria-busy", "true");
      ready = row.load().then((m) => {
        element.removeAttribute("aria-busy");
        m[row.name].mount(element, ctx);
        return m[row.name];
      }, (e) => {
        element.textContent = "页面加载失败，请刷新后重试";
        throw e;
      });
    },
    show() {
      document.body.classList.add("admin-open"); // the dispatch page's figures and search step aside
      if (ready) ready.then((p) => p.show && p.show(), () => {});
    },
    hide() {
      document.body.classList.remove("admin-open");
      if (ready) ready.then((p) => p.hide && p.hide(), () => {});
    },
  };
}

// Registers the pages (after the dispatch page) and adds to the sign-in the link to the reset-code
// card (reset.js, loaded when asked for).
export function mountAdmin(ctx) {
  for (const row of PAGES) registerPage(lazy(row));
  // signed out: nothing of an administration page shows through the sign-in overlay
  ctx.bus.on("signed-out", () => document.body.classList.add("signed-out"));
  ctx.bus.on("signed-in", () => document.body.classList.remove("signed-out"));
  const done = el("p", { id: "reset-done", class: "msg ok", role: "status" });
  const open = el("button", { type: "button", id: "reset-open", class: "link" }, "使用重置码设置密码");
  open.addEventListener("click", () => import("./reset.js").then((m) => m.openReset(ctx, done),
    () => { done.textContent = "无法加载，请刷新后重试"; }));
  $("login-form").append(open, done);
}
