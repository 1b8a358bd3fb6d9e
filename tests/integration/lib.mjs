// tests/integration/lib.mjs: what every integration test needs.
//
// - startServer(): runs the real parleyd ($PARLEYD, default ./parleyd from
//   the build tree) on a free 127.0.0.1 port with a fresh data folder, and
//   waits for /v1/health.
// - api(): fetch wrapper returning {status, body, headers}.
// - test()/run(): a minimal harness. Each check prints "ok" or "FAIL";
//   run() prints "<suite>: N passed, N failed" and exits with its status.
// - until(): waits for a condition (never a fixed sleep for correctness).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const PARLEYD = process.env.PARLEYD || path.join(ROOT, "parleyd");
export const SECRET = "integration-test-secret-0123456789";
const require = createRequire(path.join(ROOT, "tests/node/package.json"));
export const requireNode = (name) => require(name);

const tests = [];
export function test(name, fn) {
  tests.push({ name, fn });
}

export async function run(suite) {
  let passed = 0;
  let failed = 0;
  const only = process.env.ONLY;
  for (const t of tests) {
    if (only && !t.name.includes(only)) continue;
    try {
      await t.fn();
      passed++;
      console.log(`ok   ${t.name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${t.name}: ${e && e.stack ? e.stack.split("\n").slice(0, 3).join(" | ") : e}`);
    }
  }
  const reports = await stopAll();
  // A sanitizer build reports to stderr; any report fails the suite.
  for (const r of reports) {
    failed++;
    console.log(`FAIL parleyd stayed sanitizer-clean: ${r}`);
  }
  console.log(`${suite}: ${passed} passed, ${failed} failed`);
  // The result line is the end: a handle some test left open (a keep-alive
  // socket, a timer) must not keep the runner alive after it.
  if (process.env.SHOW_HANDLES) showHandles();
  process.exit(failed ? 1 : 0);
}

// What a suite left open when it ended (SHOW_HANDLES=1): the way to find
// which test forgot to close a client, a server or a child process.
function showHandles() {
  const what = (h) =>
    h.constructor.name +
    (h.spawnfile ? ` ${h.pid} ${h.spawnargs.join(" ")}` : "") +
    (h.remoteAddress ? ` ${h.localPort} -> ${h.remoteAddress}:${h.remotePort}` : "");
  console.log(`open handles: ${process._getActiveHandles().map(what).join("; ")}`);
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg || "assertion failed");
}
export function eq(a, b, msg) {
  const sa = JSON.stringify(a);
  const sb = JSON.stringify(b);
  if (sa !== sb) throw new Error(`${msg || "not equal"}: got ${sa}, want ${sb}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function until(fn, what = "condition", timeout = 20000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await sleep(25);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const running = new Set();

export async function startServer({ args = [], env = {}, dataDir, dev = false } = {}) {
  const port = await freePort();
  const data = dataDir || mkdtempSync(path.join(tmpdir(), "parley-it-"));
  // PARLEYD_ARGS: flags every server of a suite gets (scripts/test.sh runs
  // the push suites again with --no-takeover this way).
  const extra = (process.env.PARLEYD_ARGS || "").split(/\s+/).filter(Boolean);
  const argv = ["--listen", `127.0.0.1:${port}`, "--data", data, "--www", path.join(ROOT, "www"), ...extra, ...args];
  if (dev) argv.push("--dev");
  const child = spawn(PARLEYD, argv, {
    env: { ...process.env, PARLEY_JWT_SECRET: SECRET, PARLEY_PRESENCE_GRACE: "1", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (d) => {
    log += d;
    if (process.env.SERVER_LOG) process.stderr.write(d);
  });
  const exited = new Promise((r) => child.on("exit", (code, sig) => r({ code, sig })));
  const srv = {
    port,
    data,
    url: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}`,
    child,
    exited,
    log: () => log,
    async stop(signal = "SIGTERM") {
      running.delete(srv);
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    cleanup() {
      if (!dataDir) rmSync(data, { recursive: true, force: true });
    },
  };
  running.add(srv);
  stopped.push(srv);
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`parleyd exited: ${log}`);
    const r = await fetch(`${srv.url}/v1/health`).catch(() => null);
    return r && r.ok;
  }, "parleyd to start");
  return srv;
}

const SANITIZER = /(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ThreadSanitizer)[^\n]*/;
const stopped = [];

export async function stopAll() {
  for (const s of [...running]) {
    const r = await s.stop();
    if (r.sig && r.sig !== "SIGTERM") console.log(`note: parleyd ended by ${r.sig}`);
    s.cleanup();
  }
  const reports = [];
  for (const s of stopped) {
    const m = SANITIZER.exec(s.log());
    if (m) {
      reports.push(m[0]);
      process.stderr.write(s.log());
    }
  }
  return reports;
}

export function token(user, ttl = 3600) {
  return execFileSync(PARLEYD, ["token", user, "--ttl", String(ttl)], {
    env: { ...process.env, PARLEY_JWT_SECRET: SECRET },
  })
    .toString()
    .trim();
}

/** One server shared by a suite's tests (or the front end PARLEY_TARGET_URL
 * names, on the same store and secret), tokens cached per user, and
 * as(user, method, path, body, opts): api() as that user (null: no token). */
export function sharedClient() {
  let shared;
  const tokens = new Map();
  const server = async () => {
    const target = process.env.PARLEY_TARGET_URL;
    if (target)
      return { url: target, ws: target.replace(/^http/, "ws"), port: Number(new URL(target).port) };
    if (!shared) shared = startServer(); // the promise: concurrent callers share one server
    return shared;
  };
  const tok = (user) => {
    if (!tokens.has(user)) tokens.set(user, token(user));
    return tokens.get(user);
  };
  const as = async (user, method, p, body, opts = {}) =>
    api(opts.srv || (await server()), method, p, { tok: user ? tok(user) : undefined, body, ...opts });
  return { server, tok, as };
}

export async function api(srv, method, p, { tok, body, headers = {}, raw } = {}) {
  const h = { ...headers };
  if (tok) h.Authorization = `Bearer ${tok}`;
  let payload;
  if (raw !== undefined) payload = raw;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    if (!h["Content-Type"]) h["Content-Type"] = "application/json";
  }
  const r = await fetch(srv.url + p, { method, headers: h, body: payload });
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: r.status, body: json, text, headers: r.headers };
}
