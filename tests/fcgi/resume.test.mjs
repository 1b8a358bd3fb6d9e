// tests/fcgi/resume.test.mjs: parley.fcgi's long-poll resumes without a
// gap or a repeat however far behind the client is.
//
// A stack of its own (its counts need a store nobody else writes to, and
// no post rate limit): parleyd (--post-rate 0) and parley.fcgi alone on a
// TCP socket (--socket HOST:PORT) on the same data folder, spoken to as a
// web server does (FastCGI records, tests/fcgi/fcgi.mjs).  Messages are
// posted through parleyd's WebSocket, all in flight at once; a client
// polls parley.fcgi from the cursor of each answer after 1, 99, 100, 101,
// 255, 256, 257 and 5,000 missed messages, and must get every one once, in
// order.  Then with messages posted through parley.fcgi itself (REST, 8 at
// a time) while the polls catch up.
//
// Environment: PARLEYD, PARLEY_FCGI (run.sh sets them); RESUME_SUITE names
// the result line.
import { spawn } from "node:child_process";
import { SECRET, api, assert, eq, freePort, run, startServer, test, token, until } from "../integration/lib.mjs";
import { checkExactlyOnce, pollCollector, pool, sender, settle } from "../integration/resume.mjs";
import { fcgiRequest } from "./fcgi.mjs";

const BIN = process.env.PARLEY_FCGI;
const srv = await startServer({ args: ["--post-rate", "0"] });
const port = await freePort();
const FCGI = { host: "127.0.0.1", port };
const fcgi = spawn(BIN, ["--socket", `127.0.0.1:${port}`, "--data", srv.data, "--threads", "8",
  "--max-polls", "4", "--post-rate", "0"], {
  env: { ...process.env, PARLEY_JWT_SECRET: SECRET },
  stdio: ["ignore", "ignore", "pipe"],
});
let fcgiLog = "";
fcgi.stderr.on("data", (d) => (fcgiLog += d));
const fcgiExited = new Promise((r) => fcgi.on("exit", (code, sig) => r({ code, sig })));
await until(async () => (await fcgiRequest(FCGI, "GET", "/v1/health").catch(() => null))?.status === 200,
  "parley.fcgi --socket to answer");

const alice = token("alice");
const bob = token("bob");
for (const t of [alice, bob]) await api(srv, "GET", "/v1/rooms", { tok: t });
const out = sender(srv, bob);

const pollFcgi = (q) => fcgiRequest(FCGI, "GET", `/v1/poll?${q}`, { tok: alice });

async function room(id) {
  const r = await api(srv, "POST", "/v1/rooms", { tok: bob, body: { id, name: id } });
  assert(r.status === 201, `create ${id}: ${r.status} ${r.text}`);
  const j = await api(srv, "POST", `/v1/rooms/${id}/join`, { tok: alice });
  assert(j.status < 300, `join ${id}: ${j.status} ${j.text}`);
}

/** Posts n messages through parley.fcgi (REST, 8 at a time): their ids. */
async function postFcgi(id, n) {
  const ids = await pool([...Array(n).keys()], 8, async (i) => {
    const r = await fcgiRequest(FCGI, "POST", `/v1/rooms/${id}/messages`, { tok: bob, body: { text: `fcgi ${i}` } });
    assert(r.status === 201, `post through parley.fcgi: ${r.status} ${r.text}`);
    return r.body.id;
  });
  return ids;
}

async function resumeCase(n, during) {
  const id = `f${n}${during ? "d" : ""}`;
  await room(id);
  const start = await pollFcgi(`rooms=${id}&timeout=0`);
  eq(start.status, 200);
  const last = start.body.cursor;
  let expected = await out.post(id, n, id);
  const c = pollCollector("parley.fcgi long-poll", pollFcgi, id, last);
  const t0 = Date.now();
  if (during) expected = expected.concat(await postFcgi(id, during));
  expected.sort((a, b) => a - b); // stored in id order, whoever posted
  await settle([c], { want: expected.length });
  const tResume = Date.now() - t0;
  const [closing] = await out.post(id, 1, `${id}-end`);
  c.until(closing);
  await settle([c], { id: closing });
  await c.close();
  console.log(`     ${n}${during ? ` + ${during} during` : ""}: caught up in ${tResume} ms, ${c.polls()} polls`);
  checkExactlyOnce(c, expected.concat([closing]));
}

for (const n of [1, 99, 100, 101, 255, 256, 257, 5000])
  test(`parley.fcgi long-poll resume after ${n} missed messages: each once, in order`, () => resumeCase(n, 0));
test("parley.fcgi long-poll resume after 257 missed, 300 posted through parley.fcgi meanwhile", () => resumeCase(257, 300));
test("parley.fcgi long-poll resume after 5000 missed, 1000 posted through parley.fcgi meanwhile", () => resumeCase(5000, 1000));

test("parley.fcgi: a full answer's cursor is its last event", async () => {
  const r = await pollFcgi("rooms=f5000&cursor=0&timeout=1");
  eq(r.status, 200);
  const stored = r.body.events.filter((e) => e.id > 0);
  eq(stored.length, 100, "a full answer");
  eq(r.body.cursor, stored[stored.length - 1].id, "its cursor is its last event");
});

test("parley.fcgi stops gracefully on SIGTERM", async () => {
  await out.close();
  fcgi.kill("SIGTERM");
  const e = await fcgiExited;
  eq(e.code, 0, `exit status (${fcgiLog.slice(-500)})`);
  assert(!/ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ThreadSanitizer/.test(fcgiLog),
    `sanitizer report: ${fcgiLog.slice(-2000)}`);
});

await run(process.env.RESUME_SUITE || "fcgi-resume");
if (fcgi.exitCode === null && fcgi.signalCode === null) fcgi.kill("SIGKILL");
