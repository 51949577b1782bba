// dom.js - small DOM helpers: $ by id, el() to build elements (attributes, on* listeners, children).

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== undefined && k !== null) e.append(k instanceof Node ? k : String(k));
  return e;
}
