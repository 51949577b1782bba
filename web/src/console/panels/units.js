// units.js - the patrol units of the loaded unit tiles (side panel): name, status, age of the last
// position (aged by the one timer loop).
import { $, el } from "../../shared/dom.js";
import { fmtAge } from "../../shared/format.js";
import { every } from "../../shared/timer.js";

// A unit's age now: the tile's age plus the time since the tile was read.
export const ageNow = (u) => (u.age_s == null ? null : u.age_s + (Date.now() - u.seen) / 1000);

function render(ctx) {
  const { state, vocab, styles } = ctx;
  const arr = [...state.units.values()].sort((a, b) => a.id - b.id);
  $("units").replaceChildren(...arr.map((u) => {
    const status = el("span", { class: "u-status" }, vocab.label("unit_statuses", u.status));
    status.style.color = styles.unitColor(u.status);
    return el("li", { "data-unit": u.id, "data-status": u.status },
      el("span", { class: "u-name" }, u.name), " ", status, " ", el("span", { class: "u-age" }, fmtAge(ageNow(u))));
  }));
}

export function mount(ctx) {
  ctx.bus.on("units", () => render(ctx));
  // which units the loaded tiles hold
  ctx.layers.units.getSource().on("tileloadend", (e) => {
    for (const f of e.tile.getFeatures())
      ctx.state.units.set(f.getId(), { id: f.getId(), name: f.get("name"), status: f.get("status"), age_s: f.get("age_s"), seen: Date.now() });
    render(ctx);
  });
  every(15, () => render(ctx));
}
