// tests/integration/rest.test.mjs: every REST endpoint of API.md end to end
// against a real parleyd: service endpoints, rooms, members, DMs, messages
// and history, edits and deletes, typing, receipts, status and presence;
// every error class with its JSON shape; tokens (expired, forged, alg none,
// ?token=); durability (SIGTERM, kill -9, restart on the same data folder);
// dev mode and the refusal to start without a secret.
//
//   node tests/integration/rest.test.mjs        (PARLEYD=... to pick a binary)
//   ONLY=dm node tests/integration/rest.test.mjs
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  PARLEYD,
  ROOT,
  SECRET,
  api,
  assert,
  eq,
  freePort,
  requireNode,
  run,
  sharedClient,
  startServer,
  test,
  token,
  until,
} from "./lib.mjs";

// ---- helpers ----

const WebSocket = requireNode("ws");

const { server, tok, as } = sharedClient();

const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The response is the API's error: status, JSON {"error":{code,message}}. */
function isError(r, status, code, field) {
  const what = `${status} ${code}`;
  eq(r.status, status, `status (want ${what}; body ${r.text.slice(0, 200)})`);
  assert(r.body && typeof r.body === "object", `error body is not JSON: ${r.text.slice(0, 200)}`);
  assert(r.body.error && typeof r.body.error === "object", `no "error" object: ${r.text.slice(0, 200)}`);
  eq(r.body.error.code, code, `error code (want ${what})`);
  assert(typeof r.body.error.message === "string" && r.body.error.message.length > 0,
    `error message missing: ${r.text}`);
  const ct = r.headers.get("content-type") || "";
  assert(ct.startsWith("application/json"), `error Content-Type is ${ct}`);
  if (field)
    assert(r.body.error.message.includes(field), `message "${r.body.error.message}" does not name ${field}`);
}

function isRoom(o, want = {}) {
  assert(o && typeof o === "object", `not a room: ${JSON.stringify(o)}`);
  for (const k of ["id", "name", "private", "created_by", "created_at", "members"])
    assert(k in o, `room without ${k}: ${JSON.stringify(o)}`);
  assert(typeof o.private === "boolean", "room.private is not a boolean");
  assert(Number.isInteger(o.members), "room.members is not an integer");
  assert(TIME_RE.test(o.created_at), `room.created_at ${o.created_at}`);
  for (const [k, v] of Object.entries(want)) eq(o[k], v, `room.${k}`);
}

function isMessage(o, want = {}) {
  assert(o && typeof o === "object", `not a message: ${JSON.stringify(o)}`);
  for (const k of ["id", "room", "sender", "text", "client_id", "created_at", "edited_at", "deleted"])
    assert(k in o, `message without ${k}: ${JSON.stringify(o)}`);
  assert(Number.isInteger(o.id) && o.id > 0, `message.id ${o.id}`);
  assert(TIME_RE.test(o.created_at), `message.created_at ${o.created_at}`);
  assert(o.edited_at === null || TIME_RE.test(o.edited_at), `message.edited_at ${o.edited_at}`);
  assert(typeof o.deleted === "boolean", "message.deleted is not a boolean");
  for (const [k, v] of Object.entries(want)) eq(o[k], v, `message.${k}`);
}

function isStatus(o, user) {
  assert(o && typeof o === "object", `not a status: ${JSON.stringify(o)}`);
  eq(o.user, user, "status.user");
  assert(["online", "away", "busy", "offline"].includes(o.status), `status.status ${o.status}`);
  assert(Number.isInteger(o.connections) && o.connections >= 0, `status.connections ${o.connections}`);
  assert(o.last_seen === null || TIME_RE.test(o.last_seen), `status.last_seen ${o.last_seen}`);
}

async function createRoom(user, body, opts) {
  const r = await as(user, "POST", "/v1/rooms", body, opts);
  eq(r.status, 201, `create room ${JSON.stringify(body)}: ${r.text}`);
  return r.body;
}

async function post(user, room, text, extra = {}, opts) {
  const r = await as(user, "POST", `/v1/rooms/${room}/messages`, { text, ...extra }, opts);
  assert(r.status === 201 || r.status === 200, `post to ${room}: ${r.status} ${r.text}`);
  return r.body;
}

async function history(user, room, query = "", opts) {
  const r = await as(user, "GET", `/v1/rooms/${room}/messages${query ? "?" + query : ""}`, undefined, opts);
  eq(r.status, 200, `history ${room}?${query}: ${r.text}`);
  assert(Array.isArray(r.body.messages), "messages is not an array");
  assert(typeof r.body.has_more === "boolean", "has_more is not a boolean");
  return r.body;
}

const ids = (msgs) => msgs.map((m) => m.id);

// JWTs built here, independently of parleyd (node's HMAC).
const b64u = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
function jwt(payload, { secret = SECRET, header = { alg: "HS256", typ: "JWT" }, sig } = {}) {
  const head = `${b64u(header)}.${b64u(payload)}`;
  const s = sig !== undefined ? sig : crypto.createHmac("sha256", secret).update(head).digest("base64url");
  return `${head}.${s}`;
}
const nowS = () => Math.floor(Date.now() / 1000);

/** Waits for a child process to end, failing after ms. */
function exitWithin(exited, ms, what) {
  let timer;
  return Promise.race([
    exited,
    new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`${what} did not exit within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** An SSE stream held open with fetch (counts as a connection). */
async function openStream(srv, user) {
  const ac = new AbortController();
  const r = await fetch(`${srv.url}/v1/events`, {
    headers: { Accept: "text/event-stream", Authorization: `Bearer ${tok(user)}` },
    signal: ac.signal,
  });
  eq(r.status, 200, "SSE status");
  const reader = r.body.getReader();
  let text = "";
  (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString();
      }
    } catch {
      /* aborted */
    }
  })();
  return { close: () => ac.abort(), text: () => text };
}

/** A WebSocket held open (counts as a connection); close() waits for the close. */
async function openSocket(srv, user) {
  const ws = new WebSocket(`${srv.ws}/v1/ws?token=${tok(user)}`);
  let closed = false;
  ws.on("close", () => (closed = true));
  ws.on("error", () => {});
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return {
    close: async () => {
      ws.close();
      await until(() => closed, "WebSocket closed");
    },
  };
}

const tempDirs = [];
process.on("exit", () => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});
function tempDir() {
  const d = mkdtempSync(path.join(tmpdir(), "parley-rest-"));
  tempDirs.push(d);
  return d;
}

// ---- service endpoints ----

test("health answers without a token", async () => {
  const r = await as(null, "GET", "/v1/health");
  eq(r.status, 200);
  eq(r.body.status, "ok");
  assert(typeof r.body.version === "string" && r.body.version.length > 0, "version");
  assert(typeof r.body.store === "string", "store");
  assert(typeof r.body.presence === "string", "presence");
  assert((r.headers.get("content-type") || "").startsWith("application/json"), "content type");
});

test("metrics: Prometheus text without a token", async () => {
  await as("metrics_user", "GET", "/v1/rooms");
  const r = await as(null, "GET", "/metrics");
  eq(r.status, 200, r.text);
  assert((r.headers.get("content-type") || "").startsWith("text/plain"), `content type ${r.headers.get("content-type")}`);
  assert(/^# TYPE \S+ (counter|gauge)$/m.test(r.text), "no # TYPE line");
  const m = r.text.match(/^parley_http_requests_total (\d+)$/m);
  assert(m && Number(m[1]) >= 1, "parley_http_requests_total");
  for (const line of r.text.split("\n").filter((l) => l && !l.startsWith("#")))
    assert(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+]+$/.test(line), `not a sample line: ${line}`);
});

// ---- errors of every class ----

test("unknown route: 404 not_found as JSON, with or without a token", async () => {
  isError(await as(null, "GET", "/v1/nope"), 404, "not_found");
  isError(await as("err_user", "GET", "/v1/nope"), 404, "not_found");
  isError(await as("err_user", "POST", "/v1/rooms/general/nope", {}), 404, "not_found");
  isError(await as("err_user", "GET", "/v1/rooms/general/messages/1/extra"), 404, "not_found");
});

test("wrong method: 405 method_not_allowed with an Allow header", async () => {
  let r = await as(null, "DELETE", "/v1/health");
  isError(r, 405, "method_not_allowed");
  eq(r.headers.get("allow"), "GET", "Allow");
  r = await as("err_user", "PUT", "/v1/rooms", {});
  isError(r, 405, "method_not_allowed");
  const allow = (r.headers.get("allow") || "").split(/,\s*/).sort();
  eq(allow, ["GET", "POST"], "Allow of /v1/rooms");
  r = await as("err_user", "GET", "/v1/rooms/general/join");
  isError(r, 405, "method_not_allowed");
  eq(r.headers.get("allow"), "POST", "Allow of join");
  r = await as("err_user", "GET", "/v1/rooms/general/messages/1");
  isError(r, 405, "method_not_allowed");
  eq((r.headers.get("allow") || "").split(/,\s*/).sort(), ["DELETE", "PATCH"], "Allow of a message");
  r = await as("err_user", "DELETE", "/v1/me/status");
  isError(r, 405, "method_not_allowed");
  eq(r.headers.get("allow"), "POST");
});

test("POST without Content-Type application/json: 415", async () => {
  const body = JSON.stringify({ name: "x" });
  let r = await as("err_user", "POST", "/v1/rooms", undefined, { raw: body, headers: { "Content-Type": "text/plain" } });
  isError(r, 415, "unsupported_media_type", "Content-Type");
  // a Buffer body: fetch adds no Content-Type of its own
  r = await as("err_user", "POST", "/v1/rooms", undefined, { raw: Buffer.from(body) });
  isError(r, 415, "unsupported_media_type");
  r = await as("err_user", "POST", "/v1/rooms/general/messages", undefined, {
    raw: "text=hi", headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  isError(r, 415, "unsupported_media_type");
  r = await as("err_user", "POST", "/v1/rooms/general/messages", undefined, {
    raw: JSON.stringify({ text: "hi" }), headers: { "Content-Type": "application/jsonp" },
  });
  isError(r, 415, "unsupported_media_type");
  // parameters after the type are fine
  r = await as("err_user", "POST", "/v1/rooms/general/messages", undefined, {
    raw: JSON.stringify({ text: "with charset" }), headers: { "Content-Type": "application/json; charset=utf-8" },
  });
  eq(r.status, 201, r.text);
});

test("broken JSON and non-object bodies: 400 invalid_argument", async () => {
  const h = { "Content-Type": "application/json" };
  for (const raw of ['{"text": "hi"', "{text: 1}", "", "nul", '{"text":"a"} x', "[1,2]", '"text"', "42", "null"]) {
    const r = await as("err_user", "POST", "/v1/rooms/general/messages", undefined, { raw, headers: h });
    isError(r, 400, "invalid_argument");
    assert(r.body.error.message.includes("body"), `message does not name the body for ${JSON.stringify(raw)}: ${r.body.error.message}`);
  }
});

test("body over 64 KiB: 413 payload_too_large; 60 KiB is read whole", async () => {
  const big = JSON.stringify({ text: "x", pad: "p".repeat(70 * 1024) });
  let r = await as("err_user", "POST", "/v1/rooms/general/messages", undefined, {
    raw: big, headers: { "Content-Type": "application/json" },
  });
  isError(r, 413, "payload_too_large");
  r = await as("err_user", "POST", "/v1/rooms", undefined, {
    raw: JSON.stringify({ name: "n", pad: "q".repeat(1024 * 1024) }), headers: { "Content-Type": "application/json" },
  });
  isError(r, 413, "payload_too_large");
  // below the limit: unknown fields are ignored, the body is parsed whole
  r = await as("err_user", "POST", "/v1/rooms/general/messages", undefined, {
    raw: JSON.stringify({ pad: "p".repeat(60 * 1024), text: "after the padding" }),
    headers: { "Content-Type": "application/json" },
  });
  eq(r.status, 201, r.text.slice(0, 200));
  eq(r.body.text, "after the padding");
  // the limit itself: 65536 bytes are fine, one more is not
  const exact = (n) => {
    const base = JSON.stringify({ text: "edge", pad: "" });
    return JSON.stringify({ text: "edge", pad: "p".repeat(n - base.length) });
  };
  eq(Buffer.byteLength(exact(65536)), 65536);
  r = await as("err_user", "POST", "/v1/rooms/general/messages", undefined, {
    raw: exact(65536), headers: { "Content-Type": "application/json" },
  });
  eq(r.status, 201, `a body of exactly 64 KiB: ${r.text.slice(0, 200)}`);
  r = await as("err_user", "POST", "/v1/rooms/general/messages", undefined, {
    raw: exact(65537), headers: { "Content-Type": "application/json" },
  });
  isError(r, 413, "payload_too_large");
  // chunked bodies (no Content-Length) are held to the same limit
  const srv = await server();
  const chunked = async (text) => {
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(text));
        c.close();
      },
    });
    const res = await fetch(`${srv.url}/v1/rooms/general/messages`, {
      method: "POST", body, duplex: "half",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${tok("err_user")}` },
    });
    return { status: res.status, text: await res.text() };
  };
  eq((await chunked(JSON.stringify({ text: "chunked" }))).status, 201, "a small chunked body");
  eq((await chunked(exact(70000))).status, 413, "a large chunked body");
  // the server is still fine afterwards
  eq((await as(null, "GET", "/v1/health")).status, 200);
});

test("tokens: missing, malformed, expired, forged, alg none, no exp, bad sub: 401", async () => {
  isError(await as(null, "GET", "/v1/rooms"), 401, "unauthenticated");
  isError(await as(null, "POST", "/v1/rooms", { name: "x" }), 401, "unauthenticated");
  const bad = {
    garbage: "not-a-token",
    empty_parts: "..",
    expired: jwt({ sub: "tok_user", exp: nowS() - 60 }),
    wrong_secret: jwt({ sub: "tok_user", exp: nowS() + 3600 }, { secret: "another-secret-0123456789abcdef" }),
    tampered: (() => {
      const t = jwt({ sub: "tok_user", exp: nowS() + 3600 }).split(".");
      t[1] = b64u({ sub: "tok_admin", exp: nowS() + 3600 });
      return t.join(".");
    })(),
    alg_none: jwt({ sub: "tok_user", exp: nowS() + 3600 }, { header: { alg: "none", typ: "JWT" }, sig: "" }),
    alg_none_signed: jwt({ sub: "tok_user", exp: nowS() + 3600 }, { header: { alg: "none", typ: "JWT" } }),
    alg_hs512: jwt({ sub: "tok_user", exp: nowS() + 3600 }, { header: { alg: "HS512", typ: "JWT" } }),
    no_exp: jwt({ sub: "tok_user" }),
    string_exp: jwt({ sub: "tok_user", exp: String(nowS() + 3600) }),
    no_sub: jwt({ exp: nowS() + 3600 }),
    bad_sub: jwt({ sub: "tok user", exp: nowS() + 3600 }),
    long_sub: jwt({ sub: "u".repeat(65), exp: nowS() + 3600 }),
    two_parts: jwt({ sub: "tok_user", exp: nowS() + 3600 }).split(".").slice(0, 2).join("."),
  };
  for (const [what, t] of Object.entries(bad)) {
    const r = await api(await server(), "GET", "/v1/rooms", { tok: t });
    try {
      isError(r, 401, "unauthenticated");
    } catch (e) {
      throw new Error(`${what}: ${e.message}`);
    }
    // the same through ?token=
    const q = await api(await server(), "GET", `/v1/rooms?token=${encodeURIComponent(t)}`);
    eq(q.status, 401, `${what} via ?token=`);
  }
  // A token built the same way but valid is accepted: the refusals above
  // are about what was wrong with each, not about how they were built.
  const good = jwt({ sub: "tok_user", exp: nowS() + 3600, name: "Tok" });
  eq((await api(await server(), "GET", "/v1/rooms", { tok: good })).status, 200, "a valid hand-made token");
});

test("token via ?token= works; Bearer wins over nothing", async () => {
  const srv = await server();
  let r = await api(srv, "GET", `/v1/rooms?token=${tok("query_user")}`);
  eq(r.status, 200, r.text);
  r = await api(srv, "POST", `/v1/rooms/general/messages?token=${tok("query_user")}`, { body: { text: "via query" } });
  eq(r.status, 201, r.text);
  eq(r.body.sender, "query_user");
  r = await api(srv, "GET", "/v1/rooms", { headers: { Authorization: `bearer ${tok("query_user")}` } });
  eq(r.status, 200, "scheme is case-insensitive");
});

test("a body naming another user as sender: 403 permission_denied", async () => {
  const before = await history("sender_a", "general", "limit=200");
  let r = await as("sender_a", "POST", "/v1/rooms/general/messages", { text: "forged", sender: "sender_b" });
  isError(r, 403, "permission_denied", "sender");
  r = await as("sender_a", "POST", "/v1/rooms/general/messages", { text: "forged", sender: 7 });
  eq(r.status, 403, "a non-string sender");
  const after = await history("sender_a", "general", "limit=200");
  assert(!after.messages.some((m) => m.text === "forged"), "a forged message was stored");
  eq(after.messages.length >= before.messages.length, true);
  // naming oneself is fine
  r = await as("sender_a", "POST", "/v1/rooms/general/messages", { text: "me", sender: "sender_a" });
  eq(r.status, 201, r.text);
  eq(r.body.sender, "sender_a");
});

// "A body field that names another user as sender is refused with 403":
// an edit is a body that writes a message too.
test("an edit whose body names another user as sender: 403", async () => {
  const m = await post("sender_c", "general", "original");
  const r = await as("sender_c", "PATCH", `/v1/rooms/general/messages/${m.id}`, { text: "edited", sender: "sender_d" });
  isError(r, 403, "permission_denied", "sender");
  const h = await history("sender_c", "general", "limit=200");
  eq(h.messages.find((x) => x.id === m.id).text, "original", "the refused edit changed the message");
  const ok = await as("sender_c", "PATCH", `/v1/rooms/general/messages/${m.id}`, { text: "edited", sender: "sender_c" });
  eq(ok.status, 200, ok.text);
});

// ---- rooms ----

test("rooms: create 201 with the room object; the creator is a member", async () => {
  const r = await as("rc_alice", "POST", "/v1/rooms", { id: "rc-lobby", name: "Lobby", private: false });
  eq(r.status, 201, r.text);
  isRoom(r.body, { id: "rc-lobby", name: "Lobby", private: false, created_by: "rc_alice", members: 1 });
  const m = await as("rc_alice", "GET", "/v1/rooms/rc-lobby/members");
  eq(m.status, 200);
  eq(m.body.members.map((x) => x.user), ["rc_alice"]);
  isStatus(m.body.members[0], "rc_alice");
  eq((await as("rc_alice", "GET", "/v1/rooms/rc-lobby/messages")).status, 200);
  // private defaults to false
  const d = await createRoom("rc_alice", { id: "rc-default", name: "Default" });
  eq(d.private, false);
});

test("rooms: an id taken answers 409 conflict and changes nothing", async () => {
  await createRoom("rc_alice", { id: "rc-taken", name: "First" });
  isError(await as("rc_bob", "POST", "/v1/rooms", { id: "rc-taken", name: "Second" }), 409, "conflict", "id");
  isError(await as("rc_alice", "POST", "/v1/rooms", { id: "rc-taken", name: "Again" }), 409, "conflict");
  isError(await as("rc_alice", "POST", "/v1/rooms", { id: "general", name: "G" }), 409, "conflict");
  const g = await as("rc_bob", "GET", "/v1/rooms/rc-taken");
  eq(g.body.name, "First");
  eq(g.body.members, 1);
  eq((await as("rc_bob", "GET", "/v1/rooms/rc-taken/messages")).status, 403, "the loser did not become a member");
});

test("rooms: without an id one is generated", async () => {
  const a = await createRoom("rc_alice", { name: "Generated" });
  const b = await createRoom("rc_alice", { name: "Generated" });
  assert(ID_RE.test(a.id), `generated id ${a.id}`);
  assert(a.id !== b.id, "two generated ids are equal");
  assert(!a.id.startsWith("dm:"), "generated id looks like a DM");
  eq((await as("rc_alice", "GET", `/v1/rooms/${a.id}`)).body.name, "Generated");
});

test("rooms: invalid ids, names and private flags: 400", async () => {
  for (const id of ["", "has space", "x".repeat(65), "caf\u00e9", "a/b", "a?b", "dm:rc_alice:rc_bob", 42, true]) {
    const r = await as("rc_alice", "POST", "/v1/rooms", { id, name: "x" });
    try {
      isError(r, 400, "invalid_argument", "id");
    } catch (e) {
      throw new Error(`id ${JSON.stringify(id)}: ${e.message}`);
    }
  }
  const id64 = "r".repeat(64);
  eq((await as("rc_alice", "POST", "/v1/rooms", { id: id64, name: "x" })).status, 201, "a 64-character id");
  // name: required, 1..200 characters (characters, not bytes)
  isError(await as("rc_alice", "POST", "/v1/rooms", { id: "rc-noname" }), 400, "invalid_argument", "name");
  isError(await as("rc_alice", "POST", "/v1/rooms", { name: "" }), 400, "invalid_argument", "name");
  isError(await as("rc_alice", "POST", "/v1/rooms", { name: "n".repeat(201) }), 400, "invalid_argument", "name");
  isError(await as("rc_alice", "POST", "/v1/rooms", { name: 5 }), 400, "invalid_argument", "name");
  const wide = "\u00e9".repeat(200);
  const r = await as("rc_alice", "POST", "/v1/rooms", { name: wide });
  eq(r.status, 201, `200 two-byte characters: ${r.text.slice(0, 200)}`);
  eq(r.body.name, wide);
  const emoji = "\u{1F600}".repeat(200);
  eq((await as("rc_alice", "POST", "/v1/rooms", { name: emoji })).status, 201, "200 emoji");
  isError(await as("rc_alice", "POST", "/v1/rooms", { name: emoji + "x" }), 400, "invalid_argument", "name");
  // private must be a boolean
  for (const p of ["true", 1, 0, "yes", [], {}]) {
    const q = await as("rc_alice", "POST", "/v1/rooms", { name: "p", private: p });
    try {
      isError(q, 400, "invalid_argument", "private");
    } catch (e) {
      throw new Error(`private ${JSON.stringify(p)}: ${e.message}`);
    }
  }
  eq((await createRoom("rc_alice", { name: "p", private: true })).private, true);
});

test("rooms list: public rooms and the caller's own, never others' private ones", async () => {
  await createRoom("rl_alice", { id: "rl-public", name: "Public" });
  await createRoom("rl_alice", { id: "rl-secret", name: "Secret", private: true });
  await createRoom("rl_bob", { id: "rl-bobs", name: "Bob's", private: true });
  const list = async (u) => {
    const r = await as(u, "GET", "/v1/rooms");
    eq(r.status, 200, r.text);
    assert(Array.isArray(r.body.rooms), "rooms is not an array");
    r.body.rooms.forEach((x) => isRoom(x));
    const ids = r.body.rooms.map((x) => x.id);
    eq(new Set(ids).size, ids.length, "a room listed twice");
    return ids;
  };
  const a = await list("rl_alice");
  assert(a.includes("general") && a.includes("rl-public") && a.includes("rl-secret"), `alice sees ${a}`);
  assert(!a.includes("rl-bobs"), "alice sees bob's private room");
  const b = await list("rl_bob");
  assert(b.includes("rl-bobs") && b.includes("rl-public") && b.includes("general"), `bob sees ${b}`);
  assert(!b.includes("rl-secret"), "bob sees alice's private room");
  const c = await list("rl_carol");
  assert(c.includes("rl-public") && !c.includes("rl-secret") && !c.includes("rl-bobs"), `carol sees ${c}`);
  assert(!c.some((id) => id.startsWith("dm:")), "carol sees a DM");
});

test("room get: public to all, private 403 to non-members, unknown 404, bad id 400", async () => {
  await createRoom("rg_alice", { id: "rg-pub", name: "Pub" });
  await createRoom("rg_alice", { id: "rg-priv", name: "Priv", private: true });
  let r = await as("rg_bob", "GET", "/v1/rooms/rg-pub");
  eq(r.status, 200);
  isRoom(r.body, { id: "rg-pub", private: false, created_by: "rg_alice" });
  r = await as("rg_alice", "GET", "/v1/rooms/rg-priv");
  eq(r.status, 200);
  isRoom(r.body, { id: "rg-priv", private: true });
  isError(await as("rg_bob", "GET", "/v1/rooms/rg-priv"), 403, "permission_denied", "room");
  isError(await as("rg_bob", "GET", "/v1/rooms/rg-nothing"), 404, "not_found", "room");
  isError(await as("rg_bob", "GET", "/v1/rooms/bad%20id"), 400, "invalid_argument", "room");
  isError(await as("rg_bob", "GET", "/v1/rooms/" + "x".repeat(65)), 400, "invalid_argument");
  eq((await as("rg_bob", "GET", "/v1/rooms/general")).body.id, "general");
  // and the same for the private room's members and messages
  isError(await as("rg_bob", "GET", "/v1/rooms/rg-priv/members"), 403, "permission_denied");
  isError(await as("rg_bob", "GET", "/v1/rooms/rg-priv/messages"), 403, "permission_denied");
  isError(await as("rg_bob", "GET", "/v1/rooms/rg-nothing/messages"), 404, "not_found");
});

test("join: public rooms, idempotent; private rooms 403 unless added; unknown 404", async () => {
  await createRoom("rj_alice", { id: "rj-pub", name: "Pub" });
  await createRoom("rj_alice", { id: "rj-priv", name: "Priv", private: true });
  isError(await as("rj_bob", "POST", "/v1/rooms/rj-pub/messages", { text: "before joining" }), 403, "permission_denied");
  let r = await as("rj_bob", "POST", "/v1/rooms/rj-pub/join");
  eq(r.status, 200, r.text);
  isRoom(r.body, { id: "rj-pub", members: 2 });
  r = await as("rj_bob", "POST", "/v1/rooms/rj-pub/join");
  eq(r.status, 200, "joining twice");
  eq(r.body.members, 2, "a second join counted twice");
  eq((await as("rj_bob", "POST", "/v1/rooms/rj-pub/messages", { text: "joined" })).status, 201);
  const mem = (await as("rj_bob", "GET", "/v1/rooms/rj-pub/members")).body.members.map((m) => m.user);
  eq(mem.filter((u) => u === "rj_bob").length, 1, "member listed once");
  // private
  isError(await as("rj_bob", "POST", "/v1/rooms/rj-priv/join"), 403, "permission_denied", "rj-priv");
  eq((await as("rj_alice", "GET", "/v1/rooms/rj-priv")).body.members, 1, "a refused join counted");
  r = await as("rj_alice", "POST", "/v1/rooms/rj-priv/members", { user: "rj_bob" });
  eq(r.status, 200, r.text);
  r = await as("rj_bob", "POST", "/v1/rooms/rj-priv/join");
  eq(r.status, 200, "join after being added");
  eq(r.body.members, 2);
  isError(await as("rj_bob", "POST", "/v1/rooms/rj-nothing/join"), 404, "not_found");
  isError(await as("rj_bob", "POST", "/v1/rooms/bad%20id/join"), 400, "invalid_argument");
});

test("leave: 200, then the room is closed to the leaver; join again works", async () => {
  await createRoom("rv_alice", { id: "rv-room", name: "Leave" });
  eq((await as("rv_bob", "POST", "/v1/rooms/rv-room/join")).status, 200);
  const r = await as("rv_bob", "POST", "/v1/rooms/rv-room/leave");
  eq(r.status, 200, r.text);
  isError(await as("rv_bob", "GET", "/v1/rooms/rv-room/messages"), 403, "permission_denied");
  isError(await as("rv_bob", "POST", "/v1/rooms/rv-room/messages", { text: "x" }), 403, "permission_denied");
  eq((await as("rv_alice", "GET", "/v1/rooms/rv-room")).body.members, 1);
  const mem = (await as("rv_alice", "GET", "/v1/rooms/rv-room/members")).body.members.map((m) => m.user);
  eq(mem, ["rv_alice"]);
  eq((await as("rv_bob", "POST", "/v1/rooms/rv-room/join")).status, 200);
  eq((await as("rv_bob", "GET", "/v1/rooms/rv-room/messages")).status, 200);
  isError(await as("rv_bob", "POST", "/v1/rooms/rv-nothing/leave"), 404, "not_found");
});

test("members: a member adds a user to a private room, who can then read", async () => {
  await createRoom("rm_alice", { id: "rm-priv", name: "Team", private: true });
  const msg = await post("rm_alice", "rm-priv", "welcome aboard");
  isError(await as("rm_bob", "GET", "/v1/rooms/rm-priv/messages"), 403, "permission_denied");
  // a non-member cannot add anyone, not even themselves
  isError(await as("rm_carol", "POST", "/v1/rooms/rm-priv/members", { user: "rm_carol" }), 403, "permission_denied");
  isError(await as("rm_carol", "POST", "/v1/rooms/rm-priv/members", { user: "rm_bob" }), 403, "permission_denied");
  const r = await as("rm_alice", "POST", "/v1/rooms/rm-priv/members", { user: "rm_bob" });
  eq(r.status, 200, r.text);
  const h = await history("rm_bob", "rm-priv");
  eq(ids(h.messages), [msg.id], "the added user reads the history");
  eq((await as("rm_bob", "POST", "/v1/rooms/rm-priv/messages", { text: "thanks" })).status, 201);
  const m = await as("rm_bob", "GET", "/v1/rooms/rm-priv/members");
  eq(m.status, 200);
  eq(m.body.members.map((x) => x.user).sort(), ["rm_alice", "rm_bob"]);
  m.body.members.forEach((x) => isStatus(x, x.user));
  // the added member may add a third; adding twice changes nothing
  eq((await as("rm_bob", "POST", "/v1/rooms/rm-priv/members", { user: "rm_dave" })).status, 200);
  eq((await as("rm_bob", "POST", "/v1/rooms/rm-priv/members", { user: "rm_dave" })).status, 200);
  eq((await as("rm_alice", "GET", "/v1/rooms/rm-priv")).body.members, 3);
  // the room is in the added user's list
  const list = (await as("rm_dave", "GET", "/v1/rooms")).body.rooms.map((x) => x.id);
  assert(list.includes("rm-priv"), "added room missing from the list");
  // bad bodies
  isError(await as("rm_alice", "POST", "/v1/rooms/rm-priv/members", {}), 400, "invalid_argument", "user");
  isError(await as("rm_alice", "POST", "/v1/rooms/rm-priv/members", { user: "bad user" }), 400, "invalid_argument", "user");
  isError(await as("rm_alice", "POST", "/v1/rooms/rm-nothing/members", { user: "rm_bob" }), 404, "not_found");
  // public rooms' member lists are visible to all
  eq((await as("rm_carol", "GET", "/v1/rooms/general/members")).status, 200);
});

// ---- direct messages ----

test("dm: dm:<a>:<b> with a < b, the same room from either side", async () => {
  let r = await as("dm_bob", "POST", "/v1/dms", { user: "dm_alice" });
  eq(r.status, 200, r.text);
  isRoom(r.body, { id: "dm:dm_alice:dm_bob", private: true, members: 2 });
  r = await as("dm_alice", "POST", "/v1/dms", { user: "dm_bob" });
  eq(r.status, 200, r.text);
  eq(r.body.id, "dm:dm_alice:dm_bob");
  eq(r.body.members, 2);
  const m = await post("dm_alice", "dm:dm_alice:dm_bob", "psst");
  const h = await history("dm_bob", "dm:dm_alice:dm_bob");
  eq(ids(h.messages), [m.id]);
  eq((await as("dm_bob", "POST", "/v1/rooms/dm:dm_alice:dm_bob/messages", { text: "hi" })).status, 201);
  const lists = await as("dm_alice", "GET", "/v1/rooms");
  assert(lists.body.rooms.some((x) => x.id === "dm:dm_alice:dm_bob"), "DM missing from a member's list");
  // byte order: "Zed" < "amy"
  r = await as("dm_amy", "POST", "/v1/dms", { user: "Zed_dm" });
  eq(r.body.id, "dm:Zed_dm:dm_amy");
  // bad bodies
  isError(await as("dm_alice", "POST", "/v1/dms", {}), 400, "invalid_argument", "user");
  isError(await as("dm_alice", "POST", "/v1/dms", { user: "no such/user" }), 400, "invalid_argument", "user");
  isError(await as("dm_alice", "POST", "/v1/dms", { user: 12 }), 400, "invalid_argument", "user");
});

test("dm: a third user can never read, post, join, add or be added", async () => {
  const room = (await as("dx_alice", "POST", "/v1/dms", { user: "dx_bob" })).body.id;
  eq(room, "dm:dx_alice:dx_bob");
  await post("dx_alice", room, "private words");
  const p = `/v1/rooms/${room}`;
  isError(await as("dx_carol", "GET", `${p}/messages`), 403, "permission_denied");
  isError(await as("dx_carol", "POST", `${p}/messages`, { text: "let me in" }), 403, "permission_denied");
  isError(await as("dx_carol", "POST", `${p}/join`), 403, "permission_denied");
  isError(await as("dx_carol", "POST", `${p}/members`, { user: "dx_carol" }), 403, "permission_denied");
  isError(await as("dx_carol", "GET", `${p}/members`), 403, "permission_denied");
  isError(await as("dx_carol", "GET", p), 403, "permission_denied");
  isError(await as("dx_carol", "GET", `${p}/receipts`), 403, "permission_denied");
  isError(await as("dx_carol", "POST", `${p}/typing`, { typing: true }), 403, "permission_denied");
  // not even a member can add a third
  isError(await as("dx_alice", "POST", `${p}/members`, { user: "dx_carol" }), 403, "permission_denied");
  isError(await as("dx_carol", "GET", `${p}/messages`), 403, "permission_denied");
  // nor create a room with a DM id, nor get one through the compat join
  let r = await as("dx_carol", "POST", "/v1/rooms", { id: "dm:dx_carol:dx_zed", name: "fake" });
  isError(r, 400, "invalid_argument", "id");
  r = await as("dx_carol", "POST", "/v1/rooms", { id: room, name: "fake" });
  assert(r.status === 400 || r.status === 409, `creating the DM's id: ${r.status}`);
  isError(await as("dx_carol", "POST", `/join-room/${room}`), 403, "permission_denied");
  eq((await as("dx_alice", "GET", p)).body.members, 2, "the DM still has two members");
  const mem = (await as("dx_bob", "GET", `${p}/members`)).body.members.map((m) => m.user).sort();
  eq(mem, ["dx_alice", "dx_bob"]);
});

test("dm: with oneself is either refused (400) or a room for one", async () => {
  const r = await as("ds_solo", "POST", "/v1/dms", { user: "ds_solo" });
  if (r.status === 400) {
    isError(r, 400, "invalid_argument", "user");
    return;
  }
  eq(r.status, 200, r.text);
  isRoom(r.body, { id: "dm:ds_solo:ds_solo", private: true, members: 1 });
  eq((await as("ds_solo", "POST", "/v1/rooms/dm:ds_solo:ds_solo/messages", { text: "note to self" })).status, 201);
  isError(await as("ds_other", "GET", "/v1/rooms/dm:ds_solo:ds_solo/messages"), 403, "permission_denied");
});

// User ids may contain ':', so "dm:<a>:<b>" can spell two pairs: x:y+z and
// x+y:z are both dm:x:y:z. The room belongs to the pair that made it
// first (its two members never change); the other pair is refused with a
// 409 naming the field, and can never read or post there. Both orders.
for (const [first, second, tag] of [
  [["dc1_x:y", "z"], ["dc1_x", "y:z"], "x:y+z first"],
  [["dc2_x", "y:z"], ["dc2_x:y", "z"], "x+y:z first"],
]) {
  test(`dm: colliding ids (${tag}) map to one pair only, the other gets 409`, async () => {
    const room = `dm:${first[0]}:${first[1]}`;
    eq(`dm:${second[0]}:${second[1]}`, room, "the two pairs spell one id");
    let r = await as(first[1], "POST", "/v1/dms", { user: first[0] });
    eq(r.status, 200, r.text);
    isRoom(r.body, { id: room, private: true, members: 2 });
    const m = await post(first[0], room, "for the first pair only");
    for (const [me, other] of [second, [second[1], second[0]]]) {
      isError(await as(me, "POST", "/v1/dms", { user: other }), 409, "conflict", "user");
      isError(await as(me, "GET", `/v1/rooms/${room}/messages`), 403, "permission_denied");
      isError(await as(me, "POST", `/v1/rooms/${room}/messages`, { text: "mine?" }), 403, "permission_denied");
    }
    // the first pair still has its room, from either side, and only its words
    r = await as(first[0], "POST", "/v1/dms", { user: first[1] });
    eq(r.status, 200, r.text);
    eq(r.body.members, 2);
    const mem = (await as(first[1], "GET", `/v1/rooms/${room}/members`)).body.members.map((x) => x.user).sort();
    eq(mem, [...first].sort());
    eq(ids((await history(first[1], room)).messages), [m.id]);
  });
}

// User ids may contain ':' (the id alphabet is [A-Za-z0-9_.:-]), so
// "dm:x:y:z" is both the DM of "x" and "y:z" and the DM of "x:y" and "z".
// Whoever asks second must not get a 200 with a room they cannot use (or
// see the metadata of a private room they are not in).
test("dm: user ids with ':' cannot make two pairs share one room", async () => {
  // "dq1" < "dq2:dq3" and "dq1:dq2" < "dq3": both pairs make "dm:dq1:dq2:dq3".
  const first = await as("dq1", "POST", "/v1/dms", { user: "dq2:dq3" });
  eq(first.status, 200, first.text);
  eq(first.body.id, "dm:dq1:dq2:dq3");
  await post("dq1", "dm:dq1:dq2:dq3", "for dq2:dq3 only");
  // "dq1:dq2" and "dq3" ask for their DM.
  const second = await as("dq1:dq2", "POST", "/v1/dms", { user: "dq3" });
  if (second.status === 200) {
    const room = second.body.id;
    const read = await as("dq1:dq2", "GET", `/v1/rooms/${room}/messages`);
    eq(read.status, 200, `POST /v1/dms as dq1:dq2 with dq3 answered 200 with room ${room} (${second.text}), but its caller cannot read it: ${read.text}`);
    assert(!read.body.messages.some((m) => m.text === "for dq2:dq3 only"), "another pair's DM was handed out");
    eq((await as("dq3", "POST", `/v1/rooms/${room}/messages`, { text: "hi dq1:dq2" })).status, 201, "the other end cannot post");
  } else {
    assert(second.status >= 400 && second.status < 500, `status ${second.status}`);
    isError(second, second.status, second.body.error.code);
  }
  // whatever happened, the first pair's DM stays theirs alone
  const mem = (await as("dq1", "GET", "/v1/rooms/dm:dq1:dq2:dq3/members")).body.members.map((m) => m.user).sort();
  eq(mem, ["dq1", "dq2:dq3"]);
  isError(await as("dq3", "GET", "/v1/rooms/dm:dq1:dq2:dq3/messages"), 403, "permission_denied");
});

test("dm: ids up to 64 characters in all; longer pairs are refused with 400", async () => {
  const a = "da".padEnd(30, "a"), b = "db".padEnd(30, "b");
  const r = await as(a, "POST", "/v1/dms", { user: b });
  eq(r.status, 200, r.text);
  eq(r.body.id, `dm:${a}:${b}`);
  eq(r.body.id.length, 64);
  eq((await as(b, "POST", `/v1/rooms/${r.body.id}/messages`, { text: "long names" })).status, 201);
  isError(await as(a, "POST", "/v1/dms", { user: b + "x" }), 400, "invalid_argument", "user");
});

test("concurrent requests: one room per id, one DM per pair, one message per client_id", async () => {
  const creates = await Promise.all(
    Array.from({ length: 12 }, (_, i) => as(`cc_u${i}`, "POST", "/v1/rooms", { id: "cc-race", name: `by ${i}` })),
  );
  const codes = creates.map((r) => r.status).sort();
  eq(codes.filter((c) => c === 201).length, 1, `room creations: ${codes}`);
  eq(codes.filter((c) => c === 409).length, 11, `room creations: ${codes}`);
  const winner = creates.find((r) => r.status === 201).body;
  eq((await as("cc_u0", "GET", "/v1/rooms/cc-race")).body.members, 1);
  eq((await as("cc_u0", "GET", "/v1/rooms/cc-race")).body.created_by, winner.created_by);
  // both ends ask for their DM at once, several times
  const dms = await Promise.all(
    Array.from({ length: 10 }, (_, i) => as(i % 2 ? "cc_dma" : "cc_dmb", "POST", "/v1/dms", { user: i % 2 ? "cc_dmb" : "cc_dma" })),
  );
  dms.forEach((r) => eq(r.status, 200, `DM: ${r.text}`));
  dms.forEach((r) => eq(r.body.id, "dm:cc_dma:cc_dmb"));
  eq((await as("cc_dma", "GET", "/v1/rooms/dm:cc_dma:cc_dmb")).body.members, 2);
  // one client_id sent ten times at once: one message
  const posts = await Promise.all(
    Array.from({ length: 10 }, () => as("cc_dma", "POST", "/v1/rooms/dm:cc_dma:cc_dmb/messages", { text: "once", client_id: "cc-once" })),
  );
  const pc = posts.map((r) => r.status).sort();
  eq(pc, [200, 200, 200, 200, 200, 200, 200, 200, 200, 201], "statuses of ten identical posts");
  posts.forEach((r) => eq(r.body.id, posts[0].body.id, "all answers are the one message"));
  const h = await history("cc_dmb", "dm:cc_dma:cc_dmb");
  eq(h.messages.length, 1, "ten identical posts stored more than one message");
  // many joins at once count once each
  await Promise.all(Array.from({ length: 8 }, () => as("cc_joiner", "POST", "/v1/rooms/cc-race/join")));
  eq((await as("cc_u0", "GET", "/v1/rooms/cc-race")).body.members, 2);
  const mem = (await as("cc_u0", "GET", "/v1/rooms/cc-race/members")).body.members.map((m) => m.user);
  eq(mem.filter((u) => u === "cc_joiner").length, 1);
});

// ---- messages ----

test("post: 201 with the message; a client_id retry answers 200 with the first, storing nothing", async () => {
  await createRoom("mp_alice", { id: "mp-room", name: "Post" });
  const r = await as("mp_alice", "POST", "/v1/rooms/mp-room/messages", { text: "hello", client_id: "c-1" });
  eq(r.status, 201, r.text);
  isMessage(r.body, { room: "mp-room", sender: "mp_alice", text: "hello", client_id: "c-1", edited_at: null, deleted: false });
  const again = await as("mp_alice", "POST", "/v1/rooms/mp-room/messages", { text: "hello", client_id: "c-1" });
  eq(again.status, 200, `a retry: ${again.text}`);
  eq(again.body, r.body, "a retry answers the first message");
  const other = await as("mp_alice", "POST", "/v1/rooms/mp-room/messages", { text: "changed text", client_id: "c-1" });
  eq(other.status, 200);
  eq(other.body, r.body, "a retry with other text still answers the first message");
  let h = await history("mp_alice", "mp-room");
  eq(h.messages.length, 1, "a retry stored a message");
  // a new client_id, and none at all, are new messages
  const n2 = await as("mp_alice", "POST", "/v1/rooms/mp-room/messages", { text: "hello", client_id: "c-2" });
  eq(n2.status, 201);
  assert(n2.body.id > r.body.id, "ids grow");
  const n3 = await as("mp_alice", "POST", "/v1/rooms/mp-room/messages", { text: "hello" });
  eq(n3.status, 201);
  eq(n3.body.client_id, null);
  const n4 = await as("mp_alice", "POST", "/v1/rooms/mp-room/messages", { text: "hello" });
  eq(n4.status, 201, "without client_id every post is new");
  // another sender's same client_id is another message
  eq((await as("mp_bob", "POST", "/v1/rooms/mp-room/join")).status, 200);
  const b = await as("mp_bob", "POST", "/v1/rooms/mp-room/messages", { text: "bob's", client_id: "c-1" });
  eq(b.status, 201, b.text);
  eq(b.body.sender, "mp_bob");
  h = await history("mp_alice", "mp-room");
  eq(ids(h.messages), [r.body.id, n2.body.id, n3.body.id, n4.body.id, b.body.id]);
  // client_id limits
  isError(await as("mp_alice", "POST", "/v1/rooms/mp-room/messages", { text: "x", client_id: 5 }), 400, "invalid_argument", "client_id");
  isError(await as("mp_alice", "POST", "/v1/rooms/mp-room/messages", { text: "x", client_id: "" }), 400, "invalid_argument", "client_id");
  isError(await as("mp_alice", "POST", "/v1/rooms/mp-room/messages", { text: "x", client_id: "k".repeat(129) }), 400, "invalid_argument", "client_id");
  eq((await as("mp_alice", "POST", "/v1/rooms/mp-room/messages", { text: "x", client_id: "k".repeat(128) })).status, 201);
});

test("post: 1..4000 characters counted as characters; invalid UTF-8 refused", async () => {
  await createRoom("mt_alice", { id: "mt-room", name: "Text" });
  const p = "/v1/rooms/mt-room/messages";
  for (const [unit, what] of [["a", "ASCII"], ["\u00e9", "2-byte"], ["\u20ac", "3-byte"], ["\u{1F600}", "4-byte"]]) {
    const ok = await as("mt_alice", "POST", p, { text: unit.repeat(4000) });
    eq(ok.status, 201, `4000 ${what} characters: ${ok.text.slice(0, 200)}`);
    eq(ok.body.text, unit.repeat(4000), `4000 ${what} characters stored`);
    const over = await as("mt_alice", "POST", p, { text: unit.repeat(4001) });
    isError(over, 400, "invalid_argument", "text");
  }
  // combining marks are characters of their own: 2000 x (e + U+0301) = 4000
  eq((await as("mt_alice", "POST", p, { text: "e\u0301".repeat(2000) })).status, 201);
  isError(await as("mt_alice", "POST", p, { text: "" }), 400, "invalid_argument", "text");
  isError(await as("mt_alice", "POST", p, {}), 400, "invalid_argument", "text");
  isError(await as("mt_alice", "POST", p, { text: null }), 400, "invalid_argument", "text");
  isError(await as("mt_alice", "POST", p, { text: 42 }), 400, "invalid_argument", "text");
  isError(await as("mt_alice", "POST", p, { text: ["a"] }), 400, "invalid_argument", "text");
  // invalid UTF-8 in the raw body, and escapes that are no characters
  const h = { "Content-Type": "application/json" };
  const raw = (bytes) => Buffer.concat([Buffer.from('{"text":"ab'), Buffer.from(bytes), Buffer.from('cd"}')]);
  for (const bytes of [[0xff], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80]]) {
    const r = await as("mt_alice", "POST", p, undefined, { raw: raw(bytes), headers: h });
    try {
      isError(r, 400, "invalid_argument");
    } catch (e) {
      throw new Error(`bytes ${bytes.map((b) => b.toString(16))}: ${e.message}`);
    }
  }
  for (const esc of ['"\\ud800"', '"a\\udc00b"', '"\\u0000"']) {
    const r = await as("mt_alice", "POST", p, undefined, { raw: `{"text":${esc}}`, headers: h });
    isError(r, 400, "invalid_argument");
  }
  // valid escapes are fine
  const ok = await as("mt_alice", "POST", p, undefined, { raw: '{"text":"\\ud83d\\ude00 \\u00e9"}', headers: h });
  eq(ok.status, 201, ok.text);
  eq(ok.body.text, "\u{1F600} \u00e9");
  const hist = await history("mt_alice", "mt-room", "limit=200");
  assert(!hist.messages.some((m) => m.text.length > 8000), "an over-long text was stored");
  eq(hist.messages.length, 6, "only the valid posts were stored");
});

test("post: non-members 403, unknown rooms 404, bad room ids 400", async () => {
  await createRoom("mn_alice", { id: "mn-room", name: "x" });
  isError(await as("mn_bob", "POST", "/v1/rooms/mn-room/messages", { text: "x" }), 403, "permission_denied");
  isError(await as("mn_bob", "POST", "/v1/rooms/mn-nothing/messages", { text: "x" }), 404, "not_found");
  isError(await as("mn_bob", "POST", "/v1/rooms/bad%20id/messages", { text: "x" }), 400, "invalid_argument");
});

test("history: limit 1..200 (default 50), bad values 400", async () => {
  await createRoom("hl_alice", { id: "hl-room", name: "Limits" });
  for (let i = 0; i < 60; i++) await post("hl_alice", "hl-room", `m${i}`);
  eq((await history("hl_alice", "hl-room")).messages.length, 50, "default limit");
  eq((await history("hl_alice", "hl-room", "limit=1")).messages.length, 1);
  eq((await history("hl_alice", "hl-room", "limit=1")).messages[0].text, "m59", "limit=1 is the newest");
  eq((await history("hl_alice", "hl-room", "limit=200")).messages.length, 60);
  eq((await history("hl_alice", "hl-room", "limit=200")).has_more, false);
  eq((await history("hl_alice", "hl-room", "limit=60")).has_more, false, "exactly all: no more");
  eq((await history("hl_alice", "hl-room", "limit=59")).has_more, true);
  for (const q of ["limit=0", "limit=201", "limit=-1", "limit=abc", "limit=1.5", "limit=", "limit=10x",
    "limit=99999999999999999999", "before=abc", "before=-3", "after=x", "after=1.0", "since=yesterday",
    "since=2026-13-01T00:00:00Z"]) {
    const r = await as("hl_alice", "GET", `/v1/rooms/hl-room/messages?${q}`);
    try {
      isError(r, 400, "invalid_argument", q.split("=")[0]);
    } catch (e) {
      throw new Error(`${q}: ${e.message}`);
    }
  }
});

test("history: before/after/since pages over 120 messages, oldest first, has_more right", async () => {
  await createRoom("pg_alice", { id: "pg-room", name: "Pages" });
  await createRoom("pg_alice", { id: "pg-noise", name: "Noise" });
  const sent = [];
  for (let i = 0; i < 120; i++) {
    sent.push(await post("pg_alice", "pg-room", `p${i}`));
    if (i % 10 === 0) await post("pg_alice", "pg-noise", `noise${i}`);
  }
  const all = sent.map((m) => m.id);
  for (let i = 1; i < all.length; i++) assert(all[i] > all[i - 1], "ids do not grow");
  const asc = (msgs) => msgs.every((m, i) => i === 0 || m.id > msgs[i - 1].id);

  // default: the newest 50, oldest first
  let h = await history("pg_alice", "pg-room");
  eq(ids(h.messages), all.slice(70), "newest page");
  eq(h.has_more, true);
  h.messages.forEach((m) => isMessage(m, { room: "pg-room" }));
  // walk back with before
  h = await history("pg_alice", "pg-room", `before=${all[70]}`);
  eq(ids(h.messages), all.slice(20, 70), "before page 2");
  eq(h.has_more, true);
  h = await history("pg_alice", "pg-room", `before=${all[20]}`);
  eq(ids(h.messages), all.slice(0, 20), "before page 3");
  eq(h.has_more, false, "the oldest page has no more");
  h = await history("pg_alice", "pg-room", `before=${all[0]}`);
  eq(h.messages.length, 0);
  eq(h.has_more, false);
  // walking back the whole history with limit 7 visits every message once
  const walked = [];
  let before = "";
  for (let guard = 0; guard < 40; guard++) {
    const page = await history("pg_alice", "pg-room", `limit=7${before}`);
    assert(asc(page.messages), "a page is not oldest first");
    walked.unshift(...ids(page.messages));
    if (!page.has_more) break;
    before = `&before=${page.messages[0].id}`;
  }
  eq(walked, all, "walking back with before");
  // forwards with after
  h = await history("pg_alice", "pg-room", `after=${all[9]}`);
  eq(ids(h.messages), all.slice(10, 60), "after page");
  eq(h.has_more, true);
  h = await history("pg_alice", "pg-room", `after=${all[69]}&limit=50`);
  eq(ids(h.messages), all.slice(70, 120));
  eq(h.has_more, false, "after: exactly the rest");
  h = await history("pg_alice", "pg-room", `after=${all[119]}`);
  eq(h.messages.length, 0);
  eq(h.has_more, false);
  const forward = [];
  let cursor = 0;
  for (let guard = 0; guard < 40; guard++) {
    const page = cursor > 0
      ? await history("pg_alice", "pg-room", `limit=13&after=${cursor}`)
      : await history("pg_alice", "pg-room", `limit=13&since=1970-01-01T00:00:00.001Z`);
    assert(asc(page.messages), "a forward page is not oldest first");
    forward.push(...ids(page.messages));
    if (!page.has_more) break;
    cursor = page.messages[page.messages.length - 1].id;
  }
  eq(forward, all, "walking forwards with after");
  // since: created at or after the time, oldest first
  const t = sent[100].created_at;
  const want = sent.filter((m) => m.created_at >= t).map((m) => m.id);
  h = await history("pg_alice", "pg-room", `since=${encodeURIComponent(t)}`);
  eq(ids(h.messages), want.slice(0, 50), `since ${t}`);
  eq(h.has_more, want.length > 50);
  assert(h.messages.every((m) => m.created_at >= t), "since returned older messages");
  h = await history("pg_alice", "pg-room", `since=${encodeURIComponent(t)}&limit=${want.length}`);
  eq(h.has_more, false, "since: exactly the rest");
  h = await history("pg_alice", "pg-room", `since=${encodeURIComponent(t)}&limit=${want.length - 1}`);
  eq(h.has_more, true, "since: one left");
  // since in another zone is the same instant
  const ms = Date.parse(t);
  const local = new Date(ms + 2 * 3600 * 1000).toISOString().replace("Z", "+02:00");
  h = await history("pg_alice", "pg-room", `since=${encodeURIComponent(local)}`);
  eq(ids(h.messages), want.slice(0, 50), `since ${local}`);
  // since in the future: nothing
  h = await history("pg_alice", "pg-room", "since=2999-01-01T00:00:00.000Z");
  eq(h.messages.length, 0);
  eq(h.has_more, false);
  // the other room's messages never show up
  h = await history("pg_alice", "pg-room", "limit=200");
  eq(ids(h.messages), all);
  eq(h.has_more, false);
});

// since is a time: the very first millisecond of 1970 is a time like any
// other, and every message was created after it.
test("history: since=1970-01-01T00:00:00.000Z reads from the oldest message", async () => {
  await createRoom("ep_alice", { id: "ep-room", name: "Epoch" });
  const sent = [];
  for (let i = 0; i < 5; i++) sent.push(await post("ep_alice", "ep-room", `e${i}`));
  const want = ids(sent);
  let h = await history("ep_alice", "ep-room", "since=1970-01-01T00:00:00.001Z&limit=2");
  eq(ids(h.messages), want.slice(0, 2), "since just after the epoch");
  eq(h.has_more, true);
  h = await history("ep_alice", "ep-room", "since=1970-01-01T00:00:00.000Z&limit=2");
  eq(ids(h.messages), want.slice(0, 2), "since=1970-01-01T00:00:00.000Z (answered the newest page instead?)");
  eq(h.has_more, true);
  h = await history("ep_alice", "ep-room", "since=1970-01-01T01:00:00%2B01:00&limit=2");
  eq(ids(h.messages), want.slice(0, 2), "since=1970-01-01T01:00:00+01:00");
});

// after=0 means "from the beginning": no message has id 0, so every message
// of the room comes after it, oldest first. Negative ids and before=0 (no
// message could come before it) are refused.
test("history: after=0 reads from the oldest message; after=-1 and before=0 are 400", async () => {
  await createRoom("a0_alice", { id: "a0-room", name: "After zero" });
  const sent = [];
  for (let i = 0; i < 5; i++) sent.push(await post("a0_alice", "a0-room", `z${i}`));
  const want = ids(sent);
  let h = await history("a0_alice", "a0-room", "after=0&limit=2");
  eq(ids(h.messages), want.slice(0, 2), "after=0&limit=2");
  eq(h.has_more, true);
  h = await history("a0_alice", "a0-room", "after=0");
  eq(ids(h.messages), want, "after=0");
  eq(h.has_more, false);
  h = await history("a0_alice", "a0-room", `after=0&before=${want[3]}`);
  eq(ids(h.messages), want.slice(0, 3), "after=0 with before");
  h = await history("a0_alice", "a0-room", "after=1");
  eq(ids(h.messages), want.filter((id) => id > 1), "after=1");
  h = await history("a0_alice", "a0-room", `after=${want[0]}&limit=2`);
  eq(ids(h.messages), want.slice(1, 3), "after the first");
  eq(h.has_more, true);
  h = await history("a0_alice", "a0-room", `after=${want[4]}`);
  eq(ids(h.messages), [], "after the last");
  for (const q of ["after=-1", "after=-0", "after=", "before=0", "before=-1"])
    isError(await as("a0_alice", "GET", `/v1/rooms/a0-room/messages?${q}`), 400, "invalid_argument", q.split("=")[0]);
});

test("edit: sender only (403 for others), edited_at set, shown in history", async () => {
  await createRoom("ed_alice", { id: "ed-room", name: "Edit" });
  eq((await as("ed_bob", "POST", "/v1/rooms/ed-room/join")).status, 200);
  const m = await post("ed_alice", "ed-room", "frist");
  const p = `/v1/rooms/ed-room/messages/${m.id}`;
  isError(await as("ed_bob", "PATCH", p, { text: "hijacked" }), 403, "permission_denied");
  isError(await as("ed_carol", "PATCH", p, { text: "outsider" }), 403, "permission_denied");
  const r = await as("ed_alice", "PATCH", p, { text: "first" });
  eq(r.status, 200, r.text);
  isMessage(r.body, { id: m.id, text: "first", sender: "ed_alice", created_at: m.created_at, deleted: false });
  assert(r.body.edited_at !== null, "edited_at not set");
  assert(r.body.edited_at >= m.created_at, "edited before it was created");
  const h = await history("ed_bob", "ed-room");
  eq(h.messages.length, 1, "an edit added a message");
  eq(h.messages[0].text, "first");
  eq(h.messages[0].edited_at, r.body.edited_at);
  // bad edits
  isError(await as("ed_alice", "PATCH", p, {}), 400, "invalid_argument", "text");
  isError(await as("ed_alice", "PATCH", p, { text: "" }), 400, "invalid_argument", "text");
  isError(await as("ed_alice", "PATCH", p, { text: "x".repeat(4001) }), 400, "invalid_argument", "text");
  eq((await as("ed_alice", "PATCH", p, { text: "\u{1F600}".repeat(4000) })).status, 200);
  isError(await as("ed_alice", "PATCH", "/v1/rooms/ed-room/messages/999999999", { text: "x" }), 404, "not_found");
  isError(await as("ed_alice", "PATCH", "/v1/rooms/ed-room/messages/abc", { text: "x" }), 400, "invalid_argument", "id");
  // the message id must belong to the room in the path
  await createRoom("ed_alice", { id: "ed-other", name: "Other" });
  isError(await as("ed_alice", "PATCH", `/v1/rooms/ed-other/messages/${m.id}`, { text: "x" }), 404, "not_found");
});

test("delete: sender only; deleted:true and text null; edit after delete 404", async () => {
  await createRoom("dl_alice", { id: "dl-room", name: "Delete" });
  eq((await as("dl_bob", "POST", "/v1/rooms/dl-room/join")).status, 200);
  const m = await post("dl_alice", "dl-room", "regret", { client_id: "dl-1" });
  const keep = await post("dl_alice", "dl-room", "keep");
  const p = `/v1/rooms/dl-room/messages/${m.id}`;
  isError(await as("dl_bob", "DELETE", p), 403, "permission_denied");
  isError(await as("dl_carol", "DELETE", p), 403, "permission_denied");
  const r = await as("dl_alice", "DELETE", p);
  eq(r.status, 200, r.text);
  isMessage(r.body, { id: m.id, deleted: true, text: null, sender: "dl_alice" });
  const h = await history("dl_bob", "dl-room");
  eq(ids(h.messages), [m.id, keep.id], "a deleted message keeps its place");
  eq(h.messages[0].deleted, true);
  eq(h.messages[0].text, null);
  eq(h.messages[1].text, "keep");
  isError(await as("dl_alice", "PATCH", p, { text: "undo" }), 404, "not_found");
  isError(await as("dl_alice", "DELETE", p), 404, "not_found");
  isError(await as("dl_alice", "DELETE", "/v1/rooms/dl-room/messages/999999999"), 404, "not_found");
  isError(await as("dl_alice", "DELETE", "/v1/rooms/dl-room/messages/0"), 400, "invalid_argument");
  eq((await history("dl_alice", "dl-room")).messages[0].text, null, "the edit after delete changed it");
});

test("typing: 204 for members; bad body 400; non-members 403", async () => {
  await createRoom("ty_alice", { id: "ty-room", name: "Typing" });
  let r = await as("ty_alice", "POST", "/v1/rooms/ty-room/typing", { typing: true });
  eq(r.status, 204, r.text);
  eq(r.text, "", "204 has no body");
  r = await as("ty_alice", "POST", "/v1/rooms/ty-room/typing", { typing: true });
  eq(r.status, 204, "typing again within 3 s is still 204");
  eq((await as("ty_alice", "POST", "/v1/rooms/ty-room/typing", { typing: false })).status, 204);
  for (const body of [{}, { typing: "yes" }, { typing: 1 }, { typing: null }]) {
    r = await as("ty_alice", "POST", "/v1/rooms/ty-room/typing", body);
    isError(r, 400, "invalid_argument", "typing");
  }
  isError(await as("ty_bob", "POST", "/v1/rooms/ty-room/typing", { typing: true }), 403, "permission_denied");
  isError(await as("ty_bob", "POST", "/v1/rooms/ty-nothing/typing", { typing: true }), 404, "not_found");
});

test("read receipts: 204, then GET receipts shows read_up_to; never backwards", async () => {
  await createRoom("rr_alice", { id: "rr-room", name: "Receipts" });
  eq((await as("rr_bob", "POST", "/v1/rooms/rr-room/join")).status, 200);
  const m1 = await post("rr_alice", "rr-room", "one");
  const m2 = await post("rr_alice", "rr-room", "two");
  let r = await as("rr_bob", "POST", "/v1/rooms/rr-room/read", { up_to: m2.id });
  eq(r.status, 204, r.text);
  r = await as("rr_alice", "GET", "/v1/rooms/rr-room/receipts");
  eq(r.status, 200, r.text);
  assert(Array.isArray(r.body.receipts), "receipts is not an array");
  const bob = r.body.receipts.find((x) => x.user === "rr_bob");
  assert(bob, `no receipt for rr_bob: ${r.text}`);
  eq(bob.read_up_to, m2.id);
  assert(Number.isInteger(bob.delivered_up_to) && bob.delivered_up_to >= m2.id, "delivered_up_to below read_up_to");
  // an older read does not move it back
  eq((await as("rr_bob", "POST", "/v1/rooms/rr-room/read", { up_to: m1.id })).status, 204);
  r = await as("rr_bob", "GET", "/v1/rooms/rr-room/receipts");
  eq(r.body.receipts.find((x) => x.user === "rr_bob").read_up_to, m2.id, "read_up_to went backwards");
  // bad bodies and foreign ids
  for (const body of [{}, { up_to: "1" }, { up_to: 0 }, { up_to: -5 }, { up_to: 1.5 }]) {
    isError(await as("rr_bob", "POST", "/v1/rooms/rr-room/read", body), 400, "invalid_argument", "up_to");
  }
  isError(await as("rr_bob", "POST", "/v1/rooms/rr-room/read", { up_to: 999999999 }), 404, "not_found");
  const elsewhere = await post("rr_alice", "general", "elsewhere");
  isError(await as("rr_bob", "POST", "/v1/rooms/rr-room/read", { up_to: elsewhere.id }), 404, "not_found");
  isError(await as("rr_carol", "POST", "/v1/rooms/rr-room/read", { up_to: m1.id }), 403, "permission_denied");
  isError(await as("rr_carol", "GET", "/v1/rooms/rr-room/receipts"), 403, "permission_denied");
});

// ---- status and presence ----

test("users/{u}/status: a status object; unknown users are offline; bad id 400", async () => {
  let r = await as("st_alice", "GET", "/v1/users/st_alice/status");
  eq(r.status, 200, r.text);
  isStatus(r.body, "st_alice");
  r = await as("st_alice", "GET", "/v1/users/st_never_seen/status");
  eq(r.status, 200);
  isStatus(r.body, "st_never_seen");
  eq(r.body.status, "offline");
  eq(r.body.connections, 0);
  isError(await as("st_alice", "GET", "/v1/users/bad%20user/status"), 400, "invalid_argument", "user");
  isError(await as(null, "GET", "/v1/users/st_alice/status"), 401, "unauthenticated");
});

test("presence?users=a,b: statuses in order; more than 500 users 400", async () => {
  let r = await as("pr_alice", "GET", "/v1/presence?users=pr_alice,pr_bob");
  eq(r.status, 200, r.text);
  eq(r.body.users.map((s) => s.user), ["pr_alice", "pr_bob"]);
  r.body.users.forEach((s) => isStatus(s, s.user));
  const many = (n) => Array.from({ length: n }, (_, i) => `pu${i}`).join(",");
  r = await as("pr_alice", "GET", `/v1/presence?users=${many(500)}`);
  eq(r.status, 200, "500 users");
  eq(r.body.users.length, 500);
  isError(await as("pr_alice", "GET", `/v1/presence?users=${many(501)}`), 400, "invalid_argument", "users");
  isError(await as("pr_alice", "GET", `/v1/presence?users=${many(600)}`), 400, "invalid_argument", "users");
  isError(await as("pr_alice", "GET", "/v1/presence"), 400, "invalid_argument", "users");
  isError(await as("pr_alice", "GET", "/v1/presence?users="), 400, "invalid_argument", "users");
  isError(await as("pr_alice", "GET", "/v1/presence?users=ok,not%20ok"), 400, "invalid_argument", "users");
});

// Up to 500 users of up to 64 characters each are a valid request. As a URL
// that is about 32 KB, more than parleyd's 8 KiB per-connection HTTP pool
// takes (it keeps idle push connections small): such URLs get a 414 and the
// list goes in POST /v1/presence (an addition) or the WebSocket frame.
test("presence: 500 ids of 64 characters are answered; longer lists get a JSON 400", async () => {
  const long = Array.from({ length: 500 }, (_, i) => `pl${i}_`.padEnd(64, "x"));
  long.forEach((u) => assert(ID_RE.test(u) && u.length === 64, u));
  let r = await as("pr_alice", "GET", `/v1/presence?users=${long.slice(0, 100).join(",")}`);
  eq(r.status, 200, "100 ids of 64 characters");
  eq(r.body.users.length, 100);
  r = await as("pr_alice", "GET", `/v1/presence?users=${long.slice(0, 200).join(",")}`);
  assert(r.status === 414 || (process.env.PARLEY_TARGET_URL && r.status === 200),
    `a 13 KB URL is over the request size parleyd takes: ${r.status}`);
  r = await as("pr_alice", "POST", "/v1/presence", { users: long });
  eq(r.status, 200, `500 ids of 64 characters by POST: ${r.text.slice(0, 120)}`);
  eq(r.body.users.map((s) => s.user), long);
  isError(await as("pr_alice", "POST", "/v1/presence", { users: [...long, "one-more"] }), 400,
    "invalid_argument", "users");
  const many = Array.from({ length: 2000 }, (_, i) => `pu${i}`);
  isError(await as("pr_alice", "POST", "/v1/presence", { users: many }), 400, "invalid_argument", "users");
});

test("me/status: online/away/busy/invisible; others see invisible as offline; bad value 400", async () => {
  const srv = await server();
  for (const s of ["away", "busy", "invisible", "online"]) {
    const r = await as("ms_alice", "POST", "/v1/me/status", { status: s });
    eq(r.status, 200, `${s}: ${r.text}`);
    isStatus(r.body, "ms_alice");
  }
  for (const body of [{ status: "sleeping" }, { status: "offline" }, { status: "" }, {}, { status: 1 }, { status: "AWAY" }]) {
    isError(await as("ms_alice", "POST", "/v1/me/status", body), 400, "invalid_argument", "status");
  }
  // online while a push connection is open
  const seen = async () => (await as("ms_bob", "GET", "/v1/users/ms_alice/status")).body;
  const stream = await openSocket(srv, "ms_alice");
  try {
    await until(async () => (await seen()).status === "online", "ms_alice online to bob");
    let s = await seen();
    assert(s.connections >= 1, `connections ${s.connections}`);
    eq(s.last_seen, null, "last_seen while online");
    eq((await as("ms_alice", "POST", "/v1/me/status", { status: "away" })).body.status, "away");
    eq((await seen()).status, "away", "others see away");
    eq((await as("ms_alice", "POST", "/v1/me/status", { status: "busy" })).status, 200);
    eq((await seen()).status, "busy", "others see busy");
    const inv = await as("ms_alice", "POST", "/v1/me/status", { status: "invisible" });
    eq(inv.status, 200);
    s = await seen();
    eq(s.status, "offline", "others see invisible as offline");
    eq(s.connections, 0, "invisible shows no connections");
    const pres = await as("ms_bob", "GET", "/v1/presence?users=ms_alice");
    eq(pres.body.users[0].status, "offline", "presence shows invisible as offline");
    const members = await as("ms_bob", "GET", "/v1/rooms/general/members");
    const me = members.body.members.find((m) => m.user === "ms_alice");
    assert(me, "ms_alice missing from general's members");
    eq(me.status, "offline", "members list shows invisible as offline");
    eq((await as("ms_alice", "POST", "/v1/me/status", { status: "online" })).body.status, "online");
    eq((await seen()).status, "online", "back online");
  } finally {
    await stream.close();
  }
  // after the last connection (and the grace period) offline with last_seen
  await until(async () => (await seen()).status === "offline", "ms_alice offline after closing");
  const s = await seen();
  eq(s.connections, 0);
  assert(s.last_seen && TIME_RE.test(s.last_seen), `last_seen ${s.last_seen}`);
});

// ---- general ----

test("general: a new user's first request makes them a member, silently", async () => {
  const u = "gen_newbie";
  const before = (await as("gen_watch", "GET", "/v1/rooms/general/members")).body.members.map((m) => m.user);
  assert(!before.includes(u), "a user nobody has seen is already a member");
  const r = await as(u, "GET", "/v1/rooms");
  eq(r.status, 200);
  assert(r.body.rooms.some((x) => x.id === "general"), "general missing from the new user's list");
  const after = (await as("gen_watch", "GET", "/v1/rooms/general/members")).body.members.map((m) => m.user);
  assert(after.includes(u), "the new user is not in general's members");
  eq((await as(u, "POST", "/v1/rooms/general/messages", { text: "hi all" })).status, 201, "posting to general without joining");
  eq((await as(u, "GET", "/v1/rooms/general/messages")).status, 200);
  // any first authenticated request counts, even one that fails
  const v = "gen_failer";
  isError(await as(v, "GET", "/v1/rooms/gen-nothing"), 404, "not_found");
  const again = (await as("gen_watch", "GET", "/v1/rooms/general/members")).body.members.map((m) => m.user);
  assert(again.includes(v), "a first request that failed did not sign the user up");
  // general is public, with the creator null, and counts its members
  const g = (await as(u, "GET", "/v1/rooms/general")).body;
  isRoom(g, { id: "general", private: false });
  eq(g.members, again.length);
});

// ---- durability ----

test("SIGTERM: exit 0; a restart on the same data folder has everything", async () => {
  const data = tempDir();
  let srv = await startServer({ dataDir: data });
  await createRoom("du_alice", { id: "du-room", name: "Durable", private: true }, { srv });
  eq((await as("du_alice", "POST", "/v1/rooms/du-room/members", { user: "du_bob" }, { srv })).status, 200);
  const sent = [];
  for (let i = 0; i < 5; i++) sent.push(await post("du_alice", "du-room", `kept ${i}`, { client_id: `du-${i}` }, { srv }));
  const edited = (await as("du_alice", "PATCH", `/v1/rooms/du-room/messages/${sent[1].id}`, { text: "kept 1 edited" }, { srv })).body;
  const deleted = (await as("du_alice", "DELETE", `/v1/rooms/du-room/messages/${sent[2].id}`, undefined, { srv })).body;
  eq((await as("du_bob", "POST", "/v1/rooms/du-room/read", { up_to: sent[3].id }, { srv })).status, 204);
  eq((await as("du_alice", "POST", "/v1/me/status", { status: "busy" }, { srv })).status, 200);
  const before = await history("du_bob", "du-room", "", { srv });
  // stop with a push connection open: still a clean exit 0
  const stream = await openStream(srv, "du_bob");
  const res = await exitWithin(srv.stop("SIGTERM"), 20000, "parleyd after SIGTERM");
  stream.close();
  eq(res, { code: 0, sig: null }, "exit status after SIGTERM");
  srv = await startServer({ dataDir: data });
  const after = await history("du_bob", "du-room", "", { srv });
  eq(after, before, "history after a restart");
  eq(after.messages[1].text, edited.text);
  eq(after.messages[2].deleted, deleted.deleted);
  const room = (await as("du_bob", "GET", "/v1/rooms/du-room", undefined, { srv })).body;
  isRoom(room, { id: "du-room", private: true, members: 2 });
  const rec = (await as("du_alice", "GET", "/v1/rooms/du-room/receipts", undefined, { srv })).body.receipts;
  eq(rec.find((x) => x.user === "du_bob").read_up_to, sent[3].id, "receipts after a restart");
  // client_id retries are recognised across the restart
  const retry = await as("du_alice", "POST", "/v1/rooms/du-room/messages", { text: "kept 0", client_id: "du-0" }, { srv });
  eq(retry.status, 200, "a retry after the restart");
  eq(retry.body.id, sent[0].id);
  // ids keep growing; general exists once
  const fresh = await post("du_alice", "du-room", "after restart", {}, { srv });
  assert(fresh.id > sent[4].id, "message ids went backwards after a restart");
  const rooms = (await as("du_alice", "GET", "/v1/rooms", undefined, { srv })).body.rooms.map((x) => x.id);
  eq(rooms.filter((x) => x === "general").length, 1);
  // the manual status is kept as well
  const st = await as("du_alice", "POST", "/v1/me/status", { status: "online" }, { srv });
  eq(st.status, 200);
  const res2 = await exitWithin(srv.stop("SIGTERM"), 20000, "parleyd after SIGTERM");
  eq(res2, { code: 0, sig: null }, "exit status after the second SIGTERM");
  srv.cleanup();
});

test("SIGINT stops with exit 0 as well", async () => {
  const srv = await startServer();
  eq((await as("si_alice", "GET", "/v1/rooms", undefined, { srv })).status, 200);
  const res = await exitWithin(srv.stop("SIGINT"), 20000, "parleyd after SIGINT");
  eq(res, { code: 0, sig: null }, "exit status after SIGINT");
  srv.cleanup();
});

test("kill -9 right after 201: the messages survive", async () => {
  const data = tempDir();
  let srv = await startServer({ dataDir: data });
  await createRoom("k9_alice", { id: "k9-room", name: "Crash" }, { srv });
  // one message, then a burst whose last 201 is followed at once by SIGKILL
  const one = await as("k9_alice", "POST", "/v1/rooms/k9-room/messages", { text: "single" }, { srv });
  eq(one.status, 201);
  const burst = await Promise.all(
    Array.from({ length: 20 }, (_, i) => as("k9_alice", "POST", "/v1/rooms/k9-room/messages", { text: `burst ${i}`, client_id: `k9-${i}` }, { srv })),
  );
  srv.child.kill("SIGKILL");
  burst.forEach((r) => eq(r.status, 201, `burst post: ${r.text}`));
  const res = await exitWithin(srv.stop("SIGKILL"), 20000, "parleyd after SIGKILL");
  eq(res.sig, "SIGKILL");
  srv = await startServer({ dataDir: data });
  const h = await history("k9_alice", "k9-room", "limit=200", { srv });
  const got = new Map(h.messages.map((m) => [m.id, m]));
  for (const r of [one, ...burst]) {
    const m = got.get(r.body.id);
    assert(m, `acknowledged message ${r.body.id} (${r.body.text}) lost after kill -9`);
    eq(m.text, r.body.text);
  }
  eq(h.messages.length, 21);
  // a message acknowledged just before the kill
  const last = await as("k9_alice", "POST", "/v1/rooms/k9-room/messages", { text: "the very last" }, { srv });
  srv.child.kill("SIGKILL");
  eq(last.status, 201);
  await exitWithin(srv.stop("SIGKILL"), 20000, "parleyd after SIGKILL");
  srv = await startServer({ dataDir: data });
  const h2 = await history("k9_alice", "k9-room", "limit=1", { srv });
  eq(h2.messages[0] && h2.messages[0].id, last.body.id, "the last acknowledged message");
  eq(h2.messages[0].text, "the very last");
  await srv.stop();
  srv.cleanup();
});

// ---- dev mode and the secret ----

test("dev login: only with --dev", async () => {
  // without --dev: there is no such endpoint to use
  const r = await as(null, "POST", "/v1/dev/login", { user: "dev_alice" });
  assert(r.status !== 200 && !(r.body && r.body.token), `dev login without --dev: ${r.status} ${r.text}`);
  isError(r, r.status, r.body.error.code);
  const srv = await startServer({ dev: true });
  const d = await api(srv, "POST", "/v1/dev/login", { body: { user: "dev_alice" } });
  eq(d.status, 200, d.text);
  assert(typeof d.body.token === "string" && d.body.token.split(".").length === 3, "no token");
  const rooms = await api(srv, "GET", "/v1/rooms", { tok: d.body.token });
  eq(rooms.status, 200, "the dev token works");
  const m = await api(srv, "POST", "/v1/rooms/general/messages", { tok: d.body.token, body: { text: "dev" } });
  eq(m.body.sender, "dev_alice");
  const bad = await api(srv, "POST", "/v1/dev/login", { body: { user: "not valid" } });
  isError(bad, 400, "invalid_argument", "user");
  isError(await api(srv, "POST", "/v1/dev/login", { body: {} }), 400, "invalid_argument", "user");
  assert(/dev/i.test(srv.log()), "dev mode is not announced at start");
  await srv.stop();
  srv.cleanup();
});

test("dev mode without a secret starts, and its tokens work", async () => {
  const srv = await startServer({ dev: true, env: { PARLEY_JWT_SECRET: "" } });
  const d = await api(srv, "POST", "/v1/dev/login", { body: { user: "devns" } });
  eq(d.status, 200, d.text);
  eq((await api(srv, "GET", "/v1/rooms", { tok: d.body.token })).status, 200);
  // tokens signed with the test secret are not this server's
  isError(await api(srv, "GET", "/v1/rooms", { tok: tok("devns") }), 401, "unauthenticated");
  await srv.stop();
  srv.cleanup();
});

test("no secret and no --dev: refuses to start, saying why", async () => {
  const data = tempDir();
  const port = await freePort();
  const env = { ...process.env, PARLEY_JWT_SECRET: "" };
  delete env.PARLEY_DEV;
  const child = spawn(PARLEYD, ["--listen", `127.0.0.1:${port}`, "--data", data, "--www", path.join(ROOT, "www")], {
    env, cwd: data, stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  let out = "";
  child.stderr.on("data", (d) => (err += d));
  child.stdout.on("data", (d) => (out += d));
  const exited = new Promise((r) => child.on("exit", (code, sig) => r({ code, sig })));
  let res;
  try {
    res = await exitWithin(exited, 20000, "parleyd without a secret");
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  assert(res.code !== 0 && res.code !== null, `exit ${JSON.stringify(res)}`);
  const said = err + out;
  assert(/secret/i.test(said), `does not mention the secret: ${said}`);
  assert(/PARLEY_JWT_SECRET|--jwt-secret-file/.test(said), `does not say how to set it: ${said}`);
  assert(/--dev/.test(said), `does not mention --dev: ${said}`);
  // and nothing listens
  const r = await fetch(`http://127.0.0.1:${port}/v1/health`).catch(() => null);
  assert(!r, "something answers on the port");
});

run("rest");
