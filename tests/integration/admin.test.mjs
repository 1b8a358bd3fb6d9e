// tests/integration/admin.test.mjs: the admin claim and GET /v1/admin/stats
// (an SSE stream of this node's figures, one "stats" event a second),
// against real WebSocket, SSE and long-poll clients; and the latency
// histograms of /metrics.
//
//   node tests/integration/admin.test.mjs      (PARLEYD=... to pick a binary)
import { execFileSync } from "node:child_process";
import { PARLEYD, SECRET, api, assert, eq, requireNode, run, startServer, test, token, until } from "./lib.mjs";
import net from "node:net";
import { wsClient } from "./clients.mjs";

const { EventSource } = requireNode("eventsource");

function adminToken(user, ttl = 3600) {
  return execFileSync(PARLEYD, ["token", user, "--admin", "--ttl", String(ttl)], {
    env: { ...process.env, PARLEY_JWT_SECRET: SECRET },
  })
    .toString()
    .trim();
}

/** The admin stream as the page opens it (EventSource, ?token=). */
function adminStream(srv, tok) {
  const es = new EventSource(`${srv.url}/v1/admin/stats?token=${tok}`);
  const c = { es, stats: [], hello: false, errors: 0 };
  es.addEventListener("hello", () => (c.hello = true));
  es.addEventListener("stats", (e) => c.stats.push(JSON.parse(e.data)));
  // any other event would be a leak of chat events into the admin stream
  es.addEventListener("message.created", () => (c.leaked = true));
  es.addEventListener("presence", () => (c.leaked = true));
  es.onerror = () => c.errors++;
  c.last = () => c.stats[c.stats.length - 1];
  c.close = () => es.close();
  return c;
}

function metric(text, name) {
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.slice(name.length + 1)) : undefined;
}

let srv;
const server = async () => (srv ||= await startServer());

test("401 without a token, 403 (JSON) with a token that has no admin claim", async () => {
  const s = await server();
  let r = await api(s, "GET", "/v1/admin/stats");
  eq(r.status, 401, r.text);
  eq(r.body.error.code, "unauthenticated", r.text);
  r = await api(s, "GET", "/v1/admin/stats", { tok: token("adm_plain") });
  eq(r.status, 403, r.text);
  eq(r.body.error.code, "permission_denied", r.text);
  assert(/admin/.test(r.body.error.message), r.text);
  r = await fetch(`${s.url}/v1/admin/stats?token=${token("adm_plain")}`);
  eq(r.status, 403, "403 with ?token= too");
  assert((r.headers.get("content-type") || "").startsWith("application/json"), "a JSON 403");
  await r.text();
  r = await api(s, "GET", "/v1/admin/stats", { tok: "not.a.token" });
  eq(r.status, 401, r.text);
});

test("parleyd token --admin makes a token with the claim; without it there is none", async () => {
  const claims = (t) => JSON.parse(Buffer.from(t.split(".")[1], "base64url").toString());
  eq(claims(adminToken("adm_root")).admin, true, "admin claim");
  eq(claims(token("adm_plain")).admin, undefined, "no admin claim");
  const t = execFileSync(PARLEYD, ["token", "adm_root", "--ttl", "60", "--admin"], {
    env: { ...process.env, PARLEY_JWT_SECRET: SECRET },
  }).toString().trim();
  const c = claims(t);
  eq(c.admin, true, "--ttl then --admin");
  assert(c.exp - c.iat === 60, `ttl kept: ${c.exp - c.iat}`);
});

test("the stream: a stats event a second with every field, named by node", async () => {
  const s = await server();
  const a = adminStream(s, adminToken("adm_root"));
  try {
    await until(() => a.stats.length >= 2, "two stats events", 15000);
    const st = a.last();
    for (const k of ["node", "ts", "connections", "users_online", "messages_per_s", "deliveries_per_s",
      "delivery_latency", "commit_latency", "slow_consumers_cut", "slow_consumers_cut_per_s", "webhook",
      "bus", "redis", "uptime_s"])
      assert(k in st, `field ${k} in ${JSON.stringify(st)}`);
    assert(st.node.endsWith(`:${s.port || new URL(s.url).port}`), `node names host:port: ${st.node}`);
    for (const t of ["ws", "sse", "poll"]) eq(typeof st.connections[t], "number", `connections.${t}`);
    for (const l of ["delivery_latency", "commit_latency"])
      for (const q of ["p50", "p99", "count"]) assert(q in st[l], `${l}.${q}`);
    eq(st.bus, "local", "bus kind");
    eq(st.redis, null, "no Redis");
    eq(st.webhook, null, "no webhook configured");
    assert(a.hello, "a hello event first");
    // the admin stream itself is no chat connection
    eq(st.connections.sse, 0, "the admin stream is not counted as an SSE connection");
    eq(st.users_online, 0, "nor is its user online");
    const r = await api(s, "GET", "/v1/users/adm_root/status", { tok: token("adm_plain") });
    eq(r.status, 200, r.text);
    assert(r.body.status !== "online", `the admin stream makes nobody online: ${r.text}`);
  } finally {
    a.close();
  }
});

/** An SSE stream on a plain socket: close() ends the TCP connection at
 * once, as a browser tab going away does (an aborted fetch may keep its
 * socket a while on some nodes, and the figures would wait for it). */
function rawSse(s, tok) {
  const sock = net.connect(s.port, "127.0.0.1");
  let got = "";
  sock.on("data", (d) => (got += d));
  sock.on("error", () => {});
  sock.on("connect", () =>
    sock.write(`GET /v1/events?token=${tok} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`));
  return {
    ready: () => until(() => got.includes("event: hello"), "sse hello"),
    close: () => sock.destroy(),
  };
}

test("figures move when clients connect and post; latency is measured", async () => {
  const s = await server();
  const a = adminStream(s, adminToken("adm_root2"));
  const [t1, t2, t3] = ["adm_a", "adm_b", "adm_c"].map((u) => token(u));
  const w = wsClient(s, t1);
  const e = rawSse(s, t2);
  try {
    await Promise.all([w.ready(), e.ready()]);
    const polling = fetch(`${s.url}/v1/poll?token=${t3}&timeout=10`).then((r) => r.json());
    await until(() => {
      const st = a.last();
      return st && st.connections.ws >= 1 && st.connections.sse >= 1 && st.connections.poll >= 1 && st.users_online >= 3;
    }, "1 ws, 1 sse, 1 poll and 3 users in the figures", 15000);
    await polling.catch(() => {});
    // posts in a steady trickle until a second shows them
    let posted = 0;
    const seen = await until(async () => {
      const r = await api(s, "POST", "/v1/rooms/general/messages", { tok: t1, body: { text: `admin ${posted++}` } });
      eq(r.status, 201, r.text);
      return a.stats.find((st) => st.messages_per_s > 0 && st.deliveries_per_s > 0 && st.delivery_latency.count > 0);
    }, "a second with messages, deliveries and latency", 20000);
    assert(seen.delivery_latency.p50 >= 0 && seen.delivery_latency.p99 >= seen.delivery_latency.p50,
      `p50 <= p99: ${JSON.stringify(seen.delivery_latency)}`);
    assert(seen.commit_latency.count > 0 && seen.commit_latency.p99 >= 0, JSON.stringify(seen.commit_latency));
    console.log(`# delivery latency p50 ${(seen.delivery_latency.p50 * 1000).toFixed(2)} ms, ` +
      `p99 ${(seen.delivery_latency.p99 * 1000).toFixed(2)} ms; commit p50 ` +
      `${(seen.commit_latency.p50 * 1000).toFixed(2)} ms (${posted} posts)`);
    assert(!a.leaked, "no chat event reached the admin stream");
    w.ws.close();
    e.close();
    await until(() => {
      const st = a.last();
      return st && st.connections.ws === 0 && st.connections.sse === 0;
    }, "the connections gone from the figures", 15000);
  } finally {
    a.close();
    w.ws.close();
    e.close();
  }
});

test("/metrics: delivery and commit latency histograms, Prometheus-named", async () => {
  const s = await server();
  const m = (await api(s, "GET", "/metrics")).text;
  for (const name of ["parley_delivery_latency_seconds", "parley_store_commit_seconds"]) {
    assert(m.includes(`# TYPE ${name} histogram`), `${name} is a histogram`);
    const inf = metric(m, `${name}_bucket{le="+Inf"}`);
    eq(metric(m, `${name}_count`), inf, `${name}: +Inf bucket = count`);
    assert(metric(m, `${name}_sum`) >= 0, `${name}_sum`);
    // buckets are cumulative: never decreasing
    const buckets = m.split("\n").filter((l) => l.startsWith(`${name}_bucket`)).map((l) => Number(l.split(" ")[1]));
    assert(buckets.length >= 10, `${name}: buckets`);
    for (let i = 1; i < buckets.length; i++) assert(buckets[i] >= buckets[i - 1], `${name}: cumulative`);
  }
  assert(metric(m, "parley_delivery_latency_seconds_count") > 0, "deliveries were measured");
  assert(metric(m, "parley_store_commit_seconds_count") > 0, "commits were measured");
  // every counter ends in _total
  for (const l of m.split("\n").filter((l) => l.startsWith("# TYPE ") && l.endsWith(" counter")))
    assert(l.split(" ")[2].endsWith("_total"), `counter named _total: ${l}`);
});

test("an admin stream ends with its token (exp)", async () => {
  const s = await server();
  const a = adminStream(s, adminToken("adm_short", 2));
  try {
    await until(() => a.stats.length >= 1, "a first stats event", 15000);
    await until(() => a.errors > 0, "the stream ending at exp", 15000);
  } finally {
    a.close();
  }
  const r = await fetch(`${s.url}/v1/admin/stats?token=${adminToken("adm_short", 2)}`);
  eq(r.status, 200, "a fresh token opens it again");
  r.body?.cancel().catch(() => {});
});

test("SIGTERM with admin streams open: they end and parleyd exits 0", async () => {
  const own = await startServer();
  const streams = [adminStream(own, adminToken("adm_stop")), adminStream(own, adminToken("adm_stop"))];
  try {
    await until(() => streams.every((a) => a.stats.length >= 1), "stats on both streams", 15000);
    const r = await own.stop();
    own.cleanup();
    eq(r.code, 0, `exit status (signal ${r.sig})`);
  } finally {
    for (const a of streams) a.close();
  }
});

await run("admin");
