// tool.js - a tool of the side panel (history, track replay, phone intake): a <details> section
// opened with one tap, appended to #side; and the map layer of the console's own drawings (a
// searched place, a replayed track, a picked intake point), made once and shared.
import VectorLayer from "ol/layer/Vector.js";
import VectorSource from "ol/source/Vector.js";
import { $, el } from "../../shared/dom.js";

// A <details id=`id`> titled `title` holding `kids`, appended to #side; returns it.
export function toolBox(id, title, ...kids) {
  const box = el("details", { id, class: "tool" }, el("summary", {}, title), ...kids);
  $("side").append(box);
  return box;
}

// The vector layer of the console's own features (over every tile layer), made on first use.
export function marks(ctx) {
  if (!ctx.marks) {
    ctx.marks = new VectorLayer({ source: new VectorSource(), zIndex: 10, properties: { name: "marks" } });
    ctx.map.addLayer(ctx.marks);
  }
  return ctx.marks.getSource();
}

// A labelled form field: <label>text <control></label>.
export const field = (text, control) => el("label", { class: "tf" }, text, " ", control);

// A <select> of the vocabulary's list `list` (an empty first option `any` when given).
export function vocabSelect(ctx, list, attrs, any) {
  const opts = ctx.vocab.terms(list).map((t) => el("option", { value: t.code }, t.label));
  if (any) opts.unshift(el("option", { value: "" }, any));
  return el("select", attrs, ...opts);
}
