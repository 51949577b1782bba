// store.js - what the patrol app keeps on the phone, in IndexedDB (through idb): the reports not
// yet acknowledged by the server with their photos as Blobs, the report actions (arrived,
// resolved) not yet sent, the position fixes not yet sent, and small values (the vocabulary and
// settings for offline use, the signed-in user, the unit's task, the track's gaps, sent history).
// A report and its photos are written in one transaction: saved together or not at all. Nothing
// here talks HTTP (outbox.js sends).
import { openDB } from "idb";

const NAME = "patrold-app";
const VERSION = 1;

function upgrade(db) {
  // {client_id, user, created_at, body (the report as POSTed), photos (how many), state
  // ("saved" | "failed"), report_id (once the server holds it), error, attempts}
  db.createObjectStore("outbox", { keyPath: "client_id" });
  // {client_id, n, blob, size, server_id (once acknowledged), tried (a send got no answer)}
  db.createObjectStore("photos", { keyPath: ["client_id", "n"] }).createIndex("by_report", "client_id");
  // {id, user, report_id, type, outcome, at, state, error}
  db.createObjectStore("actions", { keyPath: "id", autoIncrement: true });
  // {at (ms since 1970), lon, lat, acc, speed, heading}
  db.createObjectStore("fixes", { keyPath: "at" });
  db.createObjectStore("kv");
}

export async function openStore() {
  const db = await openDB(NAME, VERSION, { upgrade });
  return {
    get: (key) => db.get("kv", key),
    set: (key, value) => db.put("kv", value, key),

    // ---- reports ----
    async saveReport(item, photos) {
      const tx = db.transaction(["outbox", "photos"], "readwrite");
      tx.objectStore("outbox").put(item);
      for (const p of photos) tx.objectStore("photos").put(p);
      await tx.done;
    },
    items: () => db.getAll("outbox"),
    item: (clientId) => db.get("outbox", clientId),
    putItem: (item) => db.put("outbox", item),
    async photosOf(clientId) {
      const v = await db.getAllFromIndex("photos", "by_report", clientId);
      return v.sort((a, b) => a.n - b.n);
    },
    putPhoto: (photo) => db.put("photos", photo),
    // Removes a report and its photos (acknowledged, or deleted by the officer).
    async removeReport(clientId) {
      const tx = db.transaction(["outbox", "photos"], "readwrite");
      tx.objectStore("outbox").delete(clientId);
      const photos = tx.objectStore("photos");
      for (const key of await photos.index("by_report").getAllKeys(clientId)) photos.delete(key);
      await tx.done;
    },

    // ---- report actions ----
    addAction: (action) => db.add("actions", action),
    actions: () => db.getAll("actions"),
    putAction: (action) => db.put("actions", action),
    removeAction: (id) => db.delete("actions", id),

    // ---- position fixes ----
    addFix: (fix) => db.put("fixes", fix),
    fixes: (limit) => db.getAll("fixes", null, limit),
    countFixes: () => db.count("fixes"),
    async removeFixes(ats) {
      const tx = db.transaction("fixes", "readwrite");
      for (const at of ats) tx.store.delete(at);
      await tx.done;
    },
  };
}
