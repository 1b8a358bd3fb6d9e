// tests/integration/compat.test.mjs: the compatibility endpoints of API.md
// (/sendMessage, /getMessages, /updateStatus, /getStatus, /create-room,
// /join-room/{id}) against a real parleyd, checked through the /v1 API they
// map onto.  Same auth rules as everything else.  (/ws-online-status is
// covered elsewhere.)
//
//   node tests/integration/compat.test.mjs        (PARLEYD=... to pick a binary)
import { api, assert, eq, requireNode, run, sharedClient, startServer, test, token, until } from "./lib.mjs";

const WebSocket = requireNode("ws");

const { server, tok, as } = sharedClient();

const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

function isError(r, status, code, field) {
  eq(r.status, status, `status (want ${status} ${code}; body ${r.text.slice(0, 200)})`);
  assert(r.body && r.body.error && typeof r.body.error === "object", `no "error" object: ${r.text.slice(0, 200)}`);
  eq(r.body.error.code, code, "error code");
  assert(typeof r.body.error.message === "string" && r.body.error.message.length > 0, "error message");
  if (field)
    assert(r.body.error.message.includes(field), `message "${r.body.error.message}" does not name ${field}`);
}

function isStatus(o, user) {
  assert(o && typeof o === "object", `not a status: ${JSON.stringify(o)}`);
  eq(o.user, user, "status.user");
  assert(["online", "away", "busy", "offline"].includes(o.status), `status.status ${o.status}`);
  assert(Number.isInteger(o.connections), "status.connections");
  assert(o.last_seen === null || TIME_RE.test(o.last_seen), `status.last_seen ${o.last_seen}`);
}

async function history(user, room, query = "") {
  const r = await as(user, "GET", `/v1/rooms/${room}/messages${query ? "?" + query : ""}`);
  eq(r.status, 200, `history of ${room}: ${r.text}`);
  return r.body;
}

/** A WebSocket collecting frames; counts as a connection for presence. */
async function socket(user) {
  const srv = await server();
  const ws = new WebSocket(`${srv.ws}/v1/ws?token=${tok(user)}`);
  const c = { frames: [], closed: false };
  ws.on("message", (d) => c.frames.push(JSON.parse(d.toString())));
  ws.on("close", () => (c.closed = true));
  ws.on("error", () => {});
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  await until(() => c.frames.some((f) => f.type === "hello"), "ws hello");
  c.of = (type) => c.frames.filter((f) => f.type === type);
  c.close = async () => {
    ws.close();
    await until(() => c.closed, "ws closed");
  };
  return c;
}

// ---- /sendMessage ----

test("/sendMessage: posts to general by default as the caller", async () => {
  const r = await as("cs_alice", "POST", "/sendMessage", { message: "hello from the old client", senderId: "cs_alice", timestamp: Date.now() });
  assert(r.status === 201 || r.status === 200, `status ${r.status}: ${r.text}`);
  eq(r.body.room, "general");
  eq(r.body.sender, "cs_alice");
  eq(r.body.text, "hello from the old client");
  assert(Number.isInteger(r.body.id), "message id");
  const h = await history("cs_bob", "general", "limit=200");
  const m = h.messages.find((x) => x.id === r.body.id);
  assert(m, "the message is not in general's history");
  eq(m.text, "hello from the old client");
  eq(m.sender, "cs_alice");
});

test("/sendMessage: the client's timestamp never sets created_at", async () => {
  const r = await as("cs_alice", "POST", "/sendMessage", { message: "dated", senderId: "cs_alice", timestamp: "2001-01-01T00:00:00.000Z" });
  assert(r.status === 201 || r.status === 200, `status ${r.status}: ${r.text}`);
  assert(TIME_RE.test(r.body.created_at), `created_at ${r.body.created_at}`);
  assert(Math.abs(Date.parse(r.body.created_at) - Date.now()) < 10 * 60 * 1000, `created_at ${r.body.created_at} is not now`);
  const n = await as("cs_alice", "POST", "/sendMessage", { message: "dated", senderId: "cs_alice", timestamp: 978307200000 });
  assert(Math.abs(Date.parse(n.body.created_at) - Date.now()) < 10 * 60 * 1000, `created_at ${n.body.created_at} is not now`);
});

test("/sendMessage: senderId must be the caller (403), and is required", async () => {
  const before = (await history("cs_eve", "general", "limit=200")).messages.length;
  isError(await as("cs_eve", "POST", "/sendMessage", { message: "spoof", senderId: "cs_alice" }), 403, "permission_denied", "senderId");
  isError(await as("cs_eve", "POST", "/sendMessage", { message: "spoof", senderId: "CS_EVE" }), 403, "permission_denied");
  const missing = await as("cs_eve", "POST", "/sendMessage", { message: "who?" });
  assert(missing.status === 400 || missing.status === 403, `no senderId: ${missing.status}`);
  isError(missing, missing.status, missing.status === 400 ? "invalid_argument" : "permission_denied", "senderId");
  isError(await as("cs_eve", "POST", "/sendMessage", { message: "spoof", senderId: 42 }), missing.status, missing.body.error.code);
  const h = await history("cs_eve", "general", "limit=200");
  assert(!h.messages.some((m) => ["spoof", "who?"].includes(m.text)), "a refused message was stored");
  eq(h.messages.length, before, "a refused message was stored");
});

// API.md, Authentication: "A body field that names another user as sender is
// refused with 403" -- here too, next to a correct senderId.
test("/sendMessage: a sender field naming another user is refused (403)", async () => {
  const r = await as("cs_frank", "POST", "/sendMessage", { message: "two senders", senderId: "cs_frank", sender: "cs_alice" });
  isError(r, 403, "permission_denied", "sender");
  const ok = await as("cs_frank", "POST", "/sendMessage", { message: "one sender", senderId: "cs_frank", sender: "cs_frank" });
  assert(ok.status === 201 || ok.status === 200, ok.text);
});

test("/sendMessage: roomId picks the room; members only; text limits", async () => {
  let r = await as("cs_alice", "POST", "/v1/rooms", { id: "cs-room", name: "Compat", private: true });
  eq(r.status, 201, r.text);
  r = await as("cs_alice", "POST", "/sendMessage", { message: "in the room", senderId: "cs_alice", roomId: "cs-room", timestamp: Date.now() });
  assert(r.status === 201 || r.status === 200, r.text);
  eq(r.body.room, "cs-room");
  const h = await history("cs_alice", "cs-room");
  eq(h.messages.map((m) => m.text), ["in the room"]);
  isError(await as("cs_bob", "POST", "/sendMessage", { message: "x", senderId: "cs_bob", roomId: "cs-room" }), 403, "permission_denied");
  isError(await as("cs_bob", "POST", "/sendMessage", { message: "x", senderId: "cs_bob", roomId: "cs-nothing" }), 404, "not_found");
  isError(await as("cs_bob", "POST", "/sendMessage", { message: "x", senderId: "cs_bob", roomId: "bad room" }), 400, "invalid_argument", "room");
  // text: 1..4000 characters
  isError(await as("cs_alice", "POST", "/sendMessage", { senderId: "cs_alice" }), 400, "invalid_argument");
  isError(await as("cs_alice", "POST", "/sendMessage", { message: "", senderId: "cs_alice" }), 400, "invalid_argument");
  isError(await as("cs_alice", "POST", "/sendMessage", { message: "\u00e9".repeat(4001), senderId: "cs_alice", roomId: "cs-room" }), 400, "invalid_argument");
  r = await as("cs_alice", "POST", "/sendMessage", { message: "\u00e9".repeat(4000), senderId: "cs_alice", roomId: "cs-room" });
  assert(r.status === 201 || r.status === 200, `4000 characters: ${r.status}`);
  // a DM of two others is closed to a third, here too
  const dm = await as("cs_alice", "POST", "/v1/dms", { user: "cs_bob" });
  eq(dm.status, 200);
  isError(await as("cs_eve", "POST", "/sendMessage", { message: "x", senderId: "cs_eve", roomId: dm.body.id }), 403, "permission_denied");
  r = await as("cs_bob", "POST", "/sendMessage", { message: "dm via compat", senderId: "cs_bob", roomId: dm.body.id });
  assert(r.status === 201 || r.status === 200, r.text);
});

test("/sendMessage: same auth and body rules (401, 415, 400)", async () => {
  isError(await as(null, "POST", "/sendMessage", { message: "x", senderId: "cs_alice" }), 401, "unauthenticated");
  const bad = api(await server(), "POST", "/sendMessage", {
    tok: "e30.e30.AAAA", body: { message: "x", senderId: "cs_alice" },
  });
  isError(await bad, 401, "unauthenticated");
  isError(await as("cs_alice", "POST", "/sendMessage", undefined, {
    raw: JSON.stringify({ message: "x", senderId: "cs_alice" }), headers: { "Content-Type": "text/plain" },
  }), 415, "unsupported_media_type");
  isError(await as("cs_alice", "POST", "/sendMessage", undefined, {
    raw: "{broken", headers: { "Content-Type": "application/json" },
  }), 400, "invalid_argument");
  const srv = await server();
  const q = await api(srv, "POST", `/sendMessage?token=${tok("cs_query")}`, { body: { message: "via ?token=", senderId: "cs_query" } });
  assert(q.status === 201 || q.status === 200, `?token=: ${q.status} ${q.text}`);
  isError(await as("cs_alice", "GET", "/sendMessage"), 405, "method_not_allowed");
});

// ---- /getMessages ----

test("/getMessages: general by default; roomId, limit and since", async () => {
  const mine = [];
  for (let i = 0; i < 5; i++) {
    const r = await as("cg_alice", "POST", "/sendMessage", { message: `cg ${i}`, senderId: "cg_alice", timestamp: Date.now() });
    mine.push(r.body);
  }
  let r = await as("cg_bob", "GET", "/getMessages");
  eq(r.status, 200, r.text);
  assert(Array.isArray(r.body.messages), "messages is not an array");
  const ids = r.body.messages.map((m) => m.id);
  for (const m of mine) assert(ids.includes(m.id), `message ${m.id} missing from /getMessages`);
  assert(r.body.messages.every((m) => m.room === "general"), "a message of another room");
  assert(ids.every((id, i) => i === 0 || id > ids[i - 1]), "not oldest first");
  // the same as /v1 history
  const v1 = await history("cg_bob", "general");
  eq(r.body.messages, v1.messages, "/getMessages and GET /v1/rooms/general/messages differ");
  r = await as("cg_bob", "GET", "/getMessages?roomId=general&limit=2");
  eq(r.status, 200);
  eq(r.body.messages.map((m) => m.id), mine.slice(3).map((m) => m.id), "limit=2: the newest two");
  // since: created at or after
  const t = mine[2].created_at;
  r = await as("cg_bob", "GET", `/getMessages?roomId=general&since=${encodeURIComponent(t)}`);
  eq(r.status, 200, r.text);
  assert(r.body.messages.every((m) => m.created_at >= t), "since returned older messages");
  const got = r.body.messages.map((m) => m.id);
  for (const m of mine.slice(2)) assert(got.includes(m.id), `since lost message ${m.id}`);
  // another room
  eq((await as("cg_alice", "POST", "/v1/rooms", { id: "cg-room", name: "CG" })).status, 201);
  await as("cg_alice", "POST", "/sendMessage", { message: "only here", senderId: "cg_alice", roomId: "cg-room" });
  r = await as("cg_alice", "GET", "/getMessages?roomId=cg-room");
  eq(r.body.messages.map((m) => m.text), ["only here"]);
});

test("/getMessages: bad limits 400, non-members 403, unknown rooms 404, no token 401", async () => {
  for (const q of ["limit=0", "limit=201", "limit=x", "since=garbage"])
    isError(await as("cg_alice", "GET", `/getMessages?${q}`), 400, "invalid_argument", q.split("=")[0]);
  eq((await as("cg_alice", "POST", "/v1/rooms", { id: "cg-priv", name: "P", private: true })).status, 201);
  isError(await as("cg_eve", "GET", "/getMessages?roomId=cg-priv"), 403, "permission_denied");
  isError(await as("cg_eve", "GET", "/getMessages?roomId=cg-nothing"), 404, "not_found");
  isError(await as("cg_eve", "GET", "/getMessages?roomId=bad%20room"), 400, "invalid_argument");
  isError(await as(null, "GET", "/getMessages"), 401, "unauthenticated");
  const srv = await server();
  eq((await api(srv, "GET", `/getMessages?token=${tok("cg_eve")}&limit=1`)).status, 200, "?token=");
});

// ---- /updateStatus and /getStatus ----

test("/updateStatus: userId must be the caller; bad statuses 400", async () => {
  isError(await as("cu_eve", "POST", "/updateStatus", { userId: "cu_alice", status: "away" }), 403, "permission_denied", "userId");
  const missing = await as("cu_eve", "POST", "/updateStatus", { status: "away" });
  assert(missing.status === 400 || missing.status === 403, `no userId: ${missing.status}`);
  isError(missing, missing.status, missing.body.error.code, "userId");
  isError(await as("cu_eve", "POST", "/updateStatus", { userId: "cu_eve", status: "sleeping" }), 400, "invalid_argument", "status");
  isError(await as("cu_eve", "POST", "/updateStatus", { userId: "cu_eve" }), 400, "invalid_argument", "status");
  isError(await as(null, "POST", "/updateStatus", { userId: "cu_eve", status: "away" }), 401, "unauthenticated");
  for (const s of ["online", "away", "busy"]) {
    const r = await as("cu_eve", "POST", "/updateStatus", { userId: "cu_eve", status: s });
    eq(r.status, 200, `${s}: ${r.text}`);
    isStatus(r.body, "cu_eve");
  }
});

test("/updateStatus and /getStatus: what others see", async () => {
  const seen = async () => {
    const r = await as("cu_bob", "GET", "/getStatus?userId=cu_alice");
    eq(r.status, 200, r.text);
    isStatus(r.body, "cu_alice");
    return r.body;
  };
  eq((await seen()).status, "offline", "nobody connected yet");
  const ws = await socket("cu_alice");
  try {
    await until(async () => (await seen()).status === "online", "cu_alice online");
    eq((await as("cu_alice", "POST", "/updateStatus", { userId: "cu_alice", status: "away" })).status, 200);
    eq((await seen()).status, "away");
    eq((await as("cu_alice", "POST", "/updateStatus", { userId: "cu_alice", status: "busy" })).status, 200);
    eq((await seen()).status, "busy");
    // the old servers' "offline" hides the user, as invisible does
    eq((await as("cu_alice", "POST", "/updateStatus", { userId: "cu_alice", status: "offline" })).status, 200);
    const s = await seen();
    eq(s.status, "offline", "offline by request");
    eq(s.connections, 0);
    eq((await as("cu_alice", "POST", "/updateStatus", { userId: "cu_alice", status: "online" })).status, 200);
    eq((await seen()).status, "online");
    // /getStatus agrees with GET /v1/users/{u}/status
    const v1 = await as("cu_bob", "GET", "/v1/users/cu_alice/status");
    eq(await seen(), v1.body);
  } finally {
    await ws.close();
  }
  await until(async () => (await seen()).status === "offline", "cu_alice offline after closing");
});

test("/getStatus: userId required and checked; no token 401", async () => {
  isError(await as("cu_bob", "GET", "/getStatus"), 400, "invalid_argument", "userId");
  isError(await as("cu_bob", "GET", "/getStatus?userId="), 400, "invalid_argument", "userId");
  isError(await as("cu_bob", "GET", "/getStatus?userId=bad%20user"), 400, "invalid_argument", "userId");
  isError(await as(null, "GET", "/getStatus?userId=cu_bob"), 401, "unauthenticated");
  const r = await as("cu_bob", "GET", "/getStatus?userId=cu_nobody");
  eq(r.status, 200);
  isStatus(r.body, "cu_nobody");
  eq(r.body.status, "offline");
});

test('/updateStatus "typing": a typing event in roomId (default general)', async () => {
  eq((await as("ct_alice", "POST", "/v1/rooms", { id: "ct-room", name: "Typing" })).status, 201);
  eq((await as("ct_bob", "POST", "/v1/rooms/ct-room/join")).status, 200);
  eq((await as("ct_alice", "GET", "/v1/rooms")).status, 200);
  const bob = await socket("ct_bob");
  try {
    let r = await as("ct_alice", "POST", "/updateStatus", { userId: "ct_alice", status: "typing", roomId: "ct-room" });
    eq(r.status, 200, r.text);
    await until(() => bob.of("typing").some((e) => e.room === "ct-room" && e.data.user === "ct_alice" && e.data.typing === true),
      "typing in ct-room");
    r = await as("ct_alice", "POST", "/updateStatus", { userId: "ct_alice", status: "typing" });
    eq(r.status, 200, r.text);
    await until(() => bob.of("typing").some((e) => e.room === "general" && e.data.user === "ct_alice" && e.data.typing === true),
      "typing in general");
    // typing is no status: it does not change what others see
    const st = await as("ct_bob", "GET", "/getStatus?userId=ct_alice");
    assert(st.body.status !== "typing", "typing became a status");
    // members only
    eq((await as("ct_alice", "POST", "/v1/rooms", { id: "ct-priv", name: "P", private: true })).status, 201);
    isError(await as("ct_bob", "POST", "/updateStatus", { userId: "ct_bob", status: "typing", roomId: "ct-priv" }), 403, "permission_denied");
    isError(await as("ct_bob", "POST", "/updateStatus", { userId: "ct_bob", status: "typing", roomId: "ct-nothing" }), 404, "not_found");
    isError(await as("ct_bob", "POST", "/updateStatus", { userId: "ct_alice", status: "typing" }), 403, "permission_denied");
  } finally {
    await bob.close();
  }
});

// ---- /create-room and /join-room ----

test("/create-room: a new room with a generated id; the caller is a member", async () => {
  const r = await as("cr_alice", "POST", "/create-room", { name: "Old style" });
  assert(r.status === 201 || r.status === 200, `status ${r.status}: ${r.text}`);
  const id = r.body.roomId;
  assert(typeof id === "string" && ID_RE.test(id), `roomId ${JSON.stringify(id)}`);
  const g = await as("cr_bob", "GET", `/v1/rooms/${id}`);
  eq(g.status, 200, g.text);
  eq(g.body.id, id);
  eq(g.body.created_by, "cr_alice");
  eq(g.body.members, 1);
  eq((await as("cr_alice", "POST", "/sendMessage", { message: "first", senderId: "cr_alice", roomId: id })).status, 201);
  // each call makes another room, whatever the body says
  const r2 = await as("cr_alice", "POST", "/create-room", { roomId: "cr-wanted" });
  assert(r2.status === 201 || r2.status === 200, `status ${r2.status}: ${r2.text}`);
  assert(ID_RE.test(r2.body.roomId) && r2.body.roomId !== id, `second roomId ${r2.body.roomId}`);
  const r3 = await as("cr_alice", "POST", "/create-room", {});
  assert(r3.status === 201 || r3.status === 200, `an empty body: ${r3.status} ${r3.text}`);
  assert(ID_RE.test(r3.body.roomId), "roomId");
  isError(await as(null, "POST", "/create-room", {}), 401, "unauthenticated");
  isError(await as("cr_alice", "POST", "/create-room", undefined, { raw: "{}", headers: { "Content-Type": "text/plain" } }), 415, "unsupported_media_type");
});

test("/create-room: a bare POST (no body, no Content-Type) makes a room, as the old server did", async () => {
  const bare = await as("cr_bare", "POST", "/create-room");
  eq(bare.status, 201, `bare POST: ${bare.text}`);
  assert(ID_RE.test(bare.body.roomId), `roomId ${bare.text}`);
  eq((await as("cr_bare", "GET", `/v1/rooms/${bare.body.roomId}`)).body.created_by, "cr_bare");
  // JSON without a Content-Type is still read (a Uint8Array body gets none from fetch)
  const untyped = await as("cr_bare", "POST", "/create-room", undefined, { raw: new TextEncoder().encode('{"name":"Untyped"}') });
  eq(untyped.status, 201, `untyped JSON: ${untyped.text}`);
  eq(untyped.body.room.name, "Untyped");
  isError(await as("cr_bare", "POST", "/create-room", undefined, { raw: new TextEncoder().encode("{nope") }), 400, "invalid_argument", "body");
  isError(await as("cr_bare", "POST", "/create-room", undefined, { raw: new TextEncoder().encode("[1]") }), 400, "invalid_argument", "body");
  // other endpoints keep wanting JSON
  isError(await as("cr_bare", "POST", "/v1/rooms", undefined, { raw: new TextEncoder().encode('{"name":"x"}') }), 415, "unsupported_media_type");
});

test("/join-room/{id}: join public rooms; private 403; unknown 404; idempotent", async () => {
  const pub = (await as("cj_alice", "POST", "/create-room", { name: "Join me" })).body.roomId;
  isError(await as("cj_bob", "GET", `/getMessages?roomId=${pub}`), 403, "permission_denied");
  let r = await as("cj_bob", "POST", `/join-room/${pub}`);
  eq(r.status, 200, r.text);
  eq(r.body.id, pub);
  eq(r.body.members, 2);
  r = await as("cj_bob", "POST", `/join-room/${pub}`);
  eq(r.status, 200, "joining twice");
  eq(r.body.members, 2);
  eq((await as("cj_bob", "GET", `/getMessages?roomId=${pub}`)).status, 200);
  eq((await as("cj_bob", "POST", "/sendMessage", { message: "joined", senderId: "cj_bob", roomId: pub })).status, 201);
  eq((await as("cj_alice", "POST", "/v1/rooms", { id: "cj-priv", name: "P", private: true })).status, 201);
  isError(await as("cj_bob", "POST", "/join-room/cj-priv"), 403, "permission_denied");
  eq((await as("cj_alice", "POST", "/v1/rooms/cj-priv/members", { user: "cj_bob" })).status, 200);
  eq((await as("cj_bob", "POST", "/join-room/cj-priv")).status, 200, "join after being added");
  isError(await as("cj_bob", "POST", "/join-room/cj-nothing"), 404, "not_found");
  isError(await as("cj_bob", "POST", "/join-room/bad%20room"), 400, "invalid_argument");
  isError(await as(null, "POST", `/join-room/${pub}`), 401, "unauthenticated");
  isError(await as("cj_bob", "GET", `/join-room/${pub}`), 405, "method_not_allowed");
  isError(await as("cj_bob", "POST", "/join-room/"), 404, "not_found");
});

run("compat");
