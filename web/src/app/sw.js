// sw.js - the patrol app's service worker (scope /app/): keeps the app shell (every file `make
// web` built for /app/, listed in PRECACHE with a VERSION that changes with their bytes) so the
// app opens without a network, and the division and station tiles the small map has drawn. It does not touch
// the API: reports wait in IndexedDB and the page sends them (outbox.js); a service worker cannot
// read the location, so the track is the page's. PRECACHE and VERSION are put in by web/build.mjs.
/* global PRECACHE, VERSION */
const SHELL = "shell-" + VERSION;
const TILES = "tiles";
const TILE_LIMIT = 400; // division and station tiles kept (the oldest go first)
const INDEX = "/app/index.html";

self.addEventListener("install", (e) => {
  // cache: "reload": the files as the server has them now, not the browser's HTTP cache
  e.waitUntil(caches.open(SHELL).then((c) => c.addAll(PRECACHE.map((u) => new Request(u, { cache: "reload" })))));
});

// The page's "update now" (main.js): this version takes over at once.
self.addEventListener("message", (e) => {
  if (e.data === "skip-waiting") self.skipWaiting();
});

self.addEventListener("activate", (e) => {
  e.waitUntil((async () => {
    for (const k of await caches.keys()) if (k.startsWith("shell-") && k !== SHELL) await caches.delete(k);
    await self.clients.claim(); // the page that installed it is served offline from now on
  })());
});

async function trim(cache) {
  const keys = await cache.keys();
  for (let i = 0; i < keys.length - TILE_LIMIT; i++) await cache.delete(keys[i]);
}

// A division or station tile (public, no token): the one kept when there is one (and a fresh copy fetched behind it), else the
// network's.
async function tile(req) {
  const cache = await caches.open(TILES);
  const kept = await cache.match(req);
  const fresh = fetch(req).then(async (r) => {
    if (r.ok) {
      await cache.put(req, r.clone());
      await trim(cache);
    }
    return r;
  });
  if (kept) {
    fresh.catch(() => {});
    return kept;
  }
  return fresh;
}

self.addEventListener("fetch", (e) => {
  const req = e.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.mode === "navigate" && url.pathname.startsWith("/app/")) {
    // the app shell, whatever the address under /app/ (a query, a reload offline)
    e.respondWith(caches.match(INDEX).then((r) => r || fetch(req)));
  } else if (PRECACHE.includes(url.pathname)) {
    e.respondWith(caches.match(url.pathname).then((r) => r || fetch(req)));
  } else if (url.pathname.startsWith("/tiles/divisions/") || url.pathname.startsWith("/tiles/stations/")) {
    e.respondWith(tile(req));
  }
  // anything else (the API) goes to the network as the page asked
});
