// Redis goes away and comes back (empty: no persistence).  The nodes log
// it once each way, keep serving REST and their own push clients, then
// deliver across nodes again; what was posted during the outage reaches the
// other node's clients from the store.
import { wsClient } from "../integration/clients.mjs";
import { api, assert, eq, run, sleep, test, until } from "../integration/lib.mjs";
import { GRACE, killRedis, redis, startNode, startRedis, statuses, users } from "./lib.mjs";

const A = await startNode();
const B = await startNode();
const tok = await users(A, ["alice", "bob", "hank", "ivy", "watch"]);
const status = async (srv, user) => (await api(srv, "GET", `/v1/users/${user}/status`, { tok: tok.watch })).body;
const count = (log, re) => (log.match(re) || []).length;

test("Redis restart: clear log lines, local service goes on, catch-up from the store after", async () => {
  const w = wsClient(B, tok.watch, "presence=hank,alice");
  await w.ready(); // before hank connects, to hear him come online
  const bob = wsClient(B, tok.bob);
  const alice = wsClient(A, tok.alice);
  const hank = wsClient(A, tok.hank); // online all along, on A only
  await Promise.all([bob.ready(), alice.ready(), hank.ready()]);
  await until(() => statuses(w, "hank").includes("online"), "hank online");

  await killRedis("SIGKILL");
  await until(() => /redis: lost the connection/.test(A.log()) && /redis: lost the connection/.test(B.log()),
    "the 'lost' log line on both nodes");

  // REST and local push on node A still work.
  const during = await api(A, "POST", "/v1/rooms/general/messages", { tok: tok.alice, body: { text: "during" } });
  eq(during.status, 201, "post during the outage");
  await until(() => alice.events("message.created").some((e) => e.id === during.body.id), "local push on A");
  eq((await api(B, "GET", "/v1/rooms/general/messages?limit=5", { tok: tok.bob })).status, 200, "REST on B");
  eq((await status(B, "hank")).status, "online", "hank still shown online on B");
  await sleep(2500); // a few reconnect attempts
  eq(count(A.log(), /redis: lost the connection/g), 1, "one 'lost' line on A");
  assert(!/cannot connect/.test(A.log()), "no line per retry");
  assert(A.child.exitCode === null && B.child.exitCode === null, "both nodes alive");

  await startRedis();
  await until(() => /connected to .* again/.test(A.log()) && /connected to .* again/.test(B.log()),
    "the 'back' log line on both nodes", 20000);
  // Posted during the outage: reaches bob on B through the store.
  await until(() => bob.events("message.created").some((e) => e.id === during.body.id),
    "the outage's message on node B");
  // Live again across nodes.
  const after = await api(A, "POST", "/v1/rooms/general/messages", { tok: tok.alice, body: { text: "after" } });
  await until(() => bob.events("message.created").some((e) => e.id === after.body.id), "cross-node after");
  eq(bob.events("message.created").filter((e) => e.id === during.body.id).length, 1, "once");
  // Presence was re-registered into the empty Redis.
  await until(() => redis("hget", "parley:count", "hank") === "1", "hank re-registered");
  eq((await status(B, "hank")).connections, 1, "hank's count seen on B");
  eq(statuses(w, "hank").filter((s) => s === "offline").length, 0, "hank never went offline");
  await sleep(GRACE * 1000 + 1000);
  eq((await status(B, "hank")).status, "online");
  for (const c of [bob, alice, hank, w]) await c.close();
});

test("a user who left during the outage goes offline once Redis is back", async () => {
  const w = wsClient(B, tok.watch, "presence=ivy");
  await w.ready();
  const a = wsClient(A, tok.ivy);
  await a.ready();
  await until(() => statuses(w, "ivy").includes("online"), "online");
  const lost = count(A.log(), /redis: lost the connection/g);
  const back = count(A.log(), /connected to .* again/g);
  await killRedis("SIGTERM");
  await until(() => count(A.log(), /redis: lost the connection/g) === lost + 1, "lost again");
  await a.close();
  await sleep(500);
  await startRedis();
  await until(() => count(A.log(), /connected to .* again/g) === back + 1, "back again", 20000);
  await until(() => statuses(w, "ivy").includes("offline"), "offline after the outage", 15000);
  await sleep(GRACE * 1000 + 5500);
  eq(statuses(w, "ivy"), ["online", "offline"], "offline once");
  eq((await status(B, "ivy")).status, "offline");
  await w.close();
});

test("a node started while Redis is down serves, and joins once Redis is up", async () => {
  const back = count(B.log(), /connected to .* again/g);
  await killRedis("SIGKILL");
  const C = await import("../integration/lib.mjs").then(({ startServer }) =>
    startServer({ args: ["--redis", `redis://127.0.0.1:${process.env.REDIS_PORT}`], dataDir: A.data }));
  await until(() => /redis: cannot connect to/.test(C.log()), "the 'cannot connect' line");
  eq((await api(C, "GET", "/v1/health")).status, 200, "health");
  const bob = wsClient(B, tok.bob);
  await bob.ready();
  await startRedis();
  await until(() => /connected to .* again/.test(C.log()), "C connected");
  await until(() => count(B.log(), /connected to .* again/g) === back + 1, "B back");
  const r = await api(C, "POST", "/v1/rooms/general/messages", { tok: tok.alice, body: { text: "from C" } });
  await until(() => bob.events("message.created").some((e) => e.id === r.body.id), "C's message on B");
  await bob.close();
  await C.stop();
});

await run("redis outage");
