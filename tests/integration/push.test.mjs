// Push: SSE, WebSocket and long-poll against a real parleyd, with the
// `ws` and `eventsource` npm clients and hand-built frames.
import { api, assert, eq, run, startServer, test, token, until } from "./lib.mjs";
import { frame, poll, rawWs, sseClient, wsClient } from "./clients.mjs";

const srv = await startServer({ args: ["--ping-interval", "2"] });
const alice = token("alice");
const bob = token("bob");
const carol = token("carol");

async function post(tok, room, text, extra = {}) {
  const r = await api(srv, "POST", `/v1/rooms/${room}/messages`, { tok, body: { text, ...extra } });
  assert(r.status === 201 || r.status === 200, `post ${r.status} ${r.text}`);
  return r.body;
}

async function room(tok, id, priv = false) {
  const r = await api(srv, "POST", "/v1/rooms", { tok, body: { id, name: id, private: priv } });
  assert(r.status === 201, `create ${id}: ${r.status} ${r.text}`);
}

// Sign everyone up (members of general) before streams open.
for (const t of [alice, bob, carol]) await api(srv, "GET", "/v1/rooms", { tok: t });

test("a REST post reaches SSE, WebSocket and long-poll subscribers", async () => {
  const s = sseClient(srv, bob);
  const w = wsClient(srv, carol);
  await s.ready();
  await w.ready();
  const p = poll(srv, bob, "timeout=30");
  await until(async () => (await api(srv, "GET", "/metrics")).text.includes("parley_push_connections 3"),
    "three push connections");
  const m = await post(alice, "general", "hello all");
  await until(() => s.of("message.created").some((e) => e.data.id === m.id), "sse delivery");
  await until(() => w.events("message.created").some((e) => e.data.id === m.id), "ws delivery");
  const r = await p;
  eq(r.status, 200);
  assert(r.body.events.some((e) => e.type === "message.created" && e.data.id === m.id), "poll delivery");
  const ev = s.of("message.created").find((e) => e.data.id === m.id);
  eq(ev.room, "general");
  assert(Number(ev.sse_id) === ev.id && ev.id > 0, "SSE id: line is the event id");
  s.close();
  await w.close();
});

test("WebSocket resume: 50 missed messages arrive exactly once, in order", async () => {
  await room(alice, "resume-ws");
  const w = wsClient(srv, alice, "rooms=resume-ws");
  await w.ready();
  await post(alice, "resume-ws", "before");
  await until(() => w.events("message.created").length === 1, "first");
  const last = w.events("message.created")[0].id;
  await w.close();
  const sent = [];
  for (let i = 0; i < 50; i++) sent.push((await post(alice, "resume-ws", `missed ${i}`)).id);
  const w2 = wsClient(srv, alice, `rooms=resume-ws&last_event_id=${last}`);
  await until(() => w2.events("message.created").length >= 50, "50 replayed");
  await post(alice, "resume-ws", "live after");
  await until(() => w2.events("message.created").length === 51, "live one");
  const got = w2.events("message.created").map((e) => e.data.id);
  eq(got.slice(0, 50), sent, "the missed ones, in order");
  eq(new Set(got).size, got.length, "no repeats");
  await w2.close();
});

test("SSE resume with Last-Event-ID header and last_event_id query", async () => {
  await room(alice, "resume-sse");
  const first = await post(alice, "resume-sse", "zero");
  const all = await api(srv, "GET", "/metrics");
  assert(all.status === 200);
  const sent = [];
  for (let i = 0; i < 50; i++) sent.push((await post(alice, "resume-sse", `m${i}`)).id);
  // the event id of "zero": read it from a replay from 0
  const probe = sseClient(srv, alice, "rooms=resume-sse&last_event_id=0");
  await until(() => probe.of("message.created").length >= 51, "full replay");
  const zeroEvent = probe.of("message.created").find((e) => e.data.id === first.id).id;
  probe.close();
  const s = sseClient(srv, alice, "rooms=resume-sse", { "Last-Event-ID": String(zeroEvent) });
  await until(() => s.of("message.created").length >= 50, "header resume");
  eq(s.of("message.created").map((e) => e.data.id), sent);
  s.close();
  const q = sseClient(srv, alice, `rooms=resume-sse&last_event_id=${zeroEvent}`);
  await until(() => q.of("message.created").length >= 50, "query resume");
  eq(q.of("message.created").map((e) => e.data.id), sent);
  q.close();
});

test("long-poll cursors are gap-free", async () => {
  await room(alice, "lp");
  const start = await poll(srv, alice, "rooms=lp&timeout=0");
  eq(start.body.events, []);
  let cursor = start.body.cursor;
  const sent = [];
  for (let i = 0; i < 30; i++) sent.push((await post(alice, "lp", `p${i}`)).id);
  const got = [];
  while (got.length < 30) {
    const r = await poll(srv, alice, `rooms=lp&cursor=${cursor}&timeout=5`);
    eq(r.status, 200);
    for (const e of r.body.events) if (e.type === "message.created") got.push(e.data.id);
    assert(r.body.cursor >= cursor, "cursor only grows");
    cursor = r.body.cursor;
  }
  eq(got, sent);
  const empty = await poll(srv, alice, `rooms=lp&cursor=${cursor}&timeout=1`);
  eq(empty.body.events.filter((e) => e.id).length, 0, "nothing new after the last cursor");
  eq((await poll(srv, alice, "cursor=abc")).status, 400);
  eq((await poll(srv, alice, "timeout=61")).status, 400);
});

test("long-poll sessions keep typing between polls for the session's own user only", async () => {
  await room(alice, "lps");
  eq((await api(srv, "POST", "/v1/rooms/lps/join", { tok: bob })).status, 200);
  const typing = (tok, on) => api(srv, "POST", "/v1/rooms/lps/typing", { tok, body: { typing: on } });
  const first = await poll(srv, bob, "rooms=lps&timeout=0");
  eq(first.status, 200);
  const session = first.body.session;
  assert(/^[0-9a-f]{32}$/.test(session), `a session id: ${session}`);
  // No poll of bob's is open now: the session keeps what comes.
  eq((await typing(alice, true)).status, 204);
  const next = await poll(srv, bob, `rooms=lps&cursor=${first.body.cursor}&session=${session}&timeout=2`);
  eq(next.status, 200);
  eq(next.body.session, session);
  assert(next.body.events.some((e) => e.type === "typing" && e.data.user === "alice" && e.data.typing),
    `the kept typing event: ${JSON.stringify(next.body.events)}`);
  // A poll without the session starts another and misses what came between.
  eq((await typing(alice, false)).status, 204);
  eq((await typing(alice, true)).status, 204);
  const fresh = await poll(srv, bob, `rooms=lps&cursor=${next.body.cursor}&timeout=1`);
  assert(fresh.body.session && fresh.body.session !== session, "a new session");
  // Someone else's session id is not theirs to take.
  const other = await poll(srv, carol, `session=${session}&timeout=0`);
  eq(other.status, 200);
  assert(other.body.session !== session, "carol does not get bob's session");
  assert(!other.body.events.some((e) => e.type === "typing"), "nor what it kept");
  // bob's session still holds the typing carol could not take.
  const mine = await poll(srv, bob, `rooms=lps&cursor=${next.body.cursor}&session=${session}&timeout=0`);
  // (The second start is within typing's 3 s throttle: the stop is what came.)
  assert(mine.body.events.some((e) => e.type === "typing" && e.data.user === "alice"),
    `still kept for bob: ${JSON.stringify(mine.body.events)}`);
  eq((await poll(srv, bob, "session=nope")).status, 400);
});

test("a client that never passes its session back parks a few polls, not one a poll", async () => {
  const open = async () => {
    const r = await fetch(`${srv.url}/metrics`);
    return Number(/^parley_push_connections (\d+)$/m.exec(await r.text())[1]);
  };
  const dave = token("dave");
  await api(srv, "GET", "/v1/rooms", { tok: dave });
  await until(async () => (await open()) === (await open()), "a steady count");
  const before = await open();
  for (let i = 0; i < 8; i++) eq((await poll(srv, dave, "timeout=0")).status, 200);
  // Each poll parks its session for the next; dave's oldest make way.
  // (Sooner than the 10 s after which parked sessions end anyway.)
  await until(async () => (await open()) <= before + 4, "at most 4 of dave's sessions parked", 5000);
});

test("a non-member never receives a private room's or a DM's events", async () => {
  await room(alice, "secret", true);
  const dm = (await api(srv, "POST", "/v1/dms", { tok: alice, body: { user: "bob" } })).body.id;
  const spyS = sseClient(srv, carol);
  const spyW = wsClient(srv, carol);
  const bobW = wsClient(srv, bob);
  await spyS.ready();
  await spyW.ready();
  await bobW.ready();
  await post(alice, "secret", "for alice only");
  const d = await post(alice, dm, "for bob only");
  await until(() => bobW.events("message.created").some((e) => e.data.id === d.id), "bob gets the DM");
  const marker = await post(alice, "general", "marker");
  await until(() => spyW.events("message.created").some((e) => e.data.id === marker.id), "spy gets general");
  await until(() => spyS.of("message.created").some((e) => e.data.id === marker.id), "spy sse general");
  for (const e of [...spyW.events("message.created"), ...spyS.of("message.created")])
    assert(e.room !== "secret" && e.room !== dm, `carol saw ${e.room}`);
  eq((await api(srv, "GET", `/v1/events?token=${carol}&rooms=${dm}`)).status, 403);
  eq((await poll(srv, carol, `rooms=secret&timeout=0`)).status, 403);
  const replay = await poll(srv, carol, "cursor=0&timeout=0");
  for (const e of replay.body.events) assert(e.room !== "secret" && e.room !== dm, "replay leaks");
  spyS.close();
  await spyW.close();
  await bobW.close();
});

test("joining starts a room's events and leaving stops them, on open connections", async () => {
  await room(alice, "club");
  const b = wsClient(srv, bob);
  await b.ready();
  const before = await post(alice, "club", "before bob");
  eq((await api(srv, "POST", "/v1/rooms/club/join", { tok: bob })).status, 200);
  await until(() => b.events("member.joined").some((e) => e.room === "club"), "joined event");
  const during = await post(alice, "club", "bob is here");
  await until(() => b.events("message.created").some((e) => e.data.id === during.id), "after join");
  eq((await api(srv, "POST", "/v1/rooms/club/leave", { tok: bob })).status, 200);
  await until(() => b.events("member.left").some((e) => e.room === "club"), "left event");
  const after = await post(alice, "club", "bob left");
  const marker = await post(alice, "general", "marker2");
  await until(() => b.events("message.created").some((e) => e.data.id === marker.id), "marker");
  const ids = b.events("message.created").map((e) => e.data.id);
  assert(!ids.includes(before.id) && !ids.includes(after.id), "no events outside membership");
  await b.close();
});

test("edits and deletes are pushed live and resumed", async () => {
  await room(alice, "edits");
  const w = wsClient(srv, alice, "rooms=edits");
  await w.ready();
  const m = await post(alice, "edits", "tpyo");
  await until(() => w.events("message.created").length === 1, "created");
  const cursor = w.events("message.created")[0].id;
  eq((await api(srv, "PATCH", `/v1/rooms/edits/messages/${m.id}`, { tok: alice, body: { text: "typo" } })).status, 200);
  eq((await api(srv, "DELETE", `/v1/rooms/edits/messages/${m.id}`, { tok: alice })).status, 200);
  await until(() => w.events("message.deleted").length === 1, "deleted live");
  eq(w.events("message.updated")[0].data.text, "typo");
  eq(w.events("message.deleted")[0].data.deleted, true);
  await w.close();
  const r = wsClient(srv, alice, `rooms=edits&last_event_id=${cursor}`);
  await until(() => r.events("message.deleted").length === 1, "resumed");
  eq(r.frames.filter((f) => f.id).map((f) => f.type), ["message.updated", "message.deleted"]);
  await r.close();
});

test("WebSocket send is acknowledged with the stored message; client_id retries store once", async () => {
  const w = wsClient(srv, alice);
  await w.ready();
  w.send({ type: "send", room: "general", text: "via ws", client_id: "ws-1" });
  await until(() => w.events("ack").length === 1, "ack");
  const ack = w.events("ack")[0];
  eq(ack.client_id, "ws-1");
  eq(ack.message.text, "via ws");
  assert(ack.message.id > 0);
  w.send({ type: "send", room: "general", text: "via ws", client_id: "ws-1" });
  await until(() => w.events("ack").length === 2, "second ack");
  eq(w.events("ack")[1].message.id, ack.message.id, "same message for the retry");
  const hist = await api(srv, "GET", "/v1/rooms/general/messages?limit=200", { tok: alice });
  eq(hist.body.messages.filter((m) => m.client_id === "ws-1").length, 1);
  w.send({ type: "send", room: "secret-nope", text: "x", client_id: "ws-2" });
  w.send({ type: "send", room: "general", text: "", client_id: "ws-3" });
  w.send({ type: "nonsense" });
  w.ws.send("not json");
  await until(() => w.events("error").length === 4, "errors");
  const errs = w.events("error");
  eq(errs.find((e) => e.client_id === "ws-2").error.code, "not_found");
  eq(errs.find((e) => e.client_id === "ws-3").error.code, "invalid_argument");
  eq(errs.filter((e) => !e.client_id).length, 2, "frame errors without client_id");
  assert(errs.every((e) => e.error.message.length > 0));
  await w.close();
});

test("typing reaches the room but not the typist, and lapses after 5 s", async () => {
  const a = wsClient(srv, alice);
  const b = wsClient(srv, bob);
  await a.ready();
  await b.ready();
  a.send({ type: "typing", room: "general", typing: true });
  await until(() => b.events("typing").some((e) => e.data.user === "alice" && e.data.typing), "typing on");
  await until(() => b.events("typing").some((e) => e.data.user === "alice" && !e.data.typing),
    "typing lapses", 15000);
  assert(!a.events("typing").some((e) => e.data.user === "alice"), "never back to the typist");
  await a.close();
  await b.close();
});

test("subscribe and unsubscribe frames change what a WebSocket receives", async () => {
  await room(alice, "subA");
  const w = wsClient(srv, alice, "rooms=general");
  await w.ready();
  w.send({ type: "subscribe", rooms: ["subA"] });
  w.send({ type: "ping" });
  await until(() => w.events("pong").length === 1, "pong after subscribe");
  const m1 = await post(alice, "subA", "one");
  await until(() => w.events("message.created").some((e) => e.data.id === m1.id), "subscribed");
  w.send({ type: "unsubscribe", rooms: ["subA"] });
  w.send({ type: "ping" });
  await until(() => w.events("pong").length === 2, "pong after unsubscribe");
  const m2 = await post(alice, "subA", "two");
  const mk = await post(alice, "general", "mk");
  await until(() => w.events("message.created").some((e) => e.data.id === mk.id), "marker");
  assert(!w.events("message.created").some((e) => e.data.id === m2.id), "unsubscribed");
  await room(bob, "bobs-private", true);
  w.send({ type: "subscribe", rooms: ["bobs-private"] });
  await until(() => w.events("error").length === 1, "403 for a room not mine");
  eq(w.events("error")[0].error.code, "permission_denied");
  await w.close();
});

// ---- RFC 6455 edge cases, hand-built frames ----

test("an unmasked client frame closes with 1002", async () => {
  const c = await rawWs(srv, alice);
  c.write(frame(1, '{"type":"ping"}', { mask: false }));
  await until(() => c.closeCode() === 1002, "1002");
  await until(() => c.ended, "socket closed");
});

test("invalid UTF-8 closes with 1007, also across fragments", async () => {
  const c = await rawWs(srv, alice);
  c.write(frame(1, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])));
  await until(() => c.closeCode() === 1007, "1007");
  const d = await rawWs(srv, alice);
  d.write(frame(1, Buffer.from([0x22, 0xe2, 0x82]), { fin: false }));
  d.write(frame(0, Buffer.from([0x28, 0x22])));
  await until(() => d.closeCode() === 1007, "1007 fragmented");
});

test("an oversized message closes with 1009", async () => {
  const c = await rawWs(srv, alice);
  c.write(frame(1, Buffer.alloc(70 * 1024, 0x61)));
  await until(() => c.closeCode() === 1009, "1009");
});

test("a fragmented message with a ping in the middle works", async () => {
  const c = await rawWs(srv, alice);
  await until(() => c.texts().some((t) => t.type === "hello"), "hello");
  c.write(frame(1, '{"type":"pi', { fin: false }));
  c.write(frame(9, "mid"));
  c.write(frame(0, 'ng"}', { fin: true }));
  await until(() => c.frames.some((f) => f.opcode === 10 && f.payload.toString() === "mid"), "pong");
  await until(() => c.texts().some((t) => t.type === "pong"), "the reassembled message");
});

test("close codes: the server echoes a client close; reserved bits and binary are refused", async () => {
  const c = await rawWs(srv, alice);
  const p = Buffer.alloc(2);
  p.writeUInt16BE(4000);
  c.write(frame(8, p));
  await until(() => c.closeCode() === 4000, "echo 4000");
  const d = await rawWs(srv, alice);
  d.write(frame(1, "{}", { rsv: 0x40 }));
  await until(() => d.closeCode() === 1002, "rsv 1002");
  const e = await rawWs(srv, alice);
  e.write(frame(2, "bin"));
  await until(() => e.closeCode() === 1003, "binary 1003");
  const f = await rawWs(srv, alice);
  f.write(frame(0, "x"));
  await until(() => f.closeCode() === 1002, "continuation without start");
});

test("a client that never answers pings is dropped", async () => {
  const c = await rawWs(srv, alice);
  await until(() => c.frames.some((f) => f.opcode === 9), "a ping", 15000);
  await until(() => c.ended, "dropped after the pong timeout", 30000);
});

test("the old online-status feed announces itself and presence", async () => {
  const WebSocket = (await import("./lib.mjs")).requireNode("ws");
  const frames = [];
  const ws = new WebSocket(`${srv.ws}/ws-online-status?userId=carol&token=${carol}`);
  ws.on("message", (d) => frames.push(JSON.parse(d.toString())));
  await until(() => frames.some((f) => f.type === "CONNECTION_ESTABLISHED"), "established");
  eq(frames[0].userId, "carol");
  ws.close();
});

test("a consumer that cannot keep up is cut off with 1013, then resumes losing nothing", async () => {
  const fast = await startServer({ args: ["--post-rate", "0"] });
  const t = token("slowpoke");
  await api(fast, "POST", "/v1/rooms", { tok: t, body: { id: "flood", name: "flood" } });
  const c = await rawWs(fast, t, "rooms=flood");
  await until(() => c.texts().some((x) => x.type === "hello"), "hello");
  c.sock.pause(); // stop reading: the server's queue for us fills up
  const text = "x".repeat(4000);
  const sent = [];
  for (let i = 0; i < 4000 && !c.ended; i++) {
    const r = await api(fast, "POST", "/v1/rooms/flood/messages", { tok: t, body: { text } });
    eq(r.status, 201);
    sent.push(r.body.id);
    if (i % 100 === 99) {
      const m = await api(fast, "GET", "/metrics");
      if (/parley_slow_consumers_dropped_total [1-9]/.test(m.text)) break;
    }
  }
  const metrics = await api(fast, "GET", "/metrics");
  assert(/parley_slow_consumers_dropped_total [1-9]/.test(metrics.text), "the consumer was cut off");
  c.sock.resume();
  await until(() => c.ended, "the server closed the connection", 30000);
  eq(c.closeCode(), 1013, "close code");
  const got = c.texts().filter((x) => x.type === "message.created");
  const lastEvent = got.length ? got[got.length - 1].id : 0;
  // Reconnect from the last event id received: the rest arrives, once each.
  const w = wsClient(fast, t, `rooms=flood&last_event_id=${lastEvent}`);
  await until(() => got.length + w.events("message.created").length >= sent.length, "the rest", 60000);
  const all = [...got, ...w.events("message.created")].map((e) => e.data.id);
  eq(all, sent, "every message exactly once, in order");
  await w.close();
});

await run("push");
