#!/usr/bin/env node
// End-to-end test of the operators' page (www/admin.html) in headless
// Chromium against a real parleyd.
//
//   node tests/e2e/admin.test.mjs        (PARLEYD=/path/to/parleyd)
//
// It starts ./parleyd on a free port, opens /admin with a token that has no
// admin claim (the page must say "not an admin"), then with an admin token
// (the charts must fill while WebSocket clients post), and takes a
// screenshot: to docs/admin.png when SCREENSHOT_ADMIN is set (to refresh the
// picture in the docs), else to .build/logs/admin.png.  The last line is
// "e2e admin: N passed, N failed"; it exits non-zero on any failure.
import { createRequire } from "node:module";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(path.join(ROOT, "tests/node/package.json"));
const { chromium } = require("playwright-core");
const WebSocket = require("ws");

const T = Number(process.env.E2E_TIMEOUT_MS || 30000);
const SCREENSHOT = path.resolve(ROOT, process.env.SCREENSHOT_ADMIN ? "docs/admin.png" : ".build/logs/admin.png");
const PARLEYD = process.env.PARLEYD || path.join(ROOT, "parleyd");
const SECRET = "e2e-admin-secret-0123456789abcdef";
const LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let passed = 0;
let failed = 0;
const log = (s) => console.log(s);

async function check(name, fn) {
  try {
    await fn();
    passed++;
    log(`ok   ${name}`);
  } catch (e) {
    failed++;
    log(`FAIL ${name}: ${String(e && e.message ? e.message : e).split("\n")[0]}`);
  }
}

async function until(fn, what, timeout = T) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (${last.message.split("\n")[0]})` : ""}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
    s.on("error", rej);
  });
}

const env = { ...process.env, PARLEY_JWT_SECRET: SECRET };
const token = (user, ...flags) => execFileSync(PARLEYD, ["token", user, ...flags], { env }).toString().trim();

async function startServer() {
  const port = await freePort();
  const data = mkdtempSync(path.join(tmpdir(), "parley-e2e-admin-"));
  const proc = spawn(PARLEYD, ["--listen", `127.0.0.1:${port}`, "--data", data, "--www", path.join(ROOT, "www")], {
    cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(url + "/v1/health").catch(() => null))?.ok, "parleyd to start");
  return {
    url,
    stop: async () => {
      proc.kill("SIGTERM");
      await new Promise((r) => (proc.exitCode != null ? r() : proc.on("exit", r)));
      rmSync(data, { recursive: true, force: true });
    },
  };
}

// Chat traffic for the charts: a few WebSocket clients, one posting.
function traffic(base) {
  const clients = ["ada", "bo", "cy"].map((u) => new WebSocket(`${base.replace("http", "ws")}/v1/ws?token=${token(u)}`));
  for (const c of clients) c.on("error", () => {});
  const sse = fetch(`${base}/v1/events?token=${token("dee")}`).catch(() => null);
  let n = 0;
  const timer = setInterval(() => {
    if (clients[0].readyState === 1) clients[0].send(JSON.stringify({ type: "send", room: "general", text: `load ${n}`, client_id: `c${n++}` }));
  }, 50);
  return {
    stop: async () => {
      clearInterval(timer);
      for (const c of clients) c.close();
      const r = await sse;
      r?.body?.cancel().catch(() => {});
    },
  };
}

const server = await startServer();
let browser;
let load;
try {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args: LAUNCH_ARGS });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await ctx.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) problems.push(m.text());
  });

  await check("/admin asks for a token", async () => {
    await page.goto(`${server.url}/admin`);
    await page.locator("#token-form").waitFor({ state: "visible", timeout: T });
  });

  await check("a token without the admin claim: the page says 'not an admin'", async () => {
    await page.fill("#token-input", token("plain"));
    await page.click("#token-form button[type=submit]");
    await page.locator("#error").waitFor({ state: "visible", timeout: T });
    const text = await page.locator("#error").textContent();
    if (!/not an admin/i.test(text)) throw new Error(`error text: ${text}`);
    if (await page.locator("#dash").isVisible()) throw new Error("the dashboard shows");
  });

  load = traffic(server.url);
  await check("an admin token: live figures, node named", async () => {
    await page.fill("#token-input", token("root", "--admin"));
    await page.click("#token-form button[type=submit]");
    await page.locator("#dash").waitFor({ state: "visible", timeout: T });
    await until(async () => /:\d+$/.test((await page.locator("#node").textContent()) || ""), "the node name");
    await until(async () => (await page.locator("#state").textContent()) === "live", "the live state");
  });

  await check("the charts fill: connections, rates, latency", async () => {
    const points = (id, series) =>
      page.locator(`#${id} polyline[data-series="${series}"]`).getAttribute("data-points").then(Number).catch(() => 0);
    await until(async () => (await points("c-conns", "ws")) >= 5, "5 seconds of connections");
    await until(async () => (await points("c-rates", "messages/s")) >= 5, "5 seconds of rates");
    await until(async () => (await points("c-latency", "p99")) >= 3, "3 seconds of latency");
    await until(async () => Number(await page.locator("#t-msgs").textContent()) > 0, "messages/s above 0");
    await until(async () => Number(await page.locator("#t-users").textContent()) >= 3, "3 users online");
    const conns = await page.locator("#t-conns-by").textContent();
    if (!/ws [1-9]/.test(conns)) throw new Error(`connections tile: ${conns}`);
    if (await page.locator("#token-form").isVisible()) throw new Error("the token form still shows");
    // the picture for the docs shows a fuller window
    if (process.env.SCREENSHOT_ADMIN) await until(async () => (await points("c-rates", "messages/s")) >= 20, "20 seconds", 60000);
  });

  await check(`screenshot saved to ${path.relative(ROOT, SCREENSHOT)}`, async () => {
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  await check("no page errors, nothing blocked by the Content-Security-Policy", async () => {
    if (problems.length) throw new Error(problems.join(" | "));
  });
  await ctx.close();
} catch (e) {
  failed++;
  log(`FAIL unexpected: ${e && e.stack ? e.stack : e}`);
} finally {
  await load?.stop().catch(() => {});
  await browser?.close().catch(() => {});
  await server.stop().catch(() => {});
}
log(`e2e admin: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
