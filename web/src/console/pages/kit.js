// kit.js - what the administration pages (stations, teams, users, audit) share: labelled form
// fields and forms whose refusals are shown in Chinese with the field's own name, whole lists read
// through their cursor, division names and a division picker rooted at the signed-in user's
// division, the scope rule of division codes, times for <input type=datetime-local>, small tables.
import { el } from "../../shared/dom.js";
import { ApiError } from "../../shared/api.js";

let seq = 0;
// A fresh element id with a readable prefix.
export const uid = (prefix) => prefix + "-" + ++seq;

// ---- divisions ----

// The lengths of a division code's levels (province 2, city 4, county 6, town 9, community 12).
const LEVEL_DIGITS = [2, 4, 6, 9, 12];

// The significant prefix of a 12-digit code ("320706000000" -> "320706").
export function codePrefix(code) {
  for (const n of LEVEL_DIGITS) if (/^0*$/.test(code.slice(n))) return code.slice(0, n);
  return code;
}

// The codes from the province down to `code` itself (each once).
export function ancestors(code) {
  const out = [];
  for (const n of LEVEL_DIGITS) {
    const c = code.slice(0, n).padEnd(12, "0");
    if (!out.includes(c)) out.push(c);
    if (c === code) break;
  }
  return out;
}

// Whether two divisions are one inside the other (a unit and its agency or member).
export const nested = (a, b) => a.startsWith(codePrefix(b)) || b.startsWith(codePrefix(a));

// Whether the signed-in user administers division `code` (its own division or one inside it).
export function inScope(ctx, code) {
  return !!code && code.startsWith(codePrefix(ctx.state.user.division_code));
}

const names = new Map();
// The name of a division (asked once per code); the code itself when it cannot be read.
export function divisionName(ctx, code) {
  if (!code) return Promise.resolve("—");
  if (!names.has(code)) names.set(code, ctx.api.get("/api/v1/divisions/" + code).then((d) => d.name, () => code));
  return names.get(code);
}

// A text node that shows the division's name once known.
export function divisionText(ctx, code) {
  const t = document.createTextNode(code || "—");
  if (code) divisionName(ctx, code).then((n) => { t.data = n; });
  return t;
}

// A division picker: a select per level, from the signed-in user's division down, each level's
// divisions read when its parent is chosen. {label, value, onChange}. Returns {el, value(),
// set(code)}: value() is the deepest division chosen (the user's own when none).
export function divisionPicker(ctx, { label, value, onChange }) {
  const root = ctx.state.user.division_code;
  const box = el("fieldset", { class: "field divpick", "data-field": "division_code" }, el("legend", {}, label));
  const levels = []; // [{parent, select, wrap}]
  let chosen = root, token = 0;

  async function addLevel(parent, pick, mine) {
    let kids = [];
    try { kids = (await ctx.api.get("/api/v1/divisions/" + parent + "/children")).items; } catch (_) { /* none */ }
    if (mine !== token || !kids.length) return null;
    const id = uid("div");
    const select = el("select", { id, "data-parent": parent },
      el("option", { value: "" }, "（不限）"), ...kids.map((k) => el("option", { value: k.code }, k.name)));
    const wrap = el("span", { class: "lvl" }, el("label", { for: id }, ctx.vocab.label("levels", kids[0].level)), select);
    const entry = { parent, select, wrap };
    levels.push(entry);
    box.append(wrap);
    select.addEventListener("change", () => change(entry));
    if (pick && kids.some((k) => k.code === pick)) select.value = pick;
    return entry;
  }

  function change(entry) {
    const i = levels.indexOf(entry);
    for (const l of levels.splice(i + 1)) l.wrap.remove();
    chosen = entry.select.value || entry.parent;
    token++;
    if (entry.select.value) addLevel(entry.select.value, null, token);
    if (onChange) onChange(chosen);
  }

  async function set(code) {
    for (const l of levels.splice(0)) l.wrap.remove();
    const mine = ++token;
    const want = code && inScope(ctx, code) ? code : root;
    const chain = ancestors(want).filter((c) => c !== root && inScope(ctx, c));
    chosen = want;
    let parent = root;
    for (const c of [...chain, null]) {
      const entry = await addLevel(parent, c, mine);
      if (!entry || !c) break;
      parent = c;
    }
  }

  set(value);
  return { el: box, value: () => chosen, set };
}

// ---- forms ----

function setValue(input, v) {
  if (input.type === "checkbox") input.checked = !!v;
  else input.value = v == null ? "" : String(v);
}

function getValue(input) {
  if (input.type === "checkbox") return input.checked;
  if (input.type === "number") return input.value === "" ? null : Number(input.value);
  if (input.type === "password") return input.value;
  return input.value.trim();
}

// A labelled control. spec: {name, label, type ("text", "number", "password", "select",
// "checkbox", "datetime-local", "textarea", "search"), options: [[value, text, disabled]], value,
// required, min, max, step, maxlength, minlength, pattern, placeholder, help, autocomplete,
// disabled}. Returns {row, input}.
export function field(spec) {
  const id = uid("f-" + spec.name);
  let input;
  if (spec.type === "select") {
    input = el("select", { id, name: spec.name });
    setOptions(input, spec.options || []);
  } else if (spec.type === "textarea") {
    input = el("textarea", { id, name: spec.name, rows: spec.rows || 2, maxlength: spec.maxlength });
  } else {
    input = el("input", { id, name: spec.name, type: spec.type || "text", min: spec.min, max: spec.max,
      step: spec.step, maxlength: spec.maxlength, minlength: spec.minlength, pattern: spec.pattern,
      placeholder: spec.placeholder, autocomplete: spec.autocomplete || "off", inputmode: spec.inputmode });
  }
  input.required = !!spec.required;
  input.disabled = !!spec.disabled;
  setValue(input, spec.value);
  const help = spec.help ? el("small", { id: id + "-help", class: "help" }, spec.help) : null;
  if (help) input.setAttribute("aria-describedby", help.id);
  const row = spec.type === "checkbox"
    ? el("div", { class: "field check" }, input, el("label", { for: id }, spec.label), help)
    : el("div", { class: "field" }, el("label", { for: id }, spec.label), input, help);
  return { row, input };
}

// Replaces a select's options: [[value, text, disabled]]; keeps the value when still offered.
export function setOptions(select, options) {
  const was = select.value;
  select.replaceChildren(...options.map(([v, t, off]) => el("option", { value: v, disabled: off ? "" : null }, t)));
  if (options.some(([v, , off]) => v === was && !off)) select.value = was;
}

// The Chinese words of a refusal: the vocabulary's message for its code, the unit a member is in,
// and the name of the field at fault (labels: {field: name} or a function of the field).
export function refusal(ctx, err, labels) {
  if (!(err instanceof ApiError)) return "无法连接服务器，请检查网络后重试";
  if (!ctx.vocab) return "请求未完成（HTTP " + err.status + "）";
  // a code the vocabulary does not know reads as the status (never the server's English)
  let text = ctx.vocab.errorText({ code: err.code, message: "请求未完成（HTTP " + err.status + "）" });
  if (err.detail && err.detail.unit && err.detail.unit.name) text += "：" + err.detail.unit.name;
  const where = fieldName(err.field, labels);
  return where ? text + "（" + where + "）" : text;
}

function fieldName(f, labels) {
  if (!f || !labels) return "";
  if (typeof labels === "function") return labels(f) || "";
  return labels[f] || labels[f.replace(/[[.].*$/, "")] || "";
}

// A form: its fields (specs as field()), a submit button, extra buttons and a message line.
// onSubmit(values) runs on submit; what it throws is shown (refusal(), the field named by its
// label or errorLabels(field)), its field marked. Returns {el, inputs, values(), set(values),
// ok(text), fail(err), clear(), labels}.
export function form(ctx, { fields, submit, extra = [], onSubmit, cls, labels, errorLabels }) {
  const inputs = {}, names = { ...labels };
  const rows = fields.map((spec) => {
    if (spec instanceof Node) return spec;
    const f = field(spec);
    inputs[spec.name] = f.input;
    names[spec.name] = names[spec.name] || spec.label;
    return f.row;
  });
  const msg = el("p", { class: "msg", role: "status", "aria-live": "polite" });
  const button = el("button", { type: "submit" }, submit);
  const node = el("form", { class: "admin-form" + (cls ? " " + cls : ""), novalidate: "" }, ...rows,
    el("div", { class: "buttons" }, button, ...extra), msg);
  const f = {
    el: node, inputs, labels: names, button, msg,
    values() {
      const out = {};
      for (const [k, i] of Object.entries(inputs)) out[k] = getValue(i);
      return out;
    },
    set(values) { for (const [k, v] of Object.entries(values)) if (inputs[k]) setValue(inputs[k], v); },
    clear() {
      msg.textContent = "";
      msg.className = "msg";
      for (const i of node.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
      for (const e of node.querySelectorAll(".field-error")) e.remove();
    },
    ok(text) { f.clear(); msg.textContent = text; msg.className = "msg ok"; },
    // A refusal (an ApiError or a sentence); one that names a field is shown at that field.
    fail(err, more) {
      f.clear();
      const name = err && err.field ? err.field.replace(/[[.].*$/, "") : null;
      const field = typeof err !== "string" && name && (inputs[name] || node.querySelector(`[data-field="${name}"]`));
      // at its field a refusal needs no field name; an item of a list (members[2]) is still named
      const named = !field || err.field !== name;
      const text = typeof err === "string" ? err : refusal(ctx, err, named ? more || errorLabels || names : null);
      if (!at(name, text)) { msg.textContent = text; msg.className = "msg error"; }
    },
  };
  // Shows text at the control of field `name` (an input, or an element marked data-field); false
  // when the form has no such field.
  function at(name, text) {
    const bad = name && (inputs[name] || node.querySelector(`[data-field="${name}"]`));
    if (!bad) return false;
    const row = bad.closest(".field, fieldset") || bad.parentNode;
    const id = uid("err");
    row.append(el("small", { id, class: "field-error", role: "alert", "data-for": name }, text));
    bad.setAttribute("aria-invalid", "true");
    bad.setAttribute("aria-errormessage", id);
    if (bad.focus) bad.focus();
    msg.textContent = "请修改标红的" + (names[name] ? "“" + names[name] + "”" : "项");
    msg.className = "msg error";
    return true;
  }
  node.addEventListener("submit", async (e) => {
    e.preventDefault();
    f.clear();
    const invalid = node.querySelector("input:invalid, select:invalid, textarea:invalid");
    if (invalid) {
      at(invalid.name, invalid.validity.valueMissing ? "请填写此项" : "格式不对，请检查");
      return;
    }
    button.disabled = true;
    try {
      await onSubmit(f.values(), f);
    } catch (err) {
      f.fail(err);
    } finally {
      button.disabled = false;
    }
  });
  return f;
}

// A message line for a page part: ok(text, ...more nodes) and fail(err, labels).
export function notice(ctx, cls) {
  const p = el("p", { class: "msg" + (cls ? " " + cls : ""), role: "status", "aria-live": "polite" });
  return {
    el: p,
    ok(text, ...more) { p.className = "msg ok"; p.replaceChildren(text, ...more); },
    info(text) { p.className = "msg"; p.replaceChildren(text); },
    fail(err, labels) {
      p.className = "msg error";
      p.replaceChildren(typeof err === "string" ? err : refusal(ctx, err, labels));
    },
    clear() { p.className = "msg"; p.replaceChildren(); },
  };
}

// ---- lists ----

// Every item of a paged list (following `next`), at most `max`.
export async function all(ctx, path, max = 5000) {
  const items = [];
  let next = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await ctx.api.get(path + sep + "limit=500" + (next ? "&cursor=" + encodeURIComponent(next) : ""));
    items.push(...page.items);
    next = page.next;
  } while (next && items.length < max);
  return items;
}

// A table: caption, column heads, body rows (<tr> elements).
export function table(caption, heads, rows, cls) {
  return el("table", { class: "grid" + (cls ? " " + cls : "") }, el("caption", {}, caption),
    el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows));
}

// The role options a user may grant: no role above its own (the vocabulary's roles are in order
// of power, so only an admin grants admin).
export function grantableRoles(ctx) {
  const mine = ctx.vocab.rank("roles", ctx.state.user.role);
  return ctx.vocab.terms("roles").filter((t, i) => i <= mine).map((t) => [t.code, t.label]);
}

// The roles whose users ride in units (those below dispatcher: patrol officers, community workers).
export function fieldRoles(ctx) {
  return ctx.vocab.terms("roles").slice(0, ctx.vocab.rank("roles", "dispatcher")).map((t) => t.code);
}

// ---- times ----

const pad = (n) => String(n).padStart(2, "0");

// A Date as the value of <input type=datetime-local> (local time, minutes).
export function localInput(d) {
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
}

// The value of <input type=datetime-local> as RFC 3339 (UTC), or null when empty.
export function fromLocalInput(v) {
  if (!v) return null;
  const d = new Date(v);
  return isNaN(d) ? null : d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

// A short local time: "12-08 09:30".
export function shortTime(t) {
  if (!t) return "—";
  const d = new Date(t);
  return pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
}
