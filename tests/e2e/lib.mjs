// lib.mjs - what every browser test file shares: playwright-core's chromium (Debian's binary, the
// flags headless root needs), the steps and their count (`E2E <passed> passed, <failed> failed`,
// read by run.py), assertions, JSON calls to patrold, and polling a condition in a page.
import { createRequire } from "node:module";

const require = createRequire(new URL("../../web/package.json", import.meta.url));
export const { chromium } = require("playwright-core");

export const CHROMIUM = {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    // a container's small /dev/shm must not crash a renderer under load
    "--disable-dev-shm-usage"],
};

const counts = { passed: 0, failed: 0 };

// Runs one step, prints ok/FAIL with its time, counts it.
export async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    counts.passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    counts.failed++;
    console.log(`FAIL ${name} (${Date.now() - t0} ms): ${e.message.split("\n")[0]}`);
    if (process.env.E2E_DEBUG) console.log(e.stack);
  }
}

// Prints the count and ends the process (1 when a step failed).
export function finish() {
  console.log(`E2E ${counts.passed} passed, ${counts.failed} failed`);
  process.exit(counts.failed ? 1 : 0);
}

export function assert(cond, msg) { if (!cond) throw new Error(msg); }

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A JSON call to patrold at base: {status, data} (data null when the body is not JSON).
export async function api(base, method, p, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  const r = await fetch(base + p, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  let data = null;
  try { data = JSON.parse(text); } catch (_) { /* not JSON */ }
  return { status: r.status, data };
}

// Polls fn in the page (page.evaluate, not waitForFunction: that one compiles a string, which the
// page's Content-Security-Policy rightly refuses).
export async function waitFor(page, fn, arg, timeout, what) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate(fn, arg).catch(() => false)) return;
    if (Date.now() > end) throw new Error(`${what} within ${timeout} ms`);
    await sleep(50);
  }
}

// Signs in to the console at base as username (the demo password unless another is given) and
// waits until the console is ready for that user.
export async function signIn(page, base, username, password = "demo", timeout = 15000) {
  await page.goto(base + "/");
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click("#login-form button[type=submit]");
  await waitFor(page, (u) => window.__console && window.__console.ready && window.__console.user &&
    window.__console.user.username === u, username, timeout, "signed in as " + username);
}

// The Chinese label of a code in the server's vocabulary (GET /api/v1/vocabulary's reply): what a
// page must show, taken from the server rather than copied into a test.
export function labeller(vocabulary) {
  return (list, code) => {
    const t = (vocabulary[list] || []).find((x) => x.code === code);
    if (!t) throw new Error(`no ${code} in the vocabulary's ${list}`);
    return t.label;
  };
}
