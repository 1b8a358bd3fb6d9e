// tests/integration/socketio.test.mjs: Socket.IO v4 wire compatibility
// (API.md "Socket.IO") with the real socket.io-client 4.x npm package:
// both transports and the upgrade, acks, binary attachments, connection
// state recovery, bad tokens, privacy, many clients receiving one broadcast
// once each, a Socket.IO client and a native WebSocket client in one room,
// and the Engine.IO edges a strict server must get right (checked with raw
// HTTP: bad EIO/transport/sid/method, poll overlap, malformed packets,
// heartbeats).
import { api, assert, eq, requireNode, run, sleep, startServer, test, token, until } from "./lib.mjs";
import { sseClient, wsClient } from "./clients.mjs";

const { io } = requireNode("socket.io-client");
const MANY = Number(process.env.SOCKETIO_CLIENTS || 300);

let shared;
const server = () => (shared ||= startServer());
const tokens = new Map();
const tok = (u) => {
  if (!tokens.has(u)) tokens.set(u, token(u));
  return tokens.get(u);
};

const open = [];
/** A connected socket.io-client socket collecting every event it gets. */
async function client(srv, user, opts = {}) {
  const s = io(srv.url, { auth: { token: tok(user) }, reconnection: false, forceNew: true, ...opts });
  open.push(s);
  s.got = [];
  s.onAny((name, ...args) => s.got.push([name, ...args]));
  s.named = (name) => s.got.filter((e) => e[0] === name);
  await new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
  });
  return s;
}
const closeAll = () => {
  for (const s of open.splice(0)) s.close();
};

const post = async (srv, user, room, text) => {
  const r = await api(srv, "POST", `/v1/rooms/${room}/messages`, { tok: tok(user), body: { text } });
  assert(r.status === 201, `post: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
};

// ---- transports ----

for (const transports of [["polling"], ["websocket"]]) {
  test(`${transports[0]}: connect, send_message acked with the stored message, receive_message to the room`, async () => {
    const srv = await server();
    const a = await client(srv, "sa1", { transports });
    const b = await client(srv, "sb1", { transports });
    eq(a.io.engine.transport.name, transports[0], "transport");
    const ack = await a.timeout(10000).emitWithAck("send_message", { chatId: "general", content: `hello ${transports[0]}` });
    assert(ack.id > 0 && ack.text === `hello ${transports[0]}` && ack.chatId === "general", JSON.stringify(ack));
    for (const s of [a, b]) {
      const m = await until(() => s.named("receive_message").find((e) => e[1].id === ack.id), "receive_message");
      eq([m[1].chatId, m[1].content, m[1].sender], ["general", `hello ${transports[0]}`, "sa1"], "shape");
      eq(m[2], String(m[1].id === ack.id ? ack.id : -1), "offset argument");
      const p = await until(() => s.named("parley").find((e) => e[1].type === "message.created" && e[1].data.id === ack.id), "parley");
      eq(p[1].room, "general", "parley event");
    }
    closeAll();
  });
}

test("upgrade: polling to websocket (probe, noop, upgrade), events keep flowing", async () => {
  const srv = await server();
  const s = io(srv.url, { auth: { token: tok("sup") }, reconnection: false, forceNew: true });
  open.push(s);
  let upgraded = false;
  s.io.on("open", () => s.io.engine.on("upgrade", () => (upgraded = true)));
  s.got = [];
  s.onAny((n, ...a) => s.got.push([n, ...a]));
  await new Promise((r, j) => (s.once("connect", r), s.once("connect_error", j)));
  await until(() => upgraded && s.io.engine.transport.name === "websocket", "upgrade");
  const ack = await s.timeout(10000).emitWithAck("send_message", { room: "general", text: "after upgrade" });
  await until(() => s.got.some((e) => e[0] === "receive_message" && e[1].id === ack.id), "message over websocket");
  closeAll();
});

test("?token= in the handshake query authenticates too; bad and missing tokens get CONNECT_ERROR unauthenticated", async () => {
  const srv = await server();
  const q = await client(srv, "nobody", { auth: {}, query: { token: tok("squery") } });
  const ack = await q.timeout(10000).emitWithAck("send_message", { chatId: "general", content: "via query" });
  eq(ack.sender, "squery", "sender from the query token");
  for (const auth of [{ token: "bad.token.here" }, {}, { token: 42 }]) {
    const err = await client(srv, "x", { auth }).then(() => null, (e) => e);
    assert(err, `refused: ${JSON.stringify(auth)}`);
    eq(err.message, "unauthenticated", "message");
  }
  closeAll();
});

test("namespaces other than the main one are refused with CONNECT_ERROR", async () => {
  const srv = await server();
  const s = io(`${srv.url}/admin`, { auth: { token: tok("sns") }, reconnection: false, forceNew: true });
  open.push(s);
  const err = await new Promise((r) => s.once("connect_error", r));
  eq(err.message, "Invalid namespace", "message");
  closeAll();
});

// ---- the chat binding ----

test("join/leave, typing/stop_typing, mark_chat_read, user_joined/user_left, messages_read", async () => {
  const srv = await server();
  const owner = await client(srv, "sown");
  const r = await api(srv, "POST", "/v1/rooms", { tok: tok("sown"), body: { id: "sio-public", name: "p" } });
  assert(r.status === 201, JSON.stringify(r.body));
  const guest = await client(srv, "sguest");
  const joined = await guest.timeout(10000).emitWithAck("join", "sio-public");
  eq(joined.room && joined.room.id, "sio-public", "join ack");
  await until(() => owner.named("user_joined").some((e) => e[1].chatId === "sio-public" && e[1].userId === "sguest"), "user_joined");
  guest.emit("typing", { chatId: "sio-public" });
  await until(() => owner.named("typing").some((e) => e[1].chatId === "sio-public" && e[1].user === "sguest"), "typing");
  guest.emit("stop_typing", { chatId: "sio-public" });
  await until(() => owner.named("stop_typing").some((e) => e[1].user === "sguest"), "stop_typing");
  const m = await owner.timeout(10000).emitWithAck("send_message", { chatId: "sio-public", content: "read me" });
  await until(() => owner.named("message_delivered").some((e) => e[1].chatId === "sio-public" && e[1].userId === "sguest" && e[1].up_to === m.id), "message_delivered to the sender");
  const read = await guest.timeout(10000).emitWithAck("mark_chat_read", { chatId: "sio-public" });
  eq(read.up_to, m.id, "read up to the newest by default");
  await until(() => owner.named("messages_read").some((e) => e[1].chatId === "sio-public" && e[1].userId === "sguest" && e[1].up_to === m.id), "messages_read");
  const left = await guest.timeout(10000).emitWithAck("leave_room", { chatId: "sio-public" });
  eq(left, { room: "sio-public" }, "leave ack");
  await until(() => owner.named("user_left").some((e) => e[1].userId === "sguest"), "user_left");
  const unknown = await guest.timeout(10000).emitWithAck("no_such_event", 1);
  eq(unknown.error.code, "not_found", "unknown event");
  closeAll();
});

test("message_updated / message_deleted (the message plus chatId and content), with offsets", async () => {
  const srv = await server();
  const s = await client(srv, "sedit");
  const m = await s.timeout(10000).emitWithAck("send_message", { chatId: "general", content: "first draft" });
  const e = await api(srv, "PATCH", `/v1/rooms/general/messages/${m.id}`, { tok: tok("sedit"), body: { text: "final" } });
  assert(e.status === 200, `edit: ${e.status} ${e.text}`);
  const up = await until(() => s.named("message_updated").find((x) => x[1].id === m.id), "message_updated");
  eq([up[1].chatId, up[1].content], ["general", "final"], "updated shape");
  assert(/^[0-9]+$/.test(up[2]), "offset argument");
  const d = await api(srv, "DELETE", `/v1/rooms/general/messages/${m.id}`, { tok: tok("sedit") });
  assert(d.status < 300, `delete: ${d.status} ${d.text}`);
  const del = await until(() => s.named("message_deleted").find((x) => x[1].id === m.id), "message_deleted");
  eq(del[1].chatId, "general", "deleted shape");
  closeAll();
});

test("presence: user_online / user_offline {userId, status, lastSeen}", async () => {
  const srv = await server();
  const watcher = await client(srv, "swatch");
  const other = await client(srv, "sother");
  const on = await until(() => watcher.named("user_online").find((e) => e[1].userId === "sother"), "user_online");
  eq([on[1].status, on[1].lastSeen], ["online", null], "online shape");
  other.close();
  const off = await until(() => watcher.named("user_offline").find((e) => e[1].userId === "sother"), "user_offline");
  assert(off[1].status === "offline" && typeof off[1].lastSeen === "string", JSON.stringify(off[1]));
  closeAll();
});

test("privacy: a non-member cannot join a private room or see its events", async () => {
  const srv = await server();
  const owner = await client(srv, "spriv");
  const spy = await client(srv, "sspy");
  const r = await api(srv, "POST", "/v1/rooms", { tok: tok("spriv"), body: { id: "sio-secret", name: "s", private: true } });
  assert(r.status === 201, JSON.stringify(r.body));
  const denied = await spy.timeout(10000).emitWithAck("join_room", "sio-secret");
  assert(denied.error && denied.error.code, `join refused: ${JSON.stringify(denied)}`);
  const sent = await spy.timeout(10000).emitWithAck("send_message", { chatId: "sio-secret", content: "let me in" });
  assert(sent.error, `post refused: ${JSON.stringify(sent)}`);
  const m = await owner.timeout(10000).emitWithAck("send_message", { chatId: "sio-secret", content: "secret" });
  await until(() => owner.named("receive_message").some((e) => e[1].id === m.id), "owner gets it");
  const marker = await post(srv, "spriv", "general", "after the secret");
  await until(() => spy.named("receive_message").some((e) => e[1].id === marker.id), "spy gets general");
  assert(!spy.got.some((e) => JSON.stringify(e).includes("sio-secret") && e[0] !== "user_online"),
    `spy saw the private room: ${JSON.stringify(spy.got.filter((e) => JSON.stringify(e).includes("sio-secret")))}`);
  closeAll();
});

test("binary arguments to a chat event are refused in the ack, the session goes on", async () => {
  const srv = await server();
  const s = await client(srv, "sbin");
  const ack = await s.timeout(10000).emitWithAck("send_message", { chatId: "general", content: Buffer.from([1, 2, 3]) });
  assert(ack.error && /binary/.test(ack.error.message), JSON.stringify(ack));
  const ok = await s.timeout(10000).emitWithAck("send_message", { chatId: "general", content: "still here" });
  assert(ok.id > 0, "session still works");
  closeAll();
});

// ---- recovery ----

test("recovery: pid and offsets; a reconnect gets every missed stored event once, in order, and recovered is true", async () => {
  const srv = await server();
  const s = await client(srv, "srec", { transports: ["websocket"] });
  assert(s._pid, "pid in the CONNECT answer");
  const first = await post(srv, "srec2", "general", "before");
  await until(() => s.named("receive_message").some((e) => e[1].id === first.id), "first");
  const offset = s.named("parley").find((e) => e[1].data && e[1].data.id === first.id)[2];
  assert(/^[0-9]+$/.test(offset) && s._lastOffset === offset, `offset tracked: ${offset} ${s._lastOffset}`);
  s.io.engine.close(); // the transport drops; the socket keeps pid and offset
  await until(() => !s.connected, "disconnected");
  const missed = [];
  for (let i = 0; i < 5; i++) missed.push((await post(srv, "srec2", "general", `missed ${i}`)).id);
  s.connect();
  await until(() => s.connected, "reconnected");
  eq(s.recovered, true, "socket.recovered");
  await until(() => missed.every((id) => s.named("receive_message").some((e) => e[1].id === id)), "missed messages");
  const ids = s.named("receive_message").map((e) => e[1].id).filter((id) => id >= first.id);
  eq(ids, [first.id, ...missed], "each once, in order");
  closeAll();
});

test("recovery with no event received yet starts from the pid's event id; a new socket is not recovered", async () => {
  const srv = await server();
  const s = await client(srv, "srec3");
  eq(s.recovered, false, "fresh socket");
  s.io.engine.close();
  await until(() => !s.connected, "disconnected");
  const m = await post(srv, "srec4", "general", "while away");
  s.connect();
  await until(() => s.connected, "reconnected");
  eq(s.recovered, true, "recovered");
  await until(() => s.named("receive_message").some((e) => e[1].id === m.id), "missed message");
  closeAll();
});

// ---- mixed clients, many clients ----

test("a Socket.IO client, a native WebSocket client and an SSE client in one room see the same conversation", async () => {
  const srv = await server();
  const s = await client(srv, "smix");
  const w = wsClient(srv, tok("wmix"));
  await w.ready();
  const e = sseClient(srv, tok("emix"));
  await e.ready();
  const a = await s.timeout(10000).emitWithAck("send_message", { chatId: "general", content: "from socket.io" });
  w.send({ type: "send", room: "general", text: "from websocket", client_id: "w1" });
  const b = await until(() => w.frames.find((f) => f.type === "ack" && f.client_id === "w1"), "ws ack");
  const want = [a.id, b.message.id].sort((x, y) => x - y);
  const sioSeen = await until(() => {
    const ids = s.named("receive_message").map((e) => e[1].id).filter((id) => want.includes(id));
    return ids.length === 2 && ids;
  }, "socket.io sees both");
  const wsSeen = await until(() => {
    const ids = w.events("message.created").map((e) => e.data.id).filter((id) => want.includes(id));
    return ids.length === 2 && ids;
  }, "websocket sees both");
  const sseSeen = await until(() => {
    const ids = e.of("message.created").map((x) => x.data.id).filter((id) => want.includes(id));
    return ids.length === 2 && ids;
  }, "sse sees both");
  eq(sioSeen, wsSeen, "same order");
  eq(sseSeen, wsSeen, "same order on SSE");
  eq(sioSeen, want, "id order");
  const texts = s.named("receive_message").filter((e) => want.includes(e[1].id)).map((e) => e[1].content);
  eq(texts, w.events("message.created").filter((e) => want.includes(e.data.id)).map((e) => e.data.text), "same texts");
  await w.close();
  e.close();
  closeAll();
});

test(`${MANY} clients (a quarter on polling) each receive one broadcast once`, async () => {
  const srv = await server();
  const users = Array.from({ length: 20 }, (_, i) => `smany${i}`);
  const socks = [];
  const started = Date.now();
  for (let i = 0; i < MANY; i += 25) {
    const batch = [];
    for (let j = i; j < Math.min(MANY, i + 25); j++)
      batch.push(client(srv, users[j % users.length], { transports: j % 4 === 0 ? ["polling"] : ["websocket"] }));
    socks.push(...(await Promise.all(batch)));
  }
  const connectMs = Date.now() - started;
  const sent = Date.now();
  const m = await post(srv, "smany0", "general", "to everyone");
  await until(() => socks.every((s) => s.named("receive_message").some((e) => e[1].id === m.id)), "every client", 60000);
  const fanMs = Date.now() - sent;
  await sleep(300);
  const twice = socks.filter((s) => s.named("receive_message").filter((e) => e[1].id === m.id).length !== 1);
  eq(twice.length, 0, "clients that got it other than once");
  console.log(`  measured: ${MANY} clients connected in ${connectMs} ms, broadcast reached all in ${fanMs} ms`);
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  const open = Number((/parley_connections\{transport="socketio"\} (\d+)/.exec(metrics) || [])[1]);
  assert(open >= MANY, `/metrics counts the sessions: ${open}`);
  closeAll();
});

// ---- Engine.IO edges, raw ----

const eio = (srv, q, init) => fetch(`${srv.url}/socket.io/?${q}`, init);
async function handshake(srv, extra = "") {
  const r = await eio(srv, `EIO=4&transport=polling${extra}`);
  const text = await r.text();
  assert(r.status === 200 && text[0] === "0", `handshake: ${r.status} ${text}`);
  return JSON.parse(text.slice(1));
}

test("handshake: open packet; 400 JSON for a bad EIO, transport, sid or method", async () => {
  const srv = await server();
  const open = await handshake(srv);
  assert(/^[A-Za-z0-9_-]{20}$/.test(open.sid), open.sid);
  eq(open.upgrades, ["websocket"], "upgrades");
  assert(open.pingInterval > 0 && open.pingTimeout > 0 && open.maxPayload > 0, JSON.stringify(open));
  const cases = [
    ["EIO=3&transport=polling", {}, 5],
    ["transport=polling", {}, 5],
    ["EIO=4&transport=carrier-pigeon", {}, 0],
    ["EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA", {}, 1],
    ["EIO=4&transport=polling&sid=bad", {}, 1],
    ["EIO=4&transport=polling", { method: "POST", body: "40" }, 2],
    ["EIO=4&transport=websocket", {}, 3],
  ];
  for (const [q, init, code] of cases) {
    const r = await eio(srv, q, init);
    eq([r.status, (await r.json()).code], [400, code], q);
  }
});

test("polling: one GET at a time (overlap is 400 and ends the session); malformed packets end the session", async () => {
  const srv = await server();
  let { sid } = await handshake(srv);
  const first = eio(srv, `EIO=4&transport=polling&sid=${sid}`);
  await sleep(200);
  const second = await eio(srv, `EIO=4&transport=polling&sid=${sid}`);
  eq(second.status, 400, "overlapping GET");
  const released = await first;
  eq([released.status, await released.text()], [200, "1"], "the waiting GET ends with a close packet");
  eq((await eio(srv, `EIO=4&transport=polling&sid=${sid}`)).status, 400, "session gone");
  for (const body of ["4x", "9", "", "40{nope", "bnot base64!", "4" + "5-[\"a\"]", "42[]"]) {
    ({ sid } = await handshake(srv));
    const r = await eio(srv, `EIO=4&transport=polling&sid=${sid}`, { method: "POST", body });
    eq(r.status, 400, `malformed ${JSON.stringify(body)}`);
    const after = await eio(srv, `EIO=4&transport=polling&sid=${sid}`);
    eq(after.status, 400, `session of ${JSON.stringify(body)} ended`);
  }
});

test("polling: CONNECT with auth over POST, events and acks come on the next GET, b64 binary attachments accepted", async () => {
  const srv = await server();
  const { sid } = await handshake(srv);
  const q = `EIO=4&transport=polling&sid=${sid}`;
  const p = await eio(srv, q, { method: "POST", body: `40${JSON.stringify({ token: tok("sraw") })}` });
  eq([p.status, await p.text()], [200, "ok"], "POST answer");
  const got = await (await eio(srv, q)).text();
  const connect = got.split("\x1e").find((x) => x.startsWith("40"));
  assert(connect && JSON.parse(connect.slice(2)).pid, `CONNECT answer: ${got}`);
  // a binary event with one attachment, as a polling payload
  const bin = await eio(srv, q, { method: "POST", body: `451-3["send_message",{"_placeholder":true,"num":0}]\x1ebAQID` });
  eq(bin.status, 200, "binary event accepted");
  const ack = await until(async () => {
    const t = await (await eio(srv, q)).text();
    return t.split("\x1e").find((x) => x.startsWith("433"));
  }, "ack 3");
  assert(/binary/.test(ack), ack);
});

test("a session that does not read falls behind and is cut (bounded queue); it then recovers what it missed", async () => {
  const srv = await startServer({ args: ["--post-rate", "0"] });
  const { sid } = await handshake(srv);
  const q = `EIO=4&transport=polling&sid=${sid}`;
  await eio(srv, q, { method: "POST", body: `40${JSON.stringify({ token: tok("sslow") })}` });
  const connect = (await (await eio(srv, q)).text()).split("\x1e").find((x) => x.startsWith("40"));
  const { pid } = JSON.parse(connect.slice(2));
  // never polls again while 4,200 messages are posted (the queue holds 4,096)
  let last = 0;
  for (let i = 0; i < 4200; i += 50)
    await Promise.all(Array.from({ length: 50 }, async (_, j) => {
      const m = await post(srv, `sflood${j % 5}`, "general", `flood ${i + j}`);
      last = Math.max(last, m.id);
    }));
  const after = await until(async () => (await eio(srv, q)).status === 400 || null, "the session cut");
  assert(after, "session gone");
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  assert(/parley_slow_consumers_dropped_total [1-9]/.test(metrics), "cut as a slow consumer");
  // a socket.io-client socket that comes back with the pid gets everything
  const s = io(srv.url, { auth: { token: tok("sslow") }, reconnection: false, forceNew: true, transports: ["websocket"] });
  open.push(s);
  s._pid = pid; // what the cut session's client held
  let n = 0;
  const seen = new Set();
  s.on("receive_message", (m) => (n++, seen.add(m.id)));
  await new Promise((r, j) => (s.once("connect", r), s.once("connect_error", j)));
  eq(s.recovered, true, "recovered");
  await until(() => seen.has(last), "the last message", 60000);
  eq(n, seen.size, "no repeats");
  assert(seen.size >= 4200, `all of them: ${seen.size}`);
  closeAll();
  await srv.stop();
});

test("a WebSocket message over maxPayload ends the session", async () => {
  const WebSocket = requireNode("ws");
  const srv = await server();
  const w = new WebSocket(`ws://127.0.0.1:${srv.port}/socket.io/?EIO=4&transport=websocket`);
  const msgs = [];
  let closed = false;
  w.on("message", (d) => msgs.push(d.toString()));
  w.on("close", () => (closed = true));
  w.on("error", () => {});
  await until(() => msgs.length, "open packet");
  const { maxPayload } = JSON.parse(msgs[0].slice(1));
  w.send("4" + "x".repeat(maxPayload + 1));
  await until(() => closed, "closed");
});

test("sessions are bounded by --max-connections (a handshake over it is 503); invalid UTF-8 text ends a session", async () => {
  const srv = await startServer({ args: ["--max-connections", "16"] });
  for (let i = 0; i < 16; i++) await handshake(srv);
  const over = await eio(srv, "EIO=4&transport=polling");
  eq(over.status, 503, "17th session");
  await srv.stop();
  const WebSocket = requireNode("ws");
  const main = await server();
  const w = new WebSocket(`ws://127.0.0.1:${main.port}/socket.io/?EIO=4&transport=websocket`);
  let closed = false;
  let opened = false;
  w.on("message", () => (opened = true));
  w.on("close", () => (closed = true));
  w.on("error", () => {});
  await until(() => opened, "open packet");
  w._socket.write(Buffer.from([0x81, 0x83, 0, 0, 0, 0, 0x36, 0xc3, 0x28])); // masked text: a noop "6" + bytes that are not UTF-8
  await until(() => closed, "closed");
});

test("heartbeat (conformance timers): pings at pingInterval, a session that does not answer ends", async () => {
  const conf = await startServer({ args: ["--socketio-conformance"] });
  const open = await handshake(conf);
  eq([open.pingInterval, open.pingTimeout, open.maxPayload], [300, 200, 1000000], "conformance timers");
  const q = `EIO=4&transport=polling&sid=${open.sid}`;
  const t0 = Date.now();
  eq(await (await eio(conf, q)).text(), "2", "a ping");
  console.log(`  measured: first ping after ${Date.now() - t0} ms (pingInterval 300)`);
  // no pong: the session ends pingTimeout later
  await until(async () => (await eio(conf, q)).status === 400, "session ended by ping timeout", 10000);
  // one that answers stays
  const alive = await handshake(conf);
  const qa = `EIO=4&transport=polling&sid=${alive.sid}`;
  for (let i = 0; i < 4; i++) {
    eq(await (await eio(conf, qa)).text(), "2", "ping");
    eq((await eio(conf, qa, { method: "POST", body: "3" })).status, 200, "pong");
  }
  await conf.stop();
});

test("connect timeout: a session that sends no CONNECT in time is closed (polling and WebSocket); one that did stays", async () => {
  // the default is 45 s (unit test test_config); a short one keeps this
  // quick, long enough for a slow machine to send its CONNECT in time
  const srv = await startServer({ args: ["--socketio-connect-timeout", "1500"] });
  const idle = await handshake(srv);
  const qi = `EIO=4&transport=polling&sid=${idle.sid}`;
  const waiting = await eio(srv, qi); // a GET waiting when it ends gets the close packet
  const w0 = [waiting.status, await waiting.text()];
  assert((w0[0] === 200 && w0[1] === "1") || w0[0] === 400, `waiting GET: ${w0}`);
  eq((await eio(srv, qi)).status, 400, "the session is gone");
  // a session that connected in time outlives the timeout
  const live = await handshake(srv);
  const ql = `EIO=4&transport=polling&sid=${live.sid}`;
  const p = await eio(srv, ql, { method: "POST", body: `40${JSON.stringify({ token: tok("stimeout") })}` });
  eq(p.status, 200, "CONNECT");
  assert((await (await eio(srv, ql)).text()).startsWith("40{"), "connected");
  await sleep(3000);
  const still = await eio(srv, ql, { method: "POST", body: "1" }); // the client closes it itself
  eq([still.status, await still.text()], [200, "ok"], "still open after the timeout");
  // WebSocket: no CONNECT, the socket is closed after the open packet
  const WebSocket = requireNode("ws");
  const w = new WebSocket(`${srv.ws}/socket.io/?EIO=4&transport=websocket`);
  const got = [];
  let closed = false;
  w.on("message", (d) => got.push(String(d)));
  w.on("close", () => (closed = true));
  w.on("error", () => {});
  await until(() => closed, "WebSocket closed for want of a CONNECT");
  assert(got[0] && got[0][0] === "0", `open packet first: ${got}`);
  assert(!got.some((m) => m.startsWith("40")), `never connected: ${got}`);
  await srv.stop();
});

test("conformance app: echo at /engine.io/, message-back and message-with-ack with binary attachments", async () => {
  const conf = await startServer({ args: ["--socketio-conformance"] });
  const r = await fetch(`${conf.url}/engine.io/?EIO=4&transport=polling`);
  const { sid } = JSON.parse((await r.text()).slice(1));
  const q = `${conf.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
  await fetch(q, { method: "POST", body: "4hello\x1ebAQID" });
  eq(await (await fetch(q)).text(), "4hello\x1ebAQID", "echo");
  const s = io(conf.url, { auth: { hello: "world" }, reconnection: false, forceNew: true, transports: ["websocket"] });
  open.push(s);
  const auth = await new Promise((res) => s.once("auth", res));
  eq(auth, { hello: "world" }, "auth echoed");
  const back = new Promise((res) => s.once("message-back", (...a) => res(a)));
  s.emit("message", 1, "2", Buffer.from([3, 4]));
  const got = await back;
  eq([got[0], got[1], [...got[2]]], [1, "2", [3, 4]], "message-back");
  const acked = await s.timeout(5000).emitWithAck("message-with-ack", Buffer.from([5]), { x: 1 });
  eq([[...acked]], [[5]], "first ack argument is the buffer");
  closeAll();
  await conf.stop();
});

test("conformance app, raw: namespaces, DISCONNECT, bad packets, upgrade noop, client close", async () => {
  const WebSocket = requireNode("ws");
  const conf = await startServer({ args: ["--socketio-conformance"] });
  const wsUrl = `ws://127.0.0.1:${conf.port}/socket.io/?EIO=4&transport=websocket`;
  const raw = (url = wsUrl) => {
    const w = new WebSocket(url);
    w.msgs = [];
    w.closed = false;
    w.on("message", (d, bin) => {
      if (!bin && d.toString() === "2") return w.send("3"); // heartbeats answered, not recorded
      w.msgs.push(bin ? [...d] : d.toString());
    });
    w.on("close", () => (w.closed = true));
    w.on("error", () => {});
    w.next = async (i) => until(() => w.msgs.length > i && w.msgs[i], `message ${i}`);
    return w;
  };
  let w = raw();
  assert((await w.next(0)).startsWith("0"), "open");
  w.send("40/random");
  eq(await w.next(1), '44/random,{"message":"Invalid namespace"}', "unknown namespace");
  w.send('40{"token":"123"}');
  assert(/^40\{"sid":"[^"]+"\}$/.test(await w.next(2)), "CONNECT answer has sid only");
  eq(await w.next(3), '42["auth",{"token":"123"}]', "auth echoed");
  w.send("40/custom,");
  assert((await w.next(4)).startsWith("40/custom,{"), "custom namespace");
  eq(await w.next(5), '42/custom,["auth",{}]', "custom auth");
  w.send("41/custom,");
  w.send('42["message","to main"]');
  eq(await w.next(6), '42["message-back","to main"]', "main goes on after the custom one leaves");
  w.send('42456["message-with-ack",1,"2",{"3":[false]}]');
  eq(await w.next(7), '43456[1,"2",{"3":[false]}]', "ack");
  w.send("41");
  await until(() => w.closed, "DISCONNECT of the last namespace closes");
  for (const bad of ["4abc", "42{}", '42abc["message-with-ack",1]']) {
    w = raw();
    await w.next(0);
    w.send("40");
    await w.next(2);
    w.send(bad);
    await until(() => w.closed, `closed after ${bad}`);
  }
  // upgrade with no poll waiting: the noop comes over the WebSocket
  const open = JSON.parse((await (await fetch(`${conf.url}/socket.io/?EIO=4&transport=polling`)).text()).slice(1));
  w = raw(`${wsUrl}&sid=${open.sid}`);
  await until(() => w.readyState === 1, "ws open");
  w.send("2probe");
  eq(await w.next(0), "3probe", "probe");
  w.send("5");
  eq(await w.next(1), "6", "noop over the WebSocket");
  eq((await fetch(`${conf.url}/socket.io/?EIO=4&transport=polling&sid=${open.sid}`)).status, 400, "polling after upgrade");
  w.close();
  // a client close packet releases the waiting poll with a noop
  const o2 = JSON.parse((await (await fetch(`${conf.url}/engine.io/?EIO=4&transport=polling`)).text()).slice(1));
  const q = `${conf.url}/engine.io/?EIO=4&transport=polling&sid=${o2.sid}`;
  const [poll] = await Promise.all([fetch(q), sleep(100).then(() => fetch(q, { method: "POST", body: "1" }))]);
  eq(await poll.text(), "6", "noop");
  eq((await fetch(q)).status, 400, "session closed");
  await conf.stop();
});

await run("socketio");
