// pages.js - the console's pages, shown one at a time by a tab bar (no URL routes; the open page
// is kept in location.hash so a reload stays on it). The dispatch map is the first page; the
// administration, patrol-plan and statistics pages register beside it with registerPage.
import { $, el } from "../shared/dom.js";

const pages = [];
let current = null;
const wanted = location.hash.slice(1); // the page open before a reload

// page: {id, label (text, or a function of ctx: a vocabulary label), minRole (a role code; the user's role must rank at least as high in the
// vocabulary's roles; null: everyone), mount(element, ctx) (once, on first show), show(), hide()}.
// Its element is #page-<id> when index.html has one, else a new <section> in #pages.
export function registerPage(page) {
  pages.push(page);
}

// A page whose module arrives later (a chunk few users need): row {id, label, minRole, load (the
// dynamic import), name (the module's page export), pageClass?, bodyClass? (on body while shown)}.
// show() waits for mount(); a failed load says so on the page.
export function lazyPage(row) {
  let ready = null;
  return {
    id: row.id,
    label: row.label,
    minRole: row.minRole,
    mount(element, ctx) {
      if (row.pageClass) element.classList.add(row.pageClass);
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
      if (row.bodyClass) document.body.classList.add(row.bodyClass);
      if (ready) ready.then((p) => p.show && p.show(), () => {});
    },
    hide() {
      if (row.bodyClass) document.body.classList.remove(row.bodyClass);
      if (ready) ready.then((p) => p.hide && p.hide(), () => {});
    },
  };
}

function allowed(ctx, page) {
  if (!page.minRole) return true;
  const role = ctx.state.user && ctx.state.user.role;
  return ctx.vocab.rank("roles", role) >= ctx.vocab.rank("roles", page.minRole);
}

function element(page) {
  let e = $("page-" + page.id);
  if (!e) $("pages").append((e = el("section", { id: "page-" + page.id, class: "page", hidden: "" })));
  return e;
}

export function showPage(ctx, id) {
  const page = pages.find((p) => p.id === id && allowed(ctx, p)) || pages.find((p) => allowed(ctx, p));
  if (!page || page === current) return;
  if (current) {
    element(current).hidden = true;
    if (current.hide) current.hide();
  }
  const e = element(page);
  if (!page.mounted) {
    page.mount(e, ctx);
    page.mounted = true;
  }
  e.hidden = false;
  current = page;
  if (page.show) page.show();
  history.replaceState(null, "", "#" + page.id);
  for (const b of document.querySelectorAll("#tabs [role=tab]")) b.setAttribute("aria-selected", String(b.dataset.page === page.id));
}

// Draws the tab bar for the signed-in user (hidden when only one page is open to it) and shows
// the page named in location.hash, or the first.
export function startPages(ctx) {
  const mine = pages.filter((p) => allowed(ctx, p));
  const bar = $("tabs");
  bar.replaceChildren(...mine.map((p) => el("button", { type: "button", role: "tab", "data-page": p.id,
    onclick: () => showPage(ctx, p.id) }, typeof p.label === "function" ? p.label(ctx) : p.label)));
  bar.hidden = mine.length < 2;
  showPage(ctx, current && current.id !== mine[0].id ? current.id : wanted);
}
