// map.js - the report form's small map (loaded only when the officer opens it: OpenLayers is not
// part of the app shell): our own division tiles, the city's base map when one is configured, the
// phone's fix with its accuracy circle, the stations; the officer moves the map under a fixed cross-hair, whose
// point becomes the report's location. The looks and the base map are the console's.
import Map from "ol/Map.js";
import View from "ol/View.js";
import VectorTileLayer from "ol/layer/VectorTile.js";
import VectorTileSource from "ol/source/VectorTile.js";
import VectorLayer from "ol/layer/Vector.js";
import VectorSource from "ol/source/Vector.js";
import MVT from "ol/format/MVT.js";
import Feature from "ol/Feature.js";
import Point from "ol/geom/Point.js";
import { circular } from "ol/geom/Polygon.js";
import { Style, Stroke, Fill, Circle } from "ol/style.js";
import { fromLonLat, toLonLat } from "ol/proj.js";
import { addBaseMap } from "../console/layers.js";
import { createStyles } from "../console/styles.js";

const FIX_STYLE = [
  new Style({ fill: new Fill({ color: "rgba(25,113,194,0.15)" }), stroke: new Stroke({ color: "#1971c2", width: 1 }) }),
  new Style({ image: new Circle({ radius: 6, fill: new Fill({ color: "#1971c2" }), stroke: new Stroke({ color: "#fff", width: 2 }) }) }),
];

export function createPickMap(target, ctx) {
  const styles = createStyles(ctx.vocab, { stale: new Set() }, { patrolGaps: () => false });
  const tiles = (name, style, declutter) => new VectorTileLayer({ declutter, style,
    source: new VectorTileSource({ format: new MVT(), url: `/tiles/${name}/{z}/{x}/{y}.mvt`, maxZoom: 16 }) });
  const fixSource = new VectorSource();
  const map = new Map({
    target,
    layers: [tiles("divisions", styles.division, true), tiles("stations", styles.station, false),
      new VectorLayer({ source: fixSource, style: (f) => FIX_STYLE[f.getGeometry().getType() === "Point" ? 1 : 0] })],
    view: new View({ center: fromLonLat([119.22, 34.6]), zoom: 15, minZoom: 8, maxZoom: 19 }),
    controls: [],
  });
  const basemap = ctx.state.settings && ctx.state.settings.basemap_url;
  if (basemap) addBaseMap(map, basemap);

  function showFix(f) {
    fixSource.clear();
    if (!f) return;
    const feats = [new Feature(new Point(fromLonLat([f.lon, f.lat])))];
    if (f.acc) feats.unshift(new Feature(circular([f.lon, f.lat], f.acc, 48).transform("EPSG:4326", "EPSG:3857")));
    fixSource.addFeatures(feats);
  }
  const off = ctx.bus.on("fix", showFix);
  showFix(ctx.state.track.fix);

  return {
    // Centres the map on a WGS-84 point.
    moveTo(p) {
      map.updateSize();
      map.getView().setCenter(fromLonLat([p.lon, p.lat]));
    },
    // The WGS-84 point under the cross-hair.
    at() {
      const [lon, lat] = toLonLat(map.getView().getCenter());
      return { lon: Math.round(lon * 1e7) / 1e7, lat: Math.round(lat * 1e7) / 1e7 };
    },
    destroy() {
      off();
      map.setTarget(null);
    },
  };
}
