// tests/pg/cluster.test.mjs: two parleyd nodes sharing one PostgreSQL
// database and nothing else (separate --data folders, no Redis): what is
// posted on one reaches the other's subscribers exactly once, with ids
// rising, and resume works on either node; and a node refuses to start on
// a wrong URL, an unreachable server or a database of another schema,
// with a clear message that never holds the password.
//
// Run by tests/pg/suites.sh inside a scratch server (tests/pg/pgscratch.sh):
// env DATABASE_URL (the "parley" role, which may create databases),
// PARLEYD (the real binary).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { api, assert, eq, run, startServer, test, token, until, PARLEYD, SECRET } from "../integration/lib.mjs";
import { wsClient } from "../integration/clients.mjs";
import { checkExactlyOnce, sender, settle, sseCollector, wsCollector } from "../integration/resume.mjs";

const BASE = process.env.DATABASE_URL;
if (!BASE) {
  console.log("cluster: DATABASE_URL unset (run through tests/pg/suites.sh)");
  console.log("cluster: 0 passed, 1 failed");
  process.exit(1);
}
const PASSWORD = new URL(BASE).password;

function psql(url, sql) {
  return execFileSync("psql", [url, "-tAqc", sql]).toString().trim();
}
function freshDb(tag) {
  const name = `c_${tag}_${process.pid}_${Date.now()}`;
  psql(BASE, `CREATE DATABASE ${name}`);
  const u = new URL(BASE);
  u.pathname = `/${name}`;
  return u.toString();
}

const url = freshDb("two");
const a = await startServer({ args: ["--database", url] });
const b = await startServer({ args: ["--database", url] });
const alice = token("alice");
const bob = token("bob");
for (const t of [alice, bob]) {
  await api(a, "GET", "/v1/rooms", { tok: t });
  await api(b, "GET", "/v1/rooms", { tok: t });
}

test("two nodes: separate data folders, one database", async () => {
  assert(a.data !== b.data, "separate folders");
  const h = await api(b, "GET", "/v1/health");
  eq(h.status, 200);
});

test("a REST post on node A reaches a WebSocket subscriber on node B exactly once", async () => {
  const w = wsClient(b, bob, "rooms=general");
  await w.ready();
  const r = await api(a, "POST", "/v1/rooms/general/messages", { tok: alice, body: { text: "across" } });
  eq(r.status, 201);
  await until(() => w.events("message.created").some((e) => e.data.id === r.body.id), "delivery on B");
  // A later post on B itself: once it arrived, the first cannot come again.
  const r2 = await api(b, "POST", "/v1/rooms/general/messages", { tok: alice, body: { text: "local" } });
  await until(() => w.events("message.created").some((e) => e.data.id === r2.body.id), "delivery of B's own");
  eq(w.events("message.created").filter((e) => e.data.id === r.body.id).length, 1, "exactly once");
  await w.close();
});

test("posts on both nodes at once: every subscriber on every node gets each once, ids rising", async () => {
  const subs = [wsCollector(a, bob, "general", 0), wsCollector(b, bob, "general", 0)];
  // Start after what is stored: resume from the log's end.
  const start = (await api(a, "GET", "/v1/rooms/general/messages?limit=1", { tok: bob })).body.messages;
  const first = start.length ? start[start.length - 1].id : 0;
  for (const s of subs) await s.close();
  const last = await lastEventId(a);
  const ws = [wsCollector(a, bob, "general", last), wsCollector(b, bob, "general", last)];
  const sse = [sseCollector(a, bob, "general", last), sseCollector(b, bob, "general", last)];
  const sa = sender(a, alice);
  const sb = sender(b, alice);
  const [ia, ib] = await Promise.all([sa.post("general", 60, "na"), sb.post("general", 60, "nb")]);
  const expected = [...ia, ...ib].sort((x, y) => x - y);
  assert(expected[0] > first, "new ids");
  await settle([...ws, ...sse], { want: expected.length });
  // The log's order is the event ids' (commit order across nodes); message
  // ids are drawn at insert, so two nodes' messages may interleave
  // differently there (docs/ARCHITECTURE.md "Ordering on PostgreSQL").
  // Every stream gets the log's order, each message once, and each node's
  // own messages in their id order.
  const order = ws[0].list().map((e) => e.data.id);
  eq([...order].sort((x, y) => x - y).join(), expected.join(), "the same messages");
  for (const c of [...ws, ...sse]) checkExactlyOnce(c, order);
  for (const own of [ia, ib]) {
    const mine = order.filter((id) => own.includes(id));
    eq(mine.join(), own.join(), "a node's messages in its order");
  }
  for (const c of [...ws, ...sse]) await c.close();
  await sa.close();
  await sb.close();
});

test("resume on the other node: what was posted on A while away comes once on B", async () => {
  const last = await lastEventId(b);
  const sa = sender(a, alice);
  const ids = await sa.post("general", 25, "away");
  await sa.close();
  const c = wsCollector(b, bob, "general", last);
  await settle([c], { want: ids.length });
  checkExactlyOnce(c, ids);
  await c.close();
});

test("history and rooms agree on both nodes", async () => {
  const ha = await api(a, "GET", "/v1/rooms/general/messages?limit=20", { tok: bob });
  const hb = await api(b, "GET", "/v1/rooms/general/messages?limit=20", { tok: bob });
  eq(ha.text, hb.text, "the same page");
  const room = await api(a, "POST", "/v1/rooms", { tok: alice, body: { id: "shared", name: "Shared" } });
  eq(room.status, 201);
  const again = await api(b, "POST", "/v1/rooms", { tok: alice, body: { id: "shared", name: "Shared" } });
  eq(again.status, 409, "the room is taken on the other node too");
});

// The newest event id a node's replay shows (a poll from 0 with no wait).
async function lastEventId(srv) {
  const r = await fetch(`${srv.url}/v1/poll?token=${bob}&rooms=general&cursor=0&timeout=0`);
  const body = await r.json();
  let cursor = body.cursor;
  for (;;) {
    const n = await fetch(`${srv.url}/v1/poll?token=${bob}&rooms=general&cursor=${cursor}&timeout=0`);
    const nb = await n.json();
    if (nb.cursor === cursor) return cursor;
    cursor = nb.cursor;
  }
}

/* ---- refusing to start ---- */

function startFails(databaseUrl) {
  const data = mkdtempSync(path.join(tmpdir(), "parley-pgfail-"));
  return new Promise((resolve) => {
    const child = spawn(PARLEYD, ["--listen", "127.0.0.1:0", "--data", data, "--database", databaseUrl], {
      env: { ...process.env, PARLEY_JWT_SECRET: SECRET },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30000);
    child.on("exit", (code, sig) => {
      clearTimeout(timer);
      rmSync(data, { recursive: true, force: true });
      resolve({ code, sig, out });
    });
  });
}

function refused(r, what, words) {
  assert(r.code !== 0 && r.code !== null, `${what}: exit ${r.code} ${r.sig || ""} (${r.out})`);
  assert(words.test(r.out), `${what}: the message says why: ${r.out}`);
  assert(!r.out.includes(PASSWORD), `${what}: no password in: ${r.out}`);
}

test("start refused: not a PostgreSQL URL", async () => {
  refused(await startFails(`mysql://parley:${PASSWORD}@127.0.0.1/parley`), "mysql URL", /PostgreSQL URL/);
});

test("start refused: nothing listens there", async () => {
  const u = new URL(BASE);
  u.port = "1"; // no server on port 1
  refused(await startFails(u.toString()), "unreachable", /reach|connect|refused/i);
});

test("start refused: a wrong password", async () => {
  const u = new URL(BASE);
  u.password = `${PASSWORD}x`;
  const r = await startFails(u.toString());
  refused(r, "wrong password", /password|authenticat|login|refused/i);
  assert(!r.out.includes(`${PASSWORD}x`), "not the wrong one either");
});

test("start refused: a database of a newer schema, and one holding other tables", async () => {
  const newer = freshDb("newer");
  const r0 = await startServer({ args: ["--database", newer] });
  await r0.stop();
  psql(newer, "INSERT INTO schema_version(version) VALUES(999)");
  refused(await startFails(newer), "newer schema", /newer|schema|version/i);
  const foreign = freshDb("foreign");
  psql(foreign, "CREATE TABLE invoices(id int)");
  refused(await startFails(foreign), "foreign tables", /schema|not Parley|tables/i);
});

await run("cluster");
