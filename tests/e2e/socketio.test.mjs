#!/usr/bin/env node
// The Socket.IO browser bundle in headless Chromium against parleyd: the
// example page www/examples/socketio-chat.html (a seed-style chat on the
// stock socket.io-client bundle that parleyd serves at /socket.io/socket.io.js)
// for two users, alice and bob: both connect and upgrade to WebSocket,
// typing shows, messages arrive, read receipts go back; then a polling-only
// socket in the page sends with an ack.  Then a page served from another
// origin (another port, listed with --cors-origin) uses parleyd across
// origins: dev login and REST with preflights, an EventSource, and a
// polling-only Socket.IO socket; a page of an unlisted origin cannot.
//
//   PARLEYD=./parleyd node tests/e2e/socketio.test.mjs
//
// Needs playwright-core (tests/node) and Debian's chromium.  The last line
// is "e2e-socketio: N passed, N failed".
import http from "node:http";
import { createRequire } from "node:module";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(path.join(ROOT, "tests/node/package.json"));
const { chromium } = require("playwright-core");
const T = Number(process.env.E2E_TIMEOUT_MS || 30000);

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${String(e && e.message ? e.message : e).split("\n")[0]}`);
  }
}
async function until(fn, what, timeout = T) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const freePort = () =>
  new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
    s.on("error", rej);
  });

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
// Two web apps of other origins: the page only loads the bundle from parleyd.
const appPage = `<!doctype html><meta charset="utf-8"><title>another origin</title>
<script src="${base}/socket.io/socket.io.js"></script>`;
const apps = [];
const appServer = async () => {
  const p = await freePort();
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(appPage);
  });
  await new Promise((r) => srv.listen(p, "127.0.0.1", r));
  apps.push(srv);
  return `http://127.0.0.1:${p}`;
};
const appOrigin = await appServer();
const strangerOrigin = await appServer();
const data = mkdtempSync(path.join(tmpdir(), "parley-e2e-sio-"));
const proc = spawn(process.env.PARLEYD || path.join(ROOT, "parleyd"),
  ["--dev", "--listen", `127.0.0.1:${port}`, "--data", data, "--www", path.join(ROOT, "www"),
    "--cors-origin", appOrigin],
  { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
await until(async () => (await fetch(`${base}/v1/health`)).ok, "parleyd");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
const open = async (user) => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  await page.goto(`${base}/examples/socketio-chat.html?user=${user}`);
  return page;
};

try {
  const alice = await open("alice");
  const bob = await open("bob");
  await check("the stock bundle loads from /socket.io/socket.io.js and both connect", async () => {
    for (const p of [alice, bob])
      await until(async () => (await p.locator("#state").getAttribute("data-state")) === "open", "connected");
  });
  await check("the browser upgrades from polling to WebSocket", async () => {
    for (const p of [alice, bob])
      await until(() => p.evaluate(() => window.socket.io.engine.transport.name === "websocket"), "upgrade");
  });
  await bob.evaluate(() => {
    window.reads = [];
    window.socket.on("messages_read", (r) => window.reads.push(r));
  });
  await check("typing shows on the other side", async () => {
    await bob.locator("#text").pressSequentially("hel");
    await until(async () => /bob typing/.test(await alice.locator("#typing").textContent()), "typing");
  });
  await check("a message sent by one page arrives in both", async () => {
    await bob.locator("#text").fill("hello from chromium");
    await bob.locator("#send button").click();
    for (const p of [alice, bob])
      await until(async () => (await p.locator("#log li.msg").filter({ hasText: "bob: hello from chromium" }).count()) === 1, "message");
    await until(async () => !/bob typing/.test(await alice.locator("#typing").textContent()), "typing stops");
  });
  await check("mark_chat_read from the page reaches the other as messages_read", async () => {
    await until(() => bob.evaluate(() => window.reads.some((r) => r.userId === "alice" && r.chatId === "general")), "messages_read");
  });
  await check("a polling-only socket in the browser sends with an ack", async () => {
    const ack = await alice.evaluate(async () => {
      const tok = window.socket.auth.token;
      const s = io({ auth: { token: tok }, transports: ["polling"], forceNew: true });
      const a = await s.timeout(10000).emitWithAck("send_message", { chatId: "general", content: "by polling" });
      const transport = s.io.engine.transport.name;
      s.close();
      return { id: a.id, content: a.content, transport };
    });
    if (!(ack.id > 0 && ack.content === "by polling" && ack.transport === "polling")) throw new Error(JSON.stringify(ack));
    await until(async () => (await bob.locator("#log li.msg").filter({ hasText: "alice: by polling" }).count()) === 1, "seen by bob");
  });
  // What a web app of another origin does with parleyd (base).
  const crossOrigin = (b) => (async () => {
    const out = {};
    try {
      const login = await fetch(`${b}/v1/dev/login`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: "carol" }),
      });
      const { token } = await login.json();
      const auth = { Authorization: `Bearer ${token}` };
      const posted = await fetch(`${b}/v1/rooms/general/messages`, {
        method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ text: "rest across origins" }),
      });
      out.post = posted.status;
      const hist = await (await fetch(`${b}/v1/rooms/general/messages?limit=50`, { headers: auth })).json();
      out.history = hist.messages.some((m) => m.text === "rest across origins");
      out.sse = await new Promise((resolve) => {
        const es = new EventSource(`${b}/v1/events?token=${token}`);
        es.onopen = () => (es.close(), resolve("open"));
        es.onerror = () => (es.close(), resolve("error"));
      });
      const s = io(b, { auth: { token }, transports: ["polling"], forceNew: true, reconnection: false });
      const got = new Promise((resolve) => s.on("receive_message", (m) => m.content === "polling across origins" && resolve(true)));
      const ack = await s.timeout(10000).emitWithAck("send_message", { chatId: "general", content: "polling across origins" });
      out.ack = ack.content;
      out.received = await got;
      out.transport = s.io.engine.transport.name;
      s.close();
    } catch (e) {
      out.error = String(e && e.message ? e.message : e);
    }
    return out;
  })();
  const visit = async (origin) => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${origin}/app.html`);
    await until(() => page.evaluate(() => typeof io === "function"), "the bundle loaded from parleyd");
    const out = await page.evaluate(`(${crossOrigin})(${JSON.stringify(base)})`);
    await page.context().close();
    return out;
  };
  await check("a page of a listed origin (--cors-origin) uses REST with preflights, SSE and Socket.IO polling", async () => {
    const out = await visit(appOrigin);
    const want = { post: 201, history: true, sse: "open", ack: "polling across origins", received: true, transport: "polling" };
    if (JSON.stringify(out) !== JSON.stringify(want)) throw new Error(JSON.stringify(out));
    await until(async () => (await bob.locator("#log li.msg").filter({ hasText: "carol: polling across origins" }).count()) === 1, "seen by bob");
  });
  await check("a page of an unlisted origin cannot (the browser blocks the answers)", async () => {
    const out = await visit(strangerOrigin);
    if (!out.error || out.post) throw new Error(JSON.stringify(out));
  });
  await check("no page errors", async () => {
    const errs = [...alice.errors, ...bob.errors];
    if (errs.length) throw new Error(errs.join("; "));
  });
} finally {
  await browser.close();
  for (const a of apps) a.close();
  proc.kill("SIGTERM");
  await new Promise((r) => (proc.exitCode != null ? r() : proc.on("exit", r)));
  rmSync(data, { recursive: true, force: true });
}
console.log(`e2e-socketio: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
