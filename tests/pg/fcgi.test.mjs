// tests/pg/fcgi.test.mjs: parley.fcgi on PostgreSQL (the same engine code
// as parleyd), spoken to directly over FastCGI (--socket HOST:PORT), beside
// a parleyd with a data folder of its own on the same database: a post
// through parley.fcgi reaches parleyd's WebSocket subscriber (LISTEN/NOTIFY,
// nothing shared on disk), parleyd's posts are read and long-polled
// through parley.fcgi, and a client_id retry through either answers the
// first message.
//
// Run by tests/pg/suites.sh: env DATABASE_URL, PARLEYD, PARLEY_FCGI.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { api, assert, eq, freePort, run, startServer, test, token, until, SECRET } from "../integration/lib.mjs";
import { wsClient } from "../integration/clients.mjs";
import { fcgiRequest } from "../fcgi/fcgi.mjs";

const BASE = process.env.DATABASE_URL;
const BIN = process.env.PARLEY_FCGI;
if (!BASE || !BIN) {
  console.log("pg-fcgi: DATABASE_URL or PARLEY_FCGI unset (run through tests/pg/suites.sh)");
  console.log("pg-fcgi: 0 passed, 1 failed");
  process.exit(1);
}
const name = `f_${process.pid}_${Date.now()}`;
execFileSync("psql", [BASE, "-qc", `CREATE DATABASE ${name}`]);
const u = new URL(BASE);
u.pathname = `/${name}`;
const url = u.toString();

const srv = await startServer({ args: ["--database", url] });
const data = mkdtempSync(path.join(tmpdir(), "parley-pgfcgi-"));
const port = await freePort();
const FCGI = { host: "127.0.0.1", port };
const fcgi = spawn(BIN, ["--socket", `127.0.0.1:${port}`, "--data", data, "--database", url,
  "--threads", "4", "--max-polls", "2"], {
  env: { ...process.env, PARLEY_JWT_SECRET: SECRET },
  stdio: ["ignore", "ignore", "pipe"],
});
let log = "";
fcgi.stderr.on("data", (d) => (log += d));
const exited = new Promise((r) => fcgi.on("exit", (code, sig) => r({ code, sig })));
await until(async () => (await fcgiRequest(FCGI, "GET", "/v1/health").catch(() => null))?.status === 200,
  "parley.fcgi --socket to answer");

const alice = token("alice");
const bob = token("bob");
for (const t of [alice, bob]) await api(srv, "GET", "/v1/rooms", { tok: t });

test("a post through parley.fcgi reaches parleyd's WebSocket subscriber once", async () => {
  const w = wsClient(srv, bob, "rooms=general");
  await w.ready();
  const r = await fcgiRequest(FCGI, "POST", "/v1/rooms/general/messages", {
    tok: alice, body: { text: "via fastcgi", client_id: "f1" },
  });
  eq(r.status, 201, r.text);
  await until(() => w.events("message.created").some((e) => e.data.id === r.body.id), "delivery");
  const again = await api(srv, "POST", "/v1/rooms/general/messages", {
    tok: alice, body: { text: "via fastcgi", client_id: "f1" },
  });
  eq(again.status, 200, "the retry through parleyd answers the first");
  eq(again.body.id, r.body.id);
  eq(w.events("message.created").filter((e) => e.data.id === r.body.id).length, 1, "once");
  await w.close();
});

test("parleyd's posts read and long-polled through parley.fcgi", async () => {
  const first = await fcgiRequest(FCGI, "GET", "/v1/poll?rooms=general&cursor=0&timeout=0", { tok: bob });
  eq(first.status, 200, first.text);
  let cursor = first.body.cursor;
  for (;;) {
    const n = await fcgiRequest(FCGI, "GET", `/v1/poll?rooms=general&cursor=${cursor}&timeout=0`, { tok: bob });
    if (n.body.cursor === cursor) break;
    cursor = n.body.cursor;
  }
  const waiting = fcgiRequest(FCGI, "GET", `/v1/poll?rooms=general&cursor=${cursor}&timeout=20`, { tok: bob });
  const p = await api(srv, "POST", "/v1/rooms/general/messages", { tok: alice, body: { text: "from parleyd" } });
  eq(p.status, 201);
  let got = await waiting;
  // An answer may come before the post (an empty one at the timeout): poll on.
  for (let i = 0; i < 5 && !got.body.events.some((e) => e.data?.id === p.body.id); i++)
    got = await fcgiRequest(FCGI, "GET", `/v1/poll?rooms=general&cursor=${got.body.cursor}&timeout=20`, { tok: bob });
  assert(got.body.events.some((e) => e.type === "message.created" && e.data.id === p.body.id), "long-poll delivery");
  const h = await fcgiRequest(FCGI, "GET", "/v1/rooms/general/messages?limit=5", { tok: bob });
  eq(h.status, 200);
  const mine = await api(srv, "GET", "/v1/rooms/general/messages?limit=5", { tok: bob });
  eq(JSON.stringify(h.body), JSON.stringify(mine.body), "the same page from both");
});

test("parley.fcgi stops on SIGTERM", async () => {
  fcgi.kill("SIGTERM");
  const r = await exited;
  eq(r.code, 0, log);
});

process.on("exit", () => rmSync(data, { recursive: true, force: true }));
await run("pg-fcgi");
