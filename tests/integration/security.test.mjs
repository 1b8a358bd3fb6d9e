// The local attack surface (issue 13 items 6 and 8): who may use the bus
// socket, the modes of the data folder's files, the JWT secret's length,
// the web client's security headers, and what an invisible user's
// last_seen tells. Runs as root (it sends datagrams as "nobody").
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { api, assert, eq, PARLEYD, ROOT, run, sleep, startServer, test, token, until } from "./lib.mjs";
import { wsClient } from "./clients.mjs";

const BUSSEND = process.env.BUSSEND || path.join(path.dirname(PARLEYD), "tests/bussend");
const asRoot = process.getuid && process.getuid() === 0;
const NOBODY = 65534; // Debian's nobody and nogroup

// Sends one datagram; true if the kernel took it.
function bussend(sock, kind, payload, opts = []) {
  const r = spawnSync(BUSSEND, [...opts, sock, kind, payload], { encoding: "utf8" });
  return r.status === 0;
}
const mode = (p) => statSync(p).mode & 0o7777;
const octal = (m) => "0" + m.toString(8);
const presenceOf = (c, user) => c.events("presence").filter((e) => e.data.user === user);

test("a data folder parleyd creates is 0700; parley.db, -wal, -shm and the bus 0600", async () => {
  const parent = mkdtempSync(path.join(tmpdir(), "parley-sec-"));
  const data = path.join(parent, "data");
  const srv = await startServer({ dataDir: data });
  // A write makes sure the WAL and its index exist.
  eq((await api(srv, "POST", "/v1/rooms", { tok: token("modes"), body: { name: "m" } })).status, 201);
  const seen = {};
  for (const f of ["", "parley.db", "parley.db-wal", "parley.db-shm", "parley.bus"])
    seen[f || "folder"] = octal(mode(path.join(data, f)));
  await srv.stop();
  rmSync(parent, { recursive: true, force: true });
  eq(seen, { folder: "0700", "parley.db": "0600", "parley.db-wal": "0600", "parley.db-shm": "0600", "parley.bus": "0600" });
});

test("a store an older version left 0644 is made 0600 at start", async () => {
  const parent = mkdtempSync(path.join(tmpdir(), "parley-sec-"));
  const data = path.join(parent, "data");
  let srv = await startServer({ dataDir: data });
  await srv.stop();
  chmodSync(path.join(data, "parley.db"), 0o644);
  srv = await startServer({ dataDir: data });
  const m = mode(path.join(data, "parley.db"));
  await srv.stop();
  rmSync(parent, { recursive: true, force: true });
  eq(octal(m), "0600");
});

test("a datagram from another uid changes nothing; one from the server's uid works", async () => {
  assert(asRoot, "this test runs as root (it sends as nobody)");
  const srv = await startServer();
  const sock = path.join(srv.data, "parley.bus");
  const tb = token("bob");
  const ta = token("alice");
  for (const t of [ta, tb]) await api(srv, "GET", "/v1/rooms", { tok: t }); // both in general
  const watcher = wsClient(srv, tb, "presence=alice");
  await watcher.ready();
  // The socket's mode keeps nobody out...
  assert(!bussend(sock, "C", "+alice", ["--as", "nobody"]), "nobody could reach the bus socket");
  // ...and a socket opened before dropping to nobody is refused by credentials.
  const typing = JSON.stringify({ type: "typing", room: "general", ts: "2026-01-01T00:00:00.000Z", data: { user: "alice", typing: true } });
  assert(bussend(sock, "C", "+alice", ["--as", "nobody", "--connect-first"]), "the forged datagram was sent");
  assert(bussend(sock, "E", typing, ["--as", "nobody", "--connect-first"]), "the forged typing was sent");
  await sleep(1500);
  eq(presenceOf(watcher, "alice").length, 0, "forged presence reached bob");
  eq(watcher.events("typing").length, 0, "forged typing reached bob");
  eq((await api(srv, "GET", "/v1/users/alice/status", { tok: tb })).body.status, "offline");
  await until(() => /bus: dropped 1 datagram\(s\) from a process of another user \(last: uid 65534/.test(srv.log()), "the log line");
  // The same datagrams from the server's own uid (parley.fcgi) work.
  assert(bussend(sock, "C", "+alice"), "own datagram sent");
  assert(bussend(sock, "E", typing), "own typing sent");
  await until(() => presenceOf(watcher, "alice").some((e) => e.data.status === "online"), "alice online");
  await until(() => watcher.events("typing").some((e) => e.data.user === "alice"), "alice typing");
  // Many more forged ones: still one log line (a minute apart at most).
  for (let i = 0; i < 20; i++) bussend(sock, "C", "-alice", ["--as", "nobody", "--connect-first"]);
  await sleep(500);
  eq((srv.log().match(/bus: dropped/g) || []).length, 1, "log lines for dropped datagrams");
  eq((await api(srv, "GET", "/v1/users/alice/status", { tok: tb })).body.status, "online");
  assert(bussend(sock, "C", "-alice"), "own minus sent");
  await watcher.close();
  await srv.stop();
});

test("a data folder shared with a group: files 0660, and that group may use the bus", async () => {
  assert(asRoot, "this test runs as root");
  const parent = mkdtempSync(path.join(tmpdir(), "parley-sec-"));
  const data = path.join(parent, "data");
  mkdirSync(data);
  chownSync(data, 0, NOBODY);
  chmodSync(data, 0o2770);
  const srv = await startServer({ dataDir: data });
  const sock = path.join(data, "parley.bus");
  const seen = { db: octal(mode(path.join(data, "parley.db"))), bus: octal(mode(sock)) };
  const tb = token("bob");
  await api(srv, "GET", "/v1/rooms", { tok: tb });
  const watcher = wsClient(srv, tb, "presence=carol");
  await watcher.ready();
  // nobody's group is the folder's: accepted.
  assert(bussend(sock, "C", "+carol", ["--as", "nobody", "--connect-first"]), "sent");
  await until(() => presenceOf(watcher, "carol").some((e) => e.data.status === "online"), "carol online");
  bussend(sock, "C", "-carol");
  await watcher.close();
  await srv.stop();
  rmSync(parent, { recursive: true, force: true });
  eq(seen, { db: "0660", bus: "0660" });
});

test("a world-writable data folder is named in a warning at start", async () => {
  const parent = mkdtempSync(path.join(tmpdir(), "parley-sec-"));
  const data = path.join(parent, "data");
  mkdirSync(data);
  chmodSync(data, 0o777);
  const srv = await startServer({ dataDir: data });
  const said = srv.log();
  await srv.stop();
  rmSync(parent, { recursive: true, force: true });
  assert(/data folder .* is writable by every local user/.test(said), `log: ${said}`);
});

// ---- what the fuzzers found ----

test("a path that is not UTF-8 answers its 404 in JSON, not a 500 (fuzz_api)", async () => {
  const srv = await startServer();
  const r1 = await api(srv, "GET", "/v1/nope%FF");
  const r2 = await api(srv, "GET", "/v1/rooms/general/r%9B%A6eipts", { tok: token("utf") });
  await srv.stop();
  srv.cleanup();
  for (const r of [r1, r2]) {
    eq(r.status, 404, r.text);
    eq(r.body.error.code, "not_found");
  }
});

// ---- item 8: the web client's headers ----

test("the web client's files carry a Content-Security-Policy and refuse framing", async () => {
  const srv = await startServer();
  const seen = {};
  for (const p of ["/", "/app.js", "/style.css", "/parley.js"]) {
    const r = await fetch(srv.url + p);
    await r.arrayBuffer();
    seen[p] = {
      status: r.status,
      csp: r.headers.get("content-security-policy"),
      xfo: r.headers.get("x-frame-options"),
      nosniff: r.headers.get("x-content-type-options"),
    };
  }
  await srv.stop();
  srv.cleanup();
  for (const [p, h] of Object.entries(seen)) {
    eq(h.status, 200, p);
    assert(h.csp && /frame-ancestors 'none'/.test(h.csp), `${p}: CSP ${h.csp}`);
    assert(/default-src 'self'/.test(h.csp) && /script-src 'self'/.test(h.csp) && !/unsafe-inline/.test(h.csp), `${p}: ${h.csp}`);
    assert(/connect-src 'self' ws: wss:/.test(h.csp), `${p}: ${h.csp}`);
    eq(h.xfo, "DENY", `${p}: X-Frame-Options`);
    eq(h.nosniff, "nosniff", `${p}: X-Content-Type-Options`);
  }
});

// ---- item 8: an invisible user's last_seen ----

test("an invisible user's last_seen stays when they went invisible, whatever their sessions do", async () => {
  const srv = await startServer({ env: { PARLEY_PRESENCE_GRACE: "1" } });
  const tv = token("vera");
  const tw = token("walt");
  for (const t of [tv, tw]) await api(srv, "GET", "/v1/rooms", { tok: t });
  const seenBy = async () => (await api(srv, "GET", "/v1/users/vera/status", { tok: tw })).body;
  const tab = wsClient(srv, tv);
  await tab.ready();
  await until(async () => (await seenBy()).status === "online", "vera online");
  eq((await api(srv, "POST", "/v1/me/status", { tok: tv, body: { status: "invisible" } })).status, 200);
  const first = await seenBy();
  eq(first.status, "offline");
  assert(first.last_seen, "going invisible while online shows a last_seen (the moment she left, for others)");
  // Her session ends, a new one starts and ends: others learn nothing.
  await tab.close();
  await sleep(2500); // past the grace period: the offline transition happened
  const again = wsClient(srv, tv);
  await again.ready();
  await sleep(300);
  await again.close();
  await sleep(2500);
  const later = await seenBy();
  eq(later, first, "what walt sees");
  // Visible again while offline: still the moment she went invisible.
  eq((await api(srv, "POST", "/v1/me/status", { tok: tv, body: { status: "online" } })).status, 200);
  eq((await seenBy()).last_seen, first.last_seen);
  await srv.stop();
  srv.cleanup();
});

// ---- item 8: the JWT secret's length ----

const PARLEY_FCGI = process.env.PARLEY_FCGI || path.join(path.dirname(PARLEYD), "parley.fcgi");
const SHORT = "x".repeat(31);

test("a JWT secret under 32 bytes: parleyd refuses to start, saying why", async () => {
  const data = mkdtempSync(path.join(tmpdir(), "parley-sec-"));
  const env = { ...process.env, PARLEY_JWT_SECRET: SHORT };
  delete env.PARLEY_DEV;
  const r = spawnSync(PARLEYD, ["--listen", "127.0.0.1:0", "--data", data], { env, encoding: "utf8", timeout: 20000 });
  rmSync(data, { recursive: true, force: true });
  assert(r.status !== 0 && r.status !== null, `exit ${r.status} ${r.signal}`);
  assert(/secret is 31 bytes; at least 32/.test(r.stderr), `stderr: ${r.stderr}`);
});

test("a JWT secret under 32 bytes: parley.fcgi refuses to start too", async () => {
  const data = mkdtempSync(path.join(tmpdir(), "parley-sec-"));
  const env = { ...process.env, PARLEY_JWT_SECRET: SHORT };
  delete env.PARLEY_DEV;
  delete env.GATEWAY_INTERFACE;
  delete env.REQUEST_METHOD;
  const sock = path.join(data, "never.sock");
  const r = spawnSync(PARLEY_FCGI, ["--data", data, "--socket", sock], { env, encoding: "utf8", timeout: 20000 });
  let listened = true;
  try { statSync(sock); } catch { listened = false; }
  rmSync(data, { recursive: true, force: true });
  eq(r.status, 2, `exit (stderr: ${r.stderr})`);
  assert(/secret is 31 bytes; at least 32/.test(r.stderr), `stderr: ${r.stderr}`);
  assert(!listened, "a refused start made its socket");
});

test("a short secret is accepted in dev mode, with a warning", async () => {
  const srv = await startServer({ dev: true, env: { PARLEY_JWT_SECRET: SHORT } });
  assert(/secret is 31 bytes.*dev mode only/.test(srv.log()), `log: ${srv.log()}`);
  await srv.stop();
  srv.cleanup();
});

await run("security");
