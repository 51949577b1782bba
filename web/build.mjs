// build.mjs - bundles the dispatcher console (src/app.js + OpenLayers + CSS) into dist/ with esbuild.
import * as esbuild from "esbuild";

await esbuild.build({
  entryPoints: ["src/app.js"],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "iife",
  target: ["chrome100", "firefox100", "safari15"],
  outfile: "dist/app.js",
  logLevel: "warning",
});
