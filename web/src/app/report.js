// report.js - the report form: category, people count, person fields, description, photos
// (camera or gallery, downscaled on the phone to the city's photo_max_px), the location from GPS
// with its accuracy (WGS-84 as the browser gives it), adjustable on a small map (map.js, loaded
// when first opened). Submitting saves the report and its photos on the phone first (outbox.add),
// then sending starts; the form says which.
import { $, el } from "../shared/dom.js";

const JPEG_QUALITY = 0.85;

// A JPEG without its APP1..APP15 and COM segments (the ICC profile a browser's encoder writes,
// EXIF, comments): what the server keeps of it anyway, so the bytes stored are the bytes sent (the
// outbox recognises a photo stored before its answer was lost by comparing them).
export async function plainJpeg(blob) {
  const b = new Uint8Array(await blob.arrayBuffer());
  if (b[0] !== 0xff || b[1] !== 0xd8) return blob;
  const keep = [b.subarray(0, 2)];
  let i = 2;
  while (i + 4 <= b.length && b[i] === 0xff) {
    const m = b[i + 1], len = (b[i + 2] << 8) | b[i + 3];
    if (m === 0xda) break; // start of scan: the image data follows
    if (!((m >= 0xe1 && m <= 0xef) || m === 0xfe)) keep.push(b.subarray(i, i + 2 + len));
    i += 2 + len;
  }
  if (i + 4 > b.length || b[i] !== 0xff) return blob; // not a JPEG this walk understands: as it is
  keep.push(b.subarray(i));
  return new Blob(keep, { type: "image/jpeg" });
}

// The photo downscaled so its longer side is at most maxPx, as a JPEG Blob (no metadata: it is a
// new image). A file the browser cannot decode is kept as it is when it is a JPEG or PNG.
export async function downscale(file, maxPx) {
  let bmp;
  try {
    bmp = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch (e) {
    if (/^image\/(jpeg|png)$/.test(file.type)) return file;
    throw e;
  }
  const k = Math.min(1, maxPx / Math.max(bmp.width, bmp.height));
  const c = document.createElement("canvas");
  c.width = Math.max(1, Math.round(bmp.width * k));
  c.height = Math.max(1, Math.round(bmp.height * k));
  c.getContext("2d").drawImage(bmp, 0, 0, c.width, c.height);
  bmp.close();
  const jpeg = await new Promise((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error("toBlob"))), "image/jpeg", JPEG_QUALITY));
  return plainJpeg(jpeg);
}

const fmtCoord = (p) => `${p.lon.toFixed(5)}, ${p.lat.toFixed(5)}`;

export function mountReportForm(ctx, outbox, tracker, show) {
  const { state, vocab, bus } = ctx;
  const photos = []; // {blob, url}
  let manual = null; // a location chosen on the map: {lon, lat}
  let map = null;

  function options() {
    $("f-category").replaceChildren(el("option", { value: "" }, "请选择"),
      ...vocab.terms("categories").map((t) => el("option", { value: t.code }, t.label)));
    $("f-sex").replaceChildren(el("option", { value: "" }, "未填"),
      ...vocab.terms("sexes").map((t) => el("option", { value: t.code }, t.label)));
  }

  function location() {
    if (manual) return { lon: manual.lon, lat: manual.lat, crs: "wgs84" };
    const f = state.track.fix;
    if (!f) return null;
    const loc = { lon: f.lon, lat: f.lat, crs: "wgs84" };
    if (f.acc != null && f.acc <= 100000) loc.accuracy_m = Math.round(f.acc * 10) / 10;
    return loc;
  }

  function showLocation() {
    const f = state.track.fix;
    let text;
    if (manual) text = `位置：${fmtCoord(manual)}（地图选点）`;
    else if (f) text = `位置：${fmtCoord(f)}（定位精度约 ${Math.round(f.acc)} 米，${Math.round((Date.now() - f.at) / 1000)} 秒前）`;
    else if (state.track.error === "denied") text = "未获得定位权限：请允许定位，或在地图上选点";
    else text = "正在定位…（也可在地图上选点）";
    $("loc-text").textContent = text;
  }

  function drawThumbs() {
    $("thumbs").replaceChildren(...photos.map((p, i) => el("li", {},
      el("img", { src: p.url, alt: `照片 ${i + 1}` }),
      el("button", { type: "button", "aria-label": `删除照片 ${i + 1}`, onclick: () => {
        URL.revokeObjectURL(p.url);
        photos.splice(i, 1);
        drawThumbs();
      } }, "×"))));
  }

  async function addFiles(files) {
    $("report-msg").textContent = "";
    const maxPx = (state.settings && state.settings.photo_max_px) || 1600;
    for (const f of files) {
      try {
        const blob = await downscale(f, maxPx);
        photos.push({ blob, url: URL.createObjectURL(blob) });
      } catch (e) {
        $("report-msg").textContent = "无法读取这张照片（" + (f.name || f.type) + "），请换一张";
      }
    }
    drawThumbs();
  }

  async function openMap() {
    $("map-box").hidden = false;
    const at = location() || { lon: 119.22, lat: 34.6 };
    if (!map) {
      const { createPickMap } = await import("./map.js");
      map = createPickMap($("map"), ctx);
    }
    map.moveTo(at);
  }

  function reset() {
    $("report-form").reset();
    for (const p of photos) URL.revokeObjectURL(p.url);
    photos.length = 0;
    manual = null;
    $("map-box").hidden = true;
    drawThumbs();
    showLocation();
  }

  async function submit(e) {
    e.preventDefault();
    const msg = $("report-msg");
    const loc = location();
    const count = Number($("f-count").value || 1);
    if (!$("f-category").value) return (msg.textContent = "请选择类别"), $("f-category").focus();
    if (!(count >= 1 && count <= 100 && Number.isInteger(count))) return (msg.textContent = "人数应为 1 到 100"), $("f-count").focus();
    if (!loc) return (msg.textContent = "还没有位置：请等待定位，或在地图上选点");
    const person = {};
    if ($("f-sex").value) person.sex = $("f-sex").value;
    if ($("f-age").value !== "") person.approx_age = Number($("f-age").value);
    if ($("f-appearance").value.trim()) person.appearance = $("f-appearance").value.trim();
    if ($("f-name").value.trim()) person.name_if_known = $("f-name").value.trim();
    const body = { client_id: crypto.randomUUID(), category: $("f-category").value, location: loc,
      observed_at: new Date().toISOString(), description: $("f-desc").value.trim(), people_count: count };
    if (Object.keys(person).length) body.person = person;
    $("b-submit").disabled = true;
    try {
      await outbox.add(body, photos.map((p) => p.blob));
      reset();
      ctx.persist();
      show("queue");
    } catch (err) {
      msg.textContent = "未能保存到手机：" + (err.message || err) + "（请重试；内容仍在表单中）";
    } finally {
      $("b-submit").disabled = false;
    }
  }

  options();
  $("report-title").textContent = vocab.label("timeline_types", "created");
  $("b-camera").addEventListener("click", () => $("f-camera").click());
  $("b-gallery").addEventListener("click", () => $("f-gallery").click());
  for (const id of ["f-camera", "f-gallery"]) {
    $(id).addEventListener("change", async (e) => {
      await addFiles([...e.target.files]);
      e.target.value = "";
    });
  }
  $("b-map").addEventListener("click", () => openMap().catch(() => { $("report-msg").textContent = "地图无法加载"; }));
  $("b-map-ok").addEventListener("click", () => {
    manual = map.at();
    $("map-box").hidden = true;
    showLocation();
  });
  $("b-map-gps").addEventListener("click", () => {
    manual = null;
    $("map-box").hidden = true;
    showLocation();
  });
  $("report-form").addEventListener("submit", submit);
  bus.on("fix", showLocation);
  bus.on("track", showLocation);
  return {
    // The form is on screen: the GPS runs for it.
    shown(on) {
      tracker.want("form", on);
      if (on) showLocation();
    },
  };
}
