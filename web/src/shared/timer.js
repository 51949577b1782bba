// timer.js - the one timer loop of a page: countdowns, ages and periodic refreshes all run from a
// single setInterval of one second instead of a timer each.

const tasks = new Set();
let ticks = 0;
let handle = null;

function tick() {
  ticks++;
  const now = Date.now();
  for (const t of tasks) {
    if (ticks % t.every !== 0) continue;
    try { t.fn(now); } catch (e) { console.error(e); }
  }
}

// Calls fn(now) every `seconds` (a whole number, at least 1). Returns a function that stops it.
export function every(seconds, fn) {
  const t = { every: Math.max(1, Math.round(seconds)), fn };
  tasks.add(t);
  if (!handle) handle = setInterval(tick, 1000);
  return () => tasks.delete(t);
}
