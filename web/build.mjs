// build.mjs - bundles the pages of web/ with esbuild into dist/: one row of ENTRIES per page (its
// entry module and the name of its bundle, dist/<name>.js and dist/<name>.css), OpenLayers and
// the shared modules (src/shared/) bundled into each.
import * as esbuild from "esbuild";

const ENTRIES = [
  { name: "console", entry: "src/console/main.js" }, // the dispatcher console, /index.html
];

await Promise.all(ENTRIES.map((e) => esbuild.build({
  entryPoints: { [e.name]: e.entry },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "iife",
  target: ["chrome100", "firefox100", "safari15"],
  outdir: "dist",
  logLevel: "warning",
})));
