// format.js - times, durations and ages as people read them (Chinese).

// Seconds left as "m:ss" (or "h时m分"); negative is overdue: "超时 m:ss".
export function fmtDuration(s) {
  const neg = s < 0;
  s = Math.abs(Math.round(s));
  const m = Math.floor(s / 60), sec = s % 60;
  const t = m >= 60 ? Math.floor(m / 60) + "时" + (m % 60) + "分" : m + ":" + String(sec).padStart(2, "0");
  return neg ? "超时 " + t : t;
}

// An age in seconds as "12秒前" / "3分钟前" / "2小时前"; null: no position.
export function fmtAge(s) {
  if (s == null) return "无位置";
  if (s < 60) return Math.round(s) + "秒前";
  if (s < 3600) return Math.round(s / 60) + "分钟前";
  return Math.round(s / 3600) + "小时前";
}

// An RFC 3339 time as local date and time.
export function fmtTime(t) {
  return t ? new Date(t).toLocaleString("zh-CN") : "—";
}
