// layers.js - the map and its layers. LAYERS is the registry: one row per layer of our own vector
// tiles (/tiles/{name}/{z}/{x}/{y}.mvt); a new layer is one row here (and its style in styles.js).
// Layers that need the signed-in user load their tiles through api.js.
import Map from "ol/Map.js";
import View from "ol/View.js";
import TileLayer from "ol/layer/Tile.js";
import XYZ from "ol/source/XYZ.js";
import VectorTileLayer from "ol/layer/VectorTile.js";
import VectorTileSource from "ol/source/VectorTile.js";
import MVT from "ol/format/MVT.js";
import { fromLonLat } from "ol/proj.js";
import TileState from "ol/TileState.js";

// name: the tile layer; style(styles): its style function (styles.js); z: drawing order; auth: tiles
// need the token; declutter: labels kept apart; toggle: a checkbox in the legend with this text
// (checked when `visible`).
export const LAYERS = [
  { name: "coverage", style: (s) => s.coverage, z: 0, toggle: "站点覆盖", visible: true },
  { name: "divisions", style: (s) => s.division, z: 1, declutter: true },
  { name: "stations", style: (s) => s.station, z: 2 },
  { name: "units", style: (s) => s.unit, z: 3, auth: true, declutter: true }, // labels kept apart, symbols all drawn
  { name: "reports", style: (s) => s.report, z: 4, auth: true },
];

function authLoader(api) {
  return (tile, url) => tile.setLoader((extent, resolution, projection) => {
    if (!api.token) { tile.setFeatures([]); return; } // signed out: refreshed after sign-in
    api.bytes(url).then((buf) => {
      const feats = buf ? tile.getFormat().readFeatures(buf, { extent, featureProjection: projection }) : [];
      tile.setFeatures(feats);
    }).catch(() => tile.setState(TileState.ERROR));
  });
}

// The map in element `target` with every layer of LAYERS; returns {map, layers: {name: layer},
// refresh(name)}. refresh reloads a layer's tiles (debounced: many events, one reload).
export function createMap(target, ctx) {
  const layers = {};
  for (const row of LAYERS) {
    const source = new VectorTileSource({
      format: new MVT({ idProperty: undefined }),
      url: "/tiles/" + row.name + "/{z}/{x}/{y}.mvt",
      maxZoom: 16,
      tileLoadFunction: row.auth ? authLoader(ctx.api) : undefined,
    });
    layers[row.name] = new VectorTileLayer({ source, style: row.style(ctx.styles), declutter: !!row.declutter,
      zIndex: row.z, renderMode: "hybrid", visible: row.visible !== false, properties: { name: row.name } });
  }
  const map = new Map({
    target,
    layers: Object.values(layers),
    view: new View({ center: fromLonLat([119.22, 34.6]), zoom: 9, minZoom: 6, maxZoom: 19 }),
  });
  const timers = {};
  const refresh = (name) => {
    clearTimeout(timers[name]);
    timers[name] = setTimeout(() => {
      ctx.bus.emit("layer-refresh", name);
      layers[name].getSource().refresh();
    }, 150);
  };
  return { map, layers, refresh };
}

// An optional external base map under our own layers, from GET /api/v1/console: `basemap`
// ({kind, layers: [tile URL templates], crs}) where the server resolves presets (天地图, GCJ-02),
// else the plain `basemap_url` (WGS-84 web tiles). Over a base map in another crs (gcj02) our own
// tiles are asked in it too (?crs=gcj02), so streets and points agree; ctx.crs says which.
// Returns the base map's crs, or null when none is configured.
export function useBaseMap(ctx, settings) {
  const bm = settings && settings.basemap;
  const urls = bm ? bm.layers || [] : settings && settings.basemap_url ? [settings.basemap_url] : [];
  if (!urls.length) return null;
  urls.forEach((url, i) => addBaseMap(ctx.map, url, i, bm && bm.attribution));
  const crs = (bm && bm.crs) || "wgs84";
  if (crs !== "wgs84") {
    for (const row of LAYERS) ctx.layers[row.name].getSource().setUrl("/tiles/" + row.name + "/{z}/{x}/{y}.mvt?crs=" + crs);
  }
  ctx.crs = crs;
  return crs;
}

// An external base map layer (an XYZ tile URL template, host ranges such as t{0-7} allowed) under
// our own layers, at `at` (0: lowest), credited with `attribution` when the provider asks for it.
export function addBaseMap(map, url, at = 0, attribution = null) {
  const source = new XYZ({ url, crossOrigin: "anonymous", attributions: attribution || undefined });
  map.getLayers().insertAt(at, new TileLayer({ source, className: "basemap" }));
}

// Centre the view on a WGS-84 location (zoom kept when not given).
export function flyTo(map, location, zoom) {
  const opts = { center: fromLonLat([location.lon, location.lat]), duration: zoom ? 600 : 400 };
  if (zoom) opts.zoom = zoom;
  map.getView().animate(opts);
}
