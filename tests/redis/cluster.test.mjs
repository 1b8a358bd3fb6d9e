// Two parleyd nodes on one Redis: wake-ups, ephemeral events and presence
// across nodes.
import { wsClient } from "../integration/clients.mjs";
import { api, assert, eq, run, sleep, test, until } from "../integration/lib.mjs";
import { GRACE, redis, startNode, statuses, users } from "./lib.mjs";

const A = await startNode();
const B = await startNode();
const tok = await users(A, ["alice", "bob", "carol", "dave", "erin", "watch"]);

const status = async (srv, user) => (await api(srv, "GET", `/v1/users/${user}/status`, { tok: tok.watch })).body;

test("a message posted on node A reaches a WebSocket on node B, once, with the same id", async () => {
  const bob = wsClient(B, tok.bob);
  await bob.ready();
  const alice = wsClient(A, tok.alice);
  await alice.ready();
  const r = await api(A, "POST", "/v1/rooms/general/messages", { tok: tok.alice, body: { text: "across" } });
  eq(r.status, 201, "post");
  const got = await until(
    () => bob.events("message.created").find((e) => e.data.text === "across"),
    "the message on node B",
  );
  eq(got.id, r.body.id, "same id on both nodes");
  await until(() => alice.events("message.created").some((e) => e.id === r.body.id), "the message on node A");
  // And the other way round.
  const r2 = await api(B, "POST", "/v1/rooms/general/messages", { tok: tok.bob, body: { text: "back" } });
  await until(() => alice.events("message.created").some((e) => e.id === r2.body.id), "B's message on A");
  await sleep(300);
  eq(bob.events("message.created").filter((e) => e.id === r.body.id).length, 1, "delivered once");
  await bob.close();
  await alice.close();
});

test("typing on node A reaches the room's members on node B", async () => {
  eq((await api(A, "POST", "/v1/rooms", { tok: tok.alice, body: { id: "duo", name: "duo" } })).status, 201);
  eq((await api(B, "POST", "/v1/rooms/duo/join", { tok: tok.bob })).status < 300, true, "join");
  const bob = wsClient(B, tok.bob);
  await bob.ready();
  eq((await api(A, "POST", "/v1/rooms/duo/typing", { tok: tok.alice, body: { typing: true } })).status, 204);
  const t = await until(() => bob.events("typing").find((e) => e.room === "duo"), "typing on node B");
  eq(t.data, { user: "alice", typing: true });
  // A WebSocket typing frame on B reaches a client on A too.
  const alice = wsClient(A, tok.alice);
  await alice.ready();
  bob.send({ type: "typing", room: "duo", typing: true });
  await until(() => alice.events("typing").some((e) => e.data.user === "bob"), "typing on node A");
  await bob.close();
  await alice.close();
});

test("two tabs on two nodes: one closes, the user stays online; both close: offline once", async () => {
  const wA = wsClient(A, tok.watch, "presence=carol");
  const wB = wsClient(B, tok.watch, "presence=carol");
  await wA.ready();
  await wB.ready();
  const t1 = wsClient(A, tok.carol);
  await t1.ready();
  await until(() => statuses(wA, "carol").includes("online"), "online seen on A");
  await until(() => statuses(wB, "carol").includes("online"), "online seen on B");
  const t2 = wsClient(B, tok.carol);
  await t2.ready();
  await until(async () => (await status(A, "carol")).connections === 2, "2 connections seen from A");
  eq((await status(B, "carol")).connections, 2, "2 connections seen from B");
  eq(redis("hget", "parley:count", "carol"), "2", "the global count");
  await t1.close();
  await until(async () => (await status(B, "carol")).connections === 1, "1 connection seen from B");
  await sleep(GRACE * 1000 + 1500);
  eq((await status(A, "carol")).status, "online", "still online (from A)");
  eq((await status(B, "carol")).status, "online", "still online (from B)");
  eq(statuses(wA, "carol"), ["online"], "no offline with a tab open (A)");
  eq(statuses(wB, "carol"), ["online"], "no offline with a tab open (B)");
  await t2.close();
  await until(() => statuses(wA, "carol").includes("offline"), "offline seen on A");
  await until(() => statuses(wB, "carol").includes("offline"), "offline seen on B");
  await sleep(GRACE * 1000 + 5500); // past a heartbeat's sweep too
  eq(statuses(wA, "carol"), ["online", "offline"], "exactly one online and one offline (A)");
  eq(statuses(wB, "carol"), ["online", "offline"], "exactly one online and one offline (B)");
  const st = await status(A, "carol");
  eq([st.status, st.connections], ["offline", 0]);
  assert(st.last_seen, "last_seen set");
  eq((await status(B, "carol")).status, "offline", "offline from B");
  eq(redis("hexists", "parley:count", "carol"), "0", "no count left");
  eq(redis("hexists", "parley:pending", "carol"), "0", "no grace period left");
  await wA.close();
  await wB.close();
});

test("offline comes only after the grace period", async () => {
  const w = wsClient(B, tok.watch, "presence=erin");
  await w.ready();
  const t = wsClient(A, tok.erin);
  await t.ready();
  await until(() => statuses(w, "erin").includes("online"), "online");
  const closed = Date.now();
  await t.close();
  await until(() => statuses(w, "erin").includes("offline"), "offline");
  const after = Date.now() - closed;
  assert(after >= GRACE * 1000 - 100, `offline after ${after} ms, before the grace period`);
  assert(after < GRACE * 1000 + 3000, `offline after ${after} ms: too late`);
  await w.close();
});

test("a reconnect to the other node within the grace period causes no events", async () => {
  const wA = wsClient(A, tok.watch, "presence=dave");
  const wB = wsClient(B, tok.watch, "presence=dave");
  await wA.ready();
  await wB.ready();
  const a = wsClient(A, tok.dave);
  await a.ready();
  await until(() => statuses(wA, "dave").length === 1 && statuses(wB, "dave").length === 1, "online");
  await a.close();
  const b = wsClient(B, tok.dave); // a reload that lands on the other node
  await b.ready();
  await sleep(GRACE * 1000 + 5500);
  eq(statuses(wA, "dave"), ["online"], "no offline/online pair (A)");
  eq(statuses(wB, "dave"), ["online"], "no offline/online pair (B)");
  eq((await status(A, "dave")).connections, 1);
  await b.close();
  await until(() => statuses(wA, "dave").includes("offline"), "offline at the end");
  await wA.close();
  await wB.close();
});

test("many connections and disconnections across nodes leave the counts exact", async () => {
  const clients = [];
  for (let i = 0; i < 10; i++) clients.push(wsClient(i % 2 ? A : B, tok.alice));
  await Promise.all(clients.map((c) => c.ready()));
  await until(async () => (await status(A, "alice")).connections === 10, "10 connections");
  eq(redis("hget", "parley:count", "alice"), "10");
  await Promise.all(clients.slice(0, 7).map((c) => c.close()));
  await until(async () => (await status(B, "alice")).connections === 3, "3 connections");
  await Promise.all(clients.slice(7).map((c) => c.close()));
  await until(async () => (await status(A, "alice")).status === "offline", "offline", 10000);
  eq(redis("hexists", "parley:count", "alice"), "0");
});

await run("redis cluster");
