// A node dies (kill -9) holding a user's only connection: the other nodes
// see the user offline within 30 s, once, and no count is left behind.
import { wsClient } from "../integration/clients.mjs";
import { api, assert, eq, run, sleep, test, until } from "../integration/lib.mjs";
import { redis, startNode, statuses, users } from "./lib.mjs";

const A = await startNode();
const C = await startNode();
const tok = await users(A, ["frank", "gina", "watch"]);
const status = async (srv, user) => (await api(srv, "GET", `/v1/users/${user}/status`, { tok: tok.watch })).body;

test("kill -9 of the node with a user's only connection: offline within 30 s on the other node", async () => {
  const w = wsClient(A, tok.watch, "presence=frank,gina");
  await w.ready();
  const f = wsClient(C, tok.frank); // only on C
  const g1 = wsClient(C, tok.gina); // on C and on A
  const g2 = wsClient(A, tok.gina);
  await Promise.all([f.ready(), g1.ready(), g2.ready()]);
  await until(() => statuses(w, "frank").includes("online") && statuses(w, "gina").includes("online"), "online");
  eq((await status(A, "gina")).connections, 2);
  eq(redis("scard", "parley:nodes"), "2");
  const killed = Date.now();
  C.child.kill("SIGKILL");
  await C.exited;
  await until(() => statuses(w, "frank").includes("offline"), "frank offline", 30000);
  const took = Date.now() - killed;
  console.log(`     (offline ${(took / 1000).toFixed(1)} s after the kill)`);
  assert(took < 30000, `took ${took} ms`);
  const st = await status(A, "frank");
  eq([st.status, st.connections], ["offline", 0], "status on A");
  // gina keeps her connection on A: online, one connection, no events.
  const gs = await status(A, "gina");
  eq([gs.status, gs.connections], ["online", 1], "gina on A");
  await sleep(1500);
  eq(statuses(w, "frank"), ["online", "offline"], "frank: one transition each way");
  eq(statuses(w, "gina"), ["online"], "gina: no events");
  eq(redis("scard", "parley:nodes"), "1", "the dead node is gone from the node set");
  eq(redis("hget", "parley:count", "gina"), "1");
  eq(redis("hexists", "parley:count", "frank"), "0");
  await g2.close();
  await w.close();
});

test("a node that stops gracefully takes its users out of the count", async () => {
  const D = await startNode();
  const w = wsClient(A, tok.watch, "presence=frank");
  await w.ready();
  const f = wsClient(D, tok.frank);
  await f.ready();
  await until(() => statuses(w, "frank").includes("online"), "online");
  const stopped = Date.now();
  await D.stop();
  // Its clients get a 1001 close; the grace period then runs on Redis and
  // a surviving node's sweep (every 5 s) reports it.
  await until(() => statuses(w, "frank").includes("offline"), "offline", 15000);
  console.log(`     (offline ${((Date.now() - stopped) / 1000).toFixed(1)} s after the stop)`);
  eq(statuses(w, "frank"), ["online", "offline"]);
  eq(redis("hexists", "parley:count", "frank"), "0");
  eq(redis("scard", "parley:nodes"), "1");
  await w.close();
});

await run("redis crash");
