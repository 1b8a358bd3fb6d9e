// tests/integration/ops.test.mjs: what an operator reads off a running
// parleyd: the stats line (--stats-interval) and the connection gauges of
// /metrics, against real WebSocket, SSE and long-poll clients.
//
//   node tests/integration/ops.test.mjs        (PARLEYD=... to pick a binary)
import { api, assert, eq, requireNode, run, sleep, startServer, test, token, until } from "./lib.mjs";
import { sseClient, wsClient } from "./clients.mjs";

const STATS_RE = /stats: users=(\d+) connections=(\d+) ws=(\d+) sse=(\d+) poll=(\d+) messages=(\d+) deliveries=(\d+)$/;

/** Every stats line the server logged so far, parsed. */
function statsLines(srv) {
  return srv
    .log()
    .split("\n")
    .map((l) => STATS_RE.exec(l))
    .filter(Boolean)
    .map((m) => {
      const [users, connections, ws, sse, poll, messages, deliveries] = m.slice(1).map(Number);
      return { users, connections, ws, sse, poll, messages, deliveries };
    });
}

function metric(text, name) {
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.slice(name.length + 1)) : undefined;
}

test("stats line: users and connections by transport now, messages and deliveries per interval", async () => {
  const srv = await startServer({ args: ["--stats-interval", "1"] });
  const [a, b, c] = ["st_alice", "st_bob", "st_carol"].map((u) => token(u));
  const w1 = wsClient(srv, a);
  const w2 = wsClient(srv, a);
  const s1 = sseClient(srv, b);
  await Promise.all([w1.ready(), w2.ready(), s1.ready()]);
  const polling = fetch(`${srv.url}/v1/poll?token=${c}&timeout=8`).then((r) => r.json());
  const want = { users: 3, connections: 4, ws: 2, sse: 1, poll: 1 };
  await until(() => statsLines(srv).some((l) => Object.keys(want).every((k) => l[k] === want[k])),
    "a stats line with 3 users, 2 ws, 1 sse, 1 poll", 15000);

  const m = (await api(srv, "GET", "/metrics")).text;
  eq(metric(m, 'parley_connections{transport="ws"}'), 2, "ws gauge");
  eq(metric(m, 'parley_connections{transport="sse"}'), 1, "sse gauge");
  eq(metric(m, 'parley_connections{transport="poll"}'), 1, "poll gauge");
  eq(metric(m, "parley_users_connected"), 3, "users gauge");

  const before = statsLines(srv).length;
  for (let i = 0; i < 3; i++) {
    const r = await api(srv, "POST", "/v1/rooms/general/messages", { tok: a, body: { text: `stat ${i}` } });
    eq(r.status, 201, r.text);
  }
  // The three messages and their deliveries show in the lines that follow,
  // each counted once across them.
  await until(() => statsLines(srv).slice(before).reduce((n, l) => n + l.messages, 0) >= 3, "messages counted", 15000);
  const n = statsLines(srv).length;
  await until(() => statsLines(srv).length > n, "one more line", 15000);
  const after = statsLines(srv).slice(before);
  eq(after.reduce((s, l) => s + l.messages, 0), 3, "messages summed over the lines");
  // Each of the 3 messages reaches 2 WebSockets, 1 SSE stream and the poll.
  assert(after.reduce((s, l) => s + l.deliveries, 0) >= 9, `deliveries ${JSON.stringify(after)}`);
  await polling;
  await w1.close();
  await w2.close();
  s1.close();
  await until(() => {
    const l = statsLines(srv).at(-1);
    return l && l.ws === 0 && l.sse === 0;
  }, "the streams gone from the line", 15000);
  await srv.stop();
});

test("--stats-interval 0 logs no stats line", async () => {
  const srv = await startServer({ args: ["--stats-interval", "0"] });
  const w = wsClient(srv, token("st_dave"));
  await w.ready();
  await sleep(2500);
  eq(statsLines(srv).length, 0, "no line");
  await w.close();
  await srv.stop();
});

test("--stats-interval: bad values are refused at start", async () => {
  for (const v of ["-1", "x", "86401"]) {
    const srv = startServer({ args: ["--stats-interval", v] });
    let failed = false;
    try {
      await srv;
    } catch (e) {
      failed = /stats-interval/.test(String(e.message));
    }
    assert(failed, `--stats-interval ${v} refused, naming the flag`);
  }
});

/** A /ws-online-status feed collecting its frames. */
function feed(srv, user) {
  const WebSocket = requireNode("ws");
  const f = { frames: [], closed: false };
  f.ws = new WebSocket(`${srv.ws}/ws-online-status?userId=${user}&token=${token(user)}`);
  f.ws.on("message", (d) => f.frames.push(JSON.parse(d.toString())));
  f.ws.on("close", () => (f.closed = true));
  f.ws.on("error", () => {});
  f.ready = () => until(() => f.frames.some((x) => x.type === "CONNECTION_ESTABLISHED"), "feed established");
  f.of = (user) => f.frames.filter((x) => x.userId === user && x.type !== "CONNECTION_ESTABLISHED").map((x) => x.type);
  f.close = () => {
    f.ws.close();
    return until(() => f.closed, "feed closed");
  };
  return f;
}

test("/ws-online-status: every user's online and offline edges reach every feed, rooms shared or not", async () => {
  // A fresh server: "general" holds every user, so strangers are users in
  // no room with the watchers (they never sign in through general here).
  const srv = await startServer({ args: ["--small-room", "1"] });
  const feeds = [feed(srv, "fd_w1"), feed(srv, "fd_w2"), feed(srv, "fd_w3")];
  await Promise.all(feeds.map((f) => f.ready()));
  const stranger = token("fd_stranger");
  const w = wsClient(srv, stranger);
  await w.ready();
  await until(() => feeds.every((f) => f.of("fd_stranger").includes("USER_ONLINE")), "USER_ONLINE on every feed");
  // A second tab, then a status change that stays online: no edge, nothing sent.
  const w2 = wsClient(srv, stranger);
  await w2.ready();
  eq((await api(srv, "POST", "/v1/me/status", { tok: stranger, body: { status: "away" } })).status, 200);
  eq((await api(srv, "POST", "/v1/me/status", { tok: stranger, body: { status: "online" } })).status, 200);
  await w2.close();
  await w.close();
  // Offline after the grace period (1 s in the tests), once.
  await until(() => feeds.every((f) => f.of("fd_stranger").includes("USER_OFFLINE")), "USER_OFFLINE on every feed");
  await sleep(500);
  for (const f of feeds) eq(f.of("fd_stranger"), ["USER_ONLINE", "USER_OFFLINE"], "one edge each way, per feed");
  for (const x of feeds[0].frames) {
    if (x.type === "CONNECTION_ESTABLISHED") continue;
    assert(Number.isInteger(x.timestamp) && x.timestamp > 1.7e12, `timestamp ${JSON.stringify(x)}`);
  }
  // An invisible user stays offline to the feeds.
  const ghost = token("fd_ghost");
  eq((await api(srv, "POST", "/v1/me/status", { tok: ghost, body: { status: "invisible" } })).status, 200);
  const g = wsClient(srv, ghost);
  await g.ready();
  const probe = wsClient(srv, token("fd_probe")); // a later edge, to know the ghost's would have come
  await probe.ready();
  await until(() => feeds[0].of("fd_probe").includes("USER_ONLINE"), "the probe's edge");
  eq(feeds[0].of("fd_ghost").filter((t) => t === "USER_ONLINE"), [], "no USER_ONLINE for an invisible user");
  await g.close();
  await probe.close();
  for (const f of feeds) await f.close();
  await srv.stop();
});

test("typing: the stop comes 5 s after the last start, also one the 3 s throttle held back", async () => {
  const srv = await startServer();
  const a = token("ty_alice");
  const b = token("ty_bob");
  eq((await api(srv, "POST", "/v1/rooms", { tok: a, body: { id: "ty-room", name: "typing" } })).status, 201);
  eq((await api(srv, "POST", "/v1/rooms/ty-room/join", { tok: b })).status, 200);
  const bob = wsClient(srv, b, "rooms=ty-room");
  await bob.ready();
  const typing = () => bob.events("typing").filter((e) => e.data.user === "ty_alice");
  eq((await api(srv, "POST", "/v1/rooms/ty-room/typing", { tok: a, body: { typing: true } })).status, 204);
  await until(() => typing().length === 1, "the start");
  await sleep(2000);
  // Within 3 s of the first: held back (bob sees no second start), but alice types on.
  const last = Date.now();
  eq((await api(srv, "POST", "/v1/rooms/ty-room/typing", { tok: a, body: { typing: true } })).status, 204);
  await until(() => typing().some((e) => e.data.typing === false), "the stop", 20000);
  const stopAt = Date.now();
  eq(typing().map((e) => e.data.typing), [true, false], "one start, one stop");
  // Counted from the first start the stop would come ~3 s after the last;
  // from the last one it comes 5 s after it (a slow machine only adds).
  assert(stopAt - last >= 4000, `the stop came ${stopAt - last} ms after the last start (want >= 4000)`);
  await bob.close();
  await srv.stop();
});

await run("ops");
