// The admin stream on two nodes sharing Redis: each node's page names that
// node and shows the Redis link (connected, then not while Redis is down,
// then connected again); a message posted on one node is delivered by the
// other, whose latency histogram skips it (no commit time of its own).
import { execFileSync } from "node:child_process";
import { wsClient } from "../integration/clients.mjs";
import { PARLEYD, SECRET, api, assert, eq, requireNode, run, test, until } from "../integration/lib.mjs";
import { killRedis, startNode, startRedis, users } from "./lib.mjs";

const { EventSource } = requireNode("eventsource");
const admin = execFileSync(PARLEYD, ["token", "ops", "--admin"], { env: { ...process.env, PARLEY_JWT_SECRET: SECRET } })
  .toString()
  .trim();

function adminStream(srv) {
  const es = new EventSource(`${srv.url}/v1/admin/stats?token=${admin}`);
  const c = { stats: [] };
  es.addEventListener("stats", (e) => c.stats.push(JSON.parse(e.data)));
  es.onerror = () => {};
  c.last = () => c.stats[c.stats.length - 1];
  c.close = () => es.close();
  return c;
}

const A = await startNode();
const B = await startNode();
const tok = await users(A, ["ra", "rb"]);

test("each node's stream names that node and shows Redis connected, down, back", async () => {
  const a = adminStream(A);
  const b = adminStream(B);
  try {
    await until(() => a.last() && b.last(), "stats from both nodes", 15000);
    assert(a.last().node.endsWith(`:${A.port}`) && b.last().node.endsWith(`:${B.port}`),
      `nodes named: ${a.last().node}, ${b.last().node}`);
    eq(a.last().bus, "redis", "bus kind");
    await until(() => a.last().redis?.connected === true && b.last().redis?.connected === true, "Redis connected", 15000);
    await killRedis("SIGKILL");
    await until(() => a.last().redis?.connected === false && b.last().redis?.connected === false, "Redis down shown", 20000);
    await startRedis();
    await until(() => a.last().redis?.connected === true && b.last().redis?.connected === true, "Redis back shown", 30000);
  } finally {
    a.close();
    b.close();
  }
});

test("a message from the other node: delivered, not measured for latency", async () => {
  const b = adminStream(B);
  const w = wsClient(B, tok.rb);
  try {
    await w.ready();
    await until(() => b.stats.length >= 2, "B's figures", 15000);
    const from = b.stats.length;
    let n = 0;
    await until(async () => {
      const r = await api(A, "POST", "/v1/rooms/general/messages", { tok: tok.ra, body: { text: `across ${n++}` } });
      eq(r.status, 201, r.text);
      return w.events("message.created").length >= 3;
    }, "messages reaching B's client", 20000);
    await until(() => b.stats.slice(from).reduce((s, x) => s + x.deliveries_per_s, 0) > 0, "B's deliveries", 15000);
    const measured = b.stats.slice(from).reduce((s, x) => s + x.delivery_latency.count, 0);
    eq(measured, 0, "B measured no latency for A's commits");
    const m = (await api(A, "GET", "/metrics")).text;
    assert(/parley_store_commit_seconds_count [1-9]/.test(m), "A counted its commits");
  } finally {
    b.close();
    w.ws.close();
  }
});

await run("redis admin");
