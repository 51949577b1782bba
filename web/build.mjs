// build.mjs - bundles the pages of web/ with esbuild into dist/: one row of ENTRIES per page (its
// entry module and the name of its bundle, <outdir>/<name>.js and <outdir>/<name>.css), OpenLayers
// and the shared modules (src/shared/) bundled into each. A row may also name its page and other
// files to copy beside the bundle, whether to draw the app icons, and a service worker built last
// over the list of everything the row built (the app shell it keeps for offline use).
import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { deflateSync } from "node:zlib";

const ENTRIES = [
  { name: "console", entry: "src/console/main.js" }, // the dispatcher console, /index.html
  // The patrol app, /app/ (patrold serves /app/<file> from dist/app/): ES modules, so the map
  // (OpenLayers, src/app/map.js) is a chunk loaded when first opened, not part of the shell.
  { name: "app", entry: "src/app/main.js", outdir: "dist/app", esm: true,
    copy: ["app/index.html", "app/manifest.webmanifest"], icons: true, worker: "src/app/sw.js" },
];

const COMMON = { bundle: true, minify: true, sourcemap: true, target: ["chrome100", "firefox100", "safari15"], logLevel: "warning" };

// ---- icons: drawn here, so no binary lives in the tree ----

function crc32(buf) {
  let c, crc = 0xffffffff;
  for (const b of buf) {
    c = (crc ^ b) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) raw.set(pixel(x, y), y * (size * 4 + 1) + 1 + x * 4);
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4), crc = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type), data])));
    return Buffer.concat([len, Buffer.from(type), data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

// A location pin on the app's blue: a white ring and dot; `full`: the blue fills the square
// (maskable: the pin stays inside the safe circle), else a rounded square.
function icon(size, full) {
  const s = size / 2;
  const cover = (d, edge) => Math.max(0, Math.min(1, edge - d + 0.5)); // anti-aliased edge
  return png(size, (x, y) => {
    const dx = (x + 0.5 - s) / s, dy = (y + 0.5 - s) / s;
    const r = Math.hypot(dx, dy) * s;
    const corner = full ? 1 : cover(Math.hypot(Math.max(0, Math.abs(dx) - 0.62), Math.max(0, Math.abs(dy) - 0.62)) * s, 0.38 * s);
    const white = Math.max(cover(Math.abs(r - 0.3 * s), 0.07 * s), cover(r, 0.1 * s)) * (full ? 0.8 : 1);
    const blue = [11, 92, 173];
    return blue.map((c) => Math.round(c + (255 - c) * white)).concat(Math.round(255 * corner));
  });
}

function writeIcons(dir) {
  fs.writeFileSync(path.join(dir, "icon-192.png"), icon(192, false));
  fs.writeFileSync(path.join(dir, "icon-512.png"), icon(512, false));
  fs.writeFileSync(path.join(dir, "icon-maskable-512.png"), icon(512, true));
}

// ---- one row ----

function files(dir) {
  return fs.readdirSync(dir, { recursive: true }).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

async function build(e) {
  const outdir = e.outdir || "dist";
  if (e.outdir) fs.rmSync(outdir, { recursive: true, force: true }); // no chunk of an older build stays
  await esbuild.build({ ...COMMON, entryPoints: { [e.name]: e.entry }, outdir,
    format: e.esm ? "esm" : "iife", splitting: !!e.esm, chunkNames: "chunks/[name]-[hash]" });
  for (const f of e.copy || []) fs.copyFileSync(f, path.join(outdir, path.basename(f)));
  if (e.icons) writeIcons(outdir);
  if (!e.worker) return;
  const url = "/" + path.relative("dist", outdir) + "/";
  const shell = files(outdir).filter((f) => !f.endsWith(".map"));
  const hash = createHash("sha256");
  for (const f of shell) hash.update(f).update(fs.readFileSync(path.join(outdir, f)));
  const precache = shell.map((f) => url + f.split(path.sep).join("/"));
  await esbuild.build({ ...COMMON, entryPoints: { sw: e.worker }, outdir, format: "iife",
    define: { PRECACHE: JSON.stringify(precache), VERSION: JSON.stringify(hash.digest("hex").slice(0, 12)) } });
}

await Promise.all(ENTRIES.map(build));
