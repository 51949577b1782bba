// views.js - what the app shows of its state: the queue (each item's honest state: saved on the
// phone / being sent / on the server with photos to go / refused with the server's reason), the
// recently sent, the connection, the track and its gaps, the officer's own page. Every label of a
// code comes from the vocabulary.
import { $, el } from "../shared/dom.js";
import { fmtAge, fmtTime } from "../shared/format.js";
import { APP_CLOSED } from "./track.js";

const hhmm = (t) => new Date(t).toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" });

function itemState(ctx, it) {
  const { state, vocab } = ctx;
  if (state.user && it.user !== state.user.username) return `属于用户 ${it.user}：该用户登录后发送`;
  if (it.state === "failed") {
    const what = it.error && it.error.photo != null ? `照片 ${it.error.photo + 1} ` : "";
    return `${what}发送失败：${vocab.errorText(it.error)}`;
  }
  if (state.sending.has(it.client_id)) return "正在发送…";
  if (it.report_id) return `服务器已收到（#${it.report_id}），照片已发送 ${it.photos_sent || 0}/${it.photos} 张`;
  let s = "已保存在手机，等待发送";
  if (state.sync.signin) s += "（请先登录）";
  else if (!navigator.onLine) s += "（离线，联网后自动发送）";
  else if (state.sync.nextAt) s += `（${Math.max(0, Math.round((state.sync.nextAt - Date.now()) / 1000))} 秒后重试）`;
  return s;
}

function itemActions(ctx, it, outbox) {
  if (it.state !== "failed") return [];
  // a category the server does not know (an older app): the officer picks another and retries
  const fix = it.error && it.error.field === "category" ? el("select", { "aria-label": "类别" },
    ...ctx.vocab.terms("categories").map((t) => el("option", { value: t.code }, t.label))) : null;
  const kids = [el("button", { type: "button", class: "b-retry", onclick: () => outbox.retry(it.client_id, fix && fix.value) }, "重试"),
    el("button", { type: "button", class: "b-delete", onclick: () => {
      if (confirm("删除后这条上报不会再发送，确定删除？")) outbox.remove(it.client_id);
    } }, "删除")];
  return fix ? [fix, ...kids] : kids;
}

export function renderQueue(ctx, outbox) {
  const { state, vocab } = ctx;
  const mine = state.queue.filter((it) => state.user && it.user === state.user.username);
  const waiting = mine.length + state.actions.filter((a) => state.user && a.user === state.user.username).length;
  $("q-count").textContent = String(waiting);
  $("t-queue").classList.toggle("has", waiting > 0);
  $("queue").replaceChildren(...state.queue.map((it) => el("li", { "data-id": it.client_id, "data-state": it.state,
    "data-report": it.report_id || "" },
  el("b", {}, vocab.label("categories", it.body.category)), ` · ${it.body.people_count}人 · 照片 ${it.photos} 张 · ${fmtTime(new Date(it.created_at).toISOString())}`,
  el("p", { class: "i-state" }, itemState(ctx, it)),
  ...itemActions(ctx, it, outbox))),
  ...state.actions.map((a) => el("li", { "data-action": a.id, "data-state": a.state },
    el("b", {}, vocab.label("event_types", a.type)), ` #${a.report_id}`, a.outcome ? ` · ${vocab.label("outcomes", a.outcome)}` : "",
    el("p", { class: "i-state" }, a.state === "failed" ? "发送失败：" + vocab.errorText(a.error) : "已保存在手机，等待发送"),
    ...(a.state === "failed" ? [el("button", { type: "button", onclick: () => outbox.retryAction(a.id) }, "重试"),
      el("button", { type: "button", onclick: () => outbox.removeAction(a.id) }, "删除")] : []))));
  const s = state.sync;
  let line = state.queue.length || state.actions.length ? "" : "没有待发送的内容";
  if (s.busy) line = "正在发送…";
  else if (s.signin) line = "登录已失效或未登录：登录后继续发送，内容仍保存在本机";
  else if (line === "" && !navigator.onLine) line = "离线：内容保存在本机，联网后自动发送";
  else if (s.lastError && s.nextAt) line = "连不上服务器，稍后自动重试";
  $("sync-state").textContent = line;
  $("persist").textContent = state.persisted === true ? "本机存储已设为持久保存：浏览器不会自行清除未发送的内容。"
    : state.persisted === false ? "本机存储未获持久保护：手机空间不足时浏览器可能清除未发送的内容，请尽快联网发送。" : "";
}

// The states' texts alone (the one-second tick: countdowns), leaving the rest of the list, and
// whatever the officer is choosing in it, as it is.
export function renderQueueStates(ctx) {
  for (const it of ctx.state.queue) {
    const p = document.querySelector(`#queue li[data-id="${it.client_id}"] .i-state`);
    if (p) p.textContent = itemState(ctx, it);
  }
}

export async function renderSent(ctx) {
  const sent = (await ctx.store.get("sent")) || [];
  $("sent").replaceChildren(...sent.map((x) => el("li", { "data-report": x.report_id },
    `#${x.report_id} ${ctx.vocab.label("categories", x.category)} · 照片 ${x.photos} 张 · ${hhmm(x.sent_at)} 已发送`)));
}

export function renderNet(ctx) {
  const { state } = ctx;
  const online = navigator.onLine;
  let text = online ? "在线" : "离线";
  if (online && state.sync && state.sync.lastError) text = "连不上服务器";
  if (online && state.streamOpen) text += " · 实时";
  $("net").textContent = text;
  $("net").className = "net " + (online && !(state.sync && state.sync.lastError) ? "on" : "off");
}

export function renderTrack(ctx) {
  const { state, vocab } = ctx;
  const t = state.track;
  const unit = state.unit;
  $("unit-line").textContent = !state.user || !state.user.unit_id ? "未编入巡查单位：不记录轨迹"
    : `单位：${unit ? unit.name + (unit.callsign ? "（" + unit.callsign + "）" : "") + " · " + vocab.label("unit_statuses", unit.status) : "#" + state.user.unit_id}`;
  $("b-shift").textContent = t.on ? "结束巡查" : "开始巡查";
  $("b-shift").setAttribute("aria-pressed", String(t.on));
  $("b-shift").disabled = !state.user || !state.user.unit_id;
  let s;
  if (!t.on) s = "未在巡查：不记录轨迹";
  else if (t.error === "denied") s = "未获得定位权限：请在浏览器设置中允许本应用使用位置";
  else if (!t.fix) s = "正在定位…";
  else {
    const age = (Date.now() - t.fix.at) / 1000;
    s = `巡查中：本次已记录 ${t.kept} 个点，待发送 ${t.buffered} 个；最近定位 ${fmtAge(age)}，精度约 ${Math.round(t.fix.acc)} 米`;
    if (age > 120) s += `。已 ${Math.round(age / 60)} 分钟没有新的定位，轨迹在此中断`;
  }
  if (t.dropped) s += `；${t.dropped} 个定位被服务器拒收（时间不对）`;
  $("track-state").textContent = s;
  $("gaps").replaceChildren(...t.gaps.map((g) => el("li", {},
    `${hhmm(g.from)}–${hhmm(g.to)} 轨迹中断 ${Math.round((g.to - g.from) / 60000)} 分钟（${g.why === APP_CLOSED ? "应用未打开" : "没有定位信号"}）`)));
}

export function renderMe(ctx) {
  const { state, vocab } = ctx;
  const u = state.user;
  if (!u) return $("me").replaceChildren();
  const row = (k, v) => [el("dt", {}, k), el("dd", {}, v)];
  $("me").replaceChildren(
    ...row("用户名", u.username),
    ...row("角色", vocab.label("roles", u.role)),
    ...row("辖区", u.division_code),
    ...row("巡查单位", state.unit ? `${state.unit.name}（${vocab.label("unit_statuses", state.unit.status)}）` : u.unit_id ? "#" + u.unit_id : "无"),
    ...row("本机存储", state.persisted ? "持久保存" : "未获持久保护"),
    ...row("离线使用", state.swReady ? "已可离线打开" : "准备中"));
}
