// search.js - place search in the header (names, codes, pinyin): results as you type, Enter flies
// to the first.
import { $, el } from "../../shared/dom.js";
import { flyTo } from "../layers.js";

// map zoom by division level rank (province, city, county, town, community)
const LEVEL_ZOOM = [7, 9, 11, 13, 15];

function go(ctx, p) {
  clearTimeout(ctx.searchTimer);
  $("search-results").hidden = true;
  if (!p.location) return;
  const rank = ctx.vocab.rank("levels", p.level);
  flyTo(ctx.map, p.location, rank < 0 ? 15 : LEVEL_ZOOM[Math.min(rank, LEVEL_ZOOM.length - 1)]);
  ctx.state.lastFly = p;
}

async function run(ctx) {
  const q = $("search").value.trim();
  const ul = $("search-results");
  if (!q) { ul.hidden = true; return null; }
  let items;
  try { items = (await ctx.api.get("/api/v1/places?q=" + encodeURIComponent(q) + "&limit=8")).items; } catch (e) {
    ul.replaceChildren(el("li", { class: "error" }, "地名搜索不可用：" + ctx.vocab.errorText(e) + "（/api/v1/places）"));
    ul.hidden = false;
    return null;
  }
  ul.replaceChildren(...items.map((p) => el("li", { tabindex: "0", onclick: () => go(ctx, p),
    onkeydown: (e) => { if (e.key === "Enter") go(ctx, p); } },
  p.name + " ", el("small", {}, (p.parent_chain || []).map((x) => x.name || x).join(" › ") + " " + (p.code || "")))));
  if (!items.length) ul.replaceChildren(el("li", {}, "无结果"));
  ul.hidden = false;
  return items[0] || null;
}

export function mount(ctx) {
  $("search").addEventListener("input", () => {
    clearTimeout(ctx.searchTimer);
    ctx.searchTimer = setTimeout(() => run(ctx), 200);
  });
  $("search-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    clearTimeout(ctx.searchTimer);
    const first = await run(ctx);
    if (first) go(ctx, first);
  });
}
