// bus.js - a small publish/subscribe bus: modules change state and emit a topic; whatever is
// subscribed to the topic redraws. Shared by the console and the patrol app.

export function createBus() {
  const subs = new Map();
  return {
    on(topic, fn) {
      if (!subs.has(topic)) subs.set(topic, new Set());
      subs.get(topic).add(fn);
      return () => subs.get(topic).delete(fn);
    },
    emit(topic, arg) {
      for (const fn of subs.get(topic) || []) {
        try { fn(arg); } catch (e) { console.error(e); }
      }
    },
  };
}
