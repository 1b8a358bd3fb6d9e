// tests/fcgi/through.test.mjs: the REST matrix through a FastCGI host
// against the same requests sent to parleyd itself.
//
// One scenario (every endpoint, every error class, DM privacy, idempotent
// client_id, pagination, compatibility endpoints, long-poll) runs once
// against DIRECT_URL (parleyd) and once against TARGET_URL (a web server
// in front of parley.fcgi), each run with users and rooms of its own (both
// share one store).  Every step must give the same status, the same
// Content-Type, Allow and Retry-After, and the same body once run-specific
// values (ids, times, the run's tag) are blanked.
//
//   TARGET_URL=http://127.0.0.1:8001 DIRECT_URL=http://127.0.0.1:8080 \
//     SUITE=through-lighttpd node tests/fcgi/through.test.mjs
import crypto from "node:crypto";
import { api, eq, run, sleep, test, token } from "../integration/lib.mjs";
import { shape } from "./fcgi.mjs";

const TARGET = process.env.TARGET_URL;
const DIRECT = process.env.DIRECT_URL;
const SUITE = process.env.SUITE || "through";
if (!TARGET || !DIRECT) {
  console.error("set TARGET_URL (the FastCGI host) and DIRECT_URL (parleyd)");
  process.exit(2);
}

const tokens = new Map();
function tok(user) {
  if (!tokens.has(user)) tokens.set(user, token(user));
  return tokens.get(user);
}

/* The scenario: a list of [name, fn(ctx) -> request].  ctx.u(x) is the
 * run's user x, ctx.r(x) its room x, ctx.last the previous answer, ctx.saved
 * what earlier steps kept. */
const steps = [];
const step = (name, fn) => steps.push({ name, fn });

// ---- service, routing, errors before auth ----
step("health", () => ({ method: "GET", path: "/v1/health" }));
step("metrics (status and type only)", () => ({ method: "GET", path: "/metrics", pick: () => null }));
step("unknown path 404", () => ({ method: "GET", path: "/v1/nope" }));
step("unknown path with a token 404", (c) => ({ user: c.u("a"), method: "GET", path: "/v2/rooms" }));
step("wrong method 405 + Allow", () => ({ method: "PUT", path: "/v1/rooms" }));
step("DELETE on a collection 405", (c) => ({ user: c.u("a"), method: "DELETE", path: "/v1/rooms" }));
step("dev login without --dev 404", () => ({ method: "POST", path: "/v1/dev/login", body: { user: "x" } }));
step("no token 401", () => ({ method: "GET", path: "/v1/rooms" }));
step("garbage token 401", () => ({ method: "GET", path: "/v1/rooms", headers: { Authorization: "Bearer a.b.c" } }));
step("Basic auth 401", () => ({ method: "GET", path: "/v1/rooms", headers: { Authorization: "Basic eDp5" } }));
step("?token= works", (c) => ({ method: "GET", path: `/v1/rooms/general?token=${tok(c.u("a"))}`, pick: (b) => b && b.id }));
step("rooms list (own rooms)", (c) => ({ user: c.u("a"), method: "GET", path: "/v1/rooms", pick: c.mine }));

// ---- bodies ----
step("POST without Content-Type 415", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/rooms", raw: '{"name":"x"}' }));
step("POST text/plain 415", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/rooms", raw: '{"name":"x"}', headers: { "Content-Type": "text/plain" } }));
step("broken JSON 400", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/rooms", raw: "{", headers: { "Content-Type": "application/json" } }));
step("JSON array body 400", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/rooms", raw: "[1]", headers: { "Content-Type": "application/json" } }));
step("body over 64 KiB 413", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/rooms", raw: JSON.stringify({ name: "x".repeat(70000) }), headers: { "Content-Type": "application/json" } }));
step("body of 60 KiB read whole (400 for the name, not 413)", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/rooms", raw: JSON.stringify({ name: "y".repeat(60000) }), headers: { "Content-Type": "application/json; charset=utf-8" } }));

// ---- rooms ----
step("create public room 201", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/rooms", body: { id: c.r("pub"), name: "Pub" } }));
step("same id again 409", (c) => ({ user: c.u("b"), method: "POST", path: "/v1/rooms", body: { id: c.r("pub"), name: "Other" } }));
step("create private room 201", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/rooms", body: { id: c.r("priv"), name: "Priv", private: true } }));
step("generated id 201", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/rooms", body: { name: "Gen" }, pick: (b) => b && { ...b, id: typeof b.id } }));
step("bad room id 400", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/rooms", body: { id: "bad id!", name: "x" } }));
step("private not boolean 400", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/rooms", body: { id: c.r("x"), name: "x", private: "yes" } }));
step("get public room as another user", (c) => ({ user: c.u("b"), method: "GET", path: `/v1/rooms/${c.r("pub")}` }));
step("get private room as non-member 403", (c) => ({ user: c.u("b"), method: "GET", path: `/v1/rooms/${c.r("priv")}` }));
step("get unknown room 404", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/rooms/${c.r("none")}` }));
step("percent-encoded room id", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/rooms/${encodeURIComponent(c.r("pub")).replace(/-/g, "%2D")}` }));
step("join public 200", (c) => ({ user: c.u("b"), method: "POST", path: `/v1/rooms/${c.r("pub")}/join` }));
step("join again (idempotent)", (c) => ({ user: c.u("b"), method: "POST", path: `/v1/rooms/${c.r("pub")}/join` }));
step("join private uninvited 403", (c) => ({ user: c.u("b"), method: "POST", path: `/v1/rooms/${c.r("priv")}/join` }));
step("join unknown 404", (c) => ({ user: c.u("b"), method: "POST", path: `/v1/rooms/${c.r("none")}/join` }));
step("add member to private 200", (c) => ({ user: c.u("a"), method: "POST", path: `/v1/rooms/${c.r("priv")}/members`, body: { user: c.u("b") } }));
step("members of private", (c) => ({ user: c.u("b"), method: "GET", path: `/v1/rooms/${c.r("priv")}/members` }));
step("non-member adds 403", (c) => ({ user: c.u("c"), method: "POST", path: `/v1/rooms/${c.r("priv")}/members`, body: { user: c.u("c") } }));
step("rooms list of b", (c) => ({ user: c.u("b"), method: "GET", path: "/v1/rooms", pick: c.mine }));
step("rooms list of c (no private)", (c) => ({ user: c.u("c"), method: "GET", path: "/v1/rooms", pick: c.mine }));

// ---- direct messages ----
step("dm a-b 200", (c) => ({ user: c.u("b"), method: "POST", path: "/v1/dms", body: { user: c.u("a") } }));
step("dm the other way, same room", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/dms", body: { user: c.u("b") } }));
step("dm bad user 400", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/dms", body: { user: "no way" } }));
step("dm: b posts 201", (c) => ({ user: c.u("b"), method: "POST", path: `/v1/rooms/${c.dm()}/messages`, body: { text: "psst" } }));
step("dm: third user cannot read 403", (c) => ({ user: c.u("c"), method: "GET", path: `/v1/rooms/${c.dm()}/messages` }));
step("dm: third user cannot post 403", (c) => ({ user: c.u("c"), method: "POST", path: `/v1/rooms/${c.dm()}/messages`, body: { text: "hi" } }));
step("dm: third user cannot join 403", (c) => ({ user: c.u("c"), method: "POST", path: `/v1/rooms/${c.dm()}/join` }));
step("dm: cannot be added to", (c) => ({ user: c.u("a"), method: "POST", path: `/v1/rooms/${c.dm()}/members`, body: { user: c.u("c") } }));
step("dm: third user cannot see it", (c) => ({ user: c.u("c"), method: "GET", path: `/v1/rooms/${c.dm()}` }));
step("dm: a reads it", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/rooms/${c.dm()}/messages` }));

// ---- messages ----
step("post 201 with client_id", (c) => ({ user: c.u("a"), method: "POST", path: `/v1/rooms/${c.r("pub")}/messages`, body: { text: "hello", client_id: "k1" }, save: "first" }));
step("same client_id again 200, the first message", (c) => ({ user: c.u("a"), method: "POST", path: `/v1/rooms/${c.r("pub")}/messages`, body: { text: "hello again", client_id: "k1" } }));
step("same client_id, other sender 201", (c) => ({ user: c.u("b"), method: "POST", path: `/v1/rooms/${c.r("pub")}/messages`, body: { text: "mine", client_id: "k1" } }));
step("empty text 400", (c) => ({ user: c.u("a"), method: "POST", path: `/v1/rooms/${c.r("pub")}/messages`, body: { text: "" } }));
step("text over 4000 characters 400", (c) => ({ user: c.u("a"), method: "POST", path: `/v1/rooms/${c.r("pub")}/messages`, body: { text: "é".repeat(4001) } }));
step("4000 characters of é 201", (c) => ({ user: c.u("a"), method: "POST", path: `/v1/rooms/${c.r("pub")}/messages`, body: { text: "é".repeat(4000) } }));
step("text not a string 400", (c) => ({ user: c.u("a"), method: "POST", path: `/v1/rooms/${c.r("pub")}/messages`, body: { text: 5 } }));
step("sender naming another user 403", (c) => ({ user: c.u("a"), method: "POST", path: `/v1/rooms/${c.r("pub")}/messages`, body: { text: "x", sender: c.u("b") } }));
step("non-member posts 403", (c) => ({ user: c.u("c"), method: "POST", path: `/v1/rooms/${c.r("priv")}/messages`, body: { text: "x" } }));
step("post to unknown room 404", (c) => ({ user: c.u("a"), method: "POST", path: `/v1/rooms/${c.r("none")}/messages`, body: { text: "x" } }));
// parleyd's long-poll sessions add a "session" id and the typing, presence
// and receipts kept between polls; parley.fcgi has neither (README): the
// stored events and the cursor are what both must agree on.
const stored = (b) => b && b.events ? { events: b.events.filter((e) => e.id != null), cursor: b.cursor } : b;
step("poll now: the newest cursor (a user outside the rooms compared)", (c) => ({ user: c.u("p"), method: "GET", path: "/v1/poll?timeout=0", save: "now", pick: (b) => b && Object.keys(b).filter((k) => k !== "session") }));
for (let i = 1; i <= 7; i++)
  // (3 ms apart, so that since= at one's created_at never takes in the one before)
  step(`page message ${i}`, (c) => ({ pause: 3, user: c.u(i % 2 ? "a" : "b"), method: "POST", path: `/v1/rooms/${c.r("pub")}/messages`, body: { text: `m${i}` }, save: `m${i}` }));
step("history default", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/rooms/${c.r("pub")}/messages` }));
step("history limit=3", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/rooms/${c.r("pub")}/messages?limit=3` }));
step("history before", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/rooms/${c.r("pub")}/messages?limit=2&before=${c.saved.m5.id}` }));
step("history after", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/rooms/${c.r("pub")}/messages?limit=2&after=${c.saved.m2.id}` }));
step("history since", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/rooms/${c.r("pub")}/messages?since=${encodeURIComponent(c.saved.m6.created_at)}` }));
step("history limit=0 400", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/rooms/${c.r("pub")}/messages?limit=0` }));
step("history limit=abc 400", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/rooms/${c.r("pub")}/messages?limit=abc` }));
step("history limit=201 400", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/rooms/${c.r("pub")}/messages?limit=201` }));
step("history bad since 400", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/rooms/${c.r("pub")}/messages?since=yesterday` }));
step("history of private as non-member 403", (c) => ({ user: c.u("c"), method: "GET", path: `/v1/rooms/${c.r("priv")}/messages` }));
step("edit by another 403", (c) => ({ user: c.u("b"), method: "PATCH", path: `/v1/rooms/${c.r("pub")}/messages/${c.saved.first.id}`, body: { text: "nope" } }));
step("edit 200", (c) => ({ user: c.u("a"), method: "PATCH", path: `/v1/rooms/${c.r("pub")}/messages/${c.saved.first.id}`, body: { text: "edited" } }));
step("edit bad id 400/404", (c) => ({ user: c.u("a"), method: "PATCH", path: `/v1/rooms/${c.r("pub")}/messages/abc`, body: { text: "x" } }));
step("delete by another 403", (c) => ({ user: c.u("b"), method: "DELETE", path: `/v1/rooms/${c.r("pub")}/messages/${c.saved.first.id}` }));
step("delete 200", (c) => ({ user: c.u("a"), method: "DELETE", path: `/v1/rooms/${c.r("pub")}/messages/${c.saved.first.id}` }));
step("edit after delete 404", (c) => ({ user: c.u("a"), method: "PATCH", path: `/v1/rooms/${c.r("pub")}/messages/${c.saved.first.id}`, body: { text: "back" } }));
step("unknown message 404", (c) => ({ user: c.u("a"), method: "DELETE", path: `/v1/rooms/${c.r("pub")}/messages/999999999` }));

// ---- typing, receipts ----
step("typing 204", (c) => ({ user: c.u("a"), method: "POST", path: `/v1/rooms/${c.r("pub")}/typing`, body: { typing: true } }));
step("typing bad body 400", (c) => ({ user: c.u("a"), method: "POST", path: `/v1/rooms/${c.r("pub")}/typing`, body: { typing: "yes" } }));
step("typing non-member 403", (c) => ({ user: c.u("c"), method: "POST", path: `/v1/rooms/${c.r("priv")}/typing`, body: { typing: true } }));
step("read receipt 204", (c) => ({ user: c.u("b"), method: "POST", path: `/v1/rooms/${c.r("pub")}/read`, body: { up_to: c.saved.m3.id } }));
step("read receipt bad 400", (c) => ({ user: c.u("b"), method: "POST", path: `/v1/rooms/${c.r("pub")}/read`, body: { up_to: "x" } }));
step("receipts", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/rooms/${c.r("pub")}/receipts` }));
step("receipts non-member 403", (c) => ({ user: c.u("c"), method: "GET", path: `/v1/rooms/${c.r("priv")}/receipts` }));

// ---- status and presence (users with no push connection) ----
step("status of a user", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/users/${c.u("c")}/status` }));
step("status bad id 400", (c) => ({ user: c.u("a"), method: "GET", path: "/v1/users/bad%20id/status" }));
step("presence users=", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/presence?users=${c.u("a")}%2C${c.u("b")}` }));
step("presence without users 400", (c) => ({ user: c.u("a"), method: "GET", path: "/v1/presence" }));
step("presence over 500 users 400", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/presence?users=${Array.from({ length: 501 }, (_, i) => "u" + i).join(",")}` }));
step("me/status away", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/me/status", body: { status: "away" } }));
step("me/status bad 400", (c) => ({ user: c.u("a"), method: "POST", path: "/v1/me/status", body: { status: "sleeping" } }));
step("me/status invisible, seen by others", (c) => ({ user: c.u("b"), method: "POST", path: "/v1/me/status", body: { status: "invisible" } }));
step("invisible shows offline to others", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/users/${c.u("b")}/status` }));

// ---- compatibility endpoints ----
step("sendMessage", (c) => ({ user: c.u("a"), method: "POST", path: "/sendMessage", body: { message: "compat", senderId: c.u("a"), roomId: c.r("pub"), timestamp: "2026-01-01T00:00:00Z" } }));
step("sendMessage as another 403", (c) => ({ user: c.u("a"), method: "POST", path: "/sendMessage", body: { message: "compat", senderId: c.u("b"), roomId: c.r("pub") } }));
step("getMessages", (c) => ({ user: c.u("a"), method: "GET", path: `/getMessages?roomId=${c.r("pub")}&limit=2` }));
step("getStatus", (c) => ({ user: c.u("a"), method: "GET", path: `/getStatus?userId=${c.u("c")}` }));
step("updateStatus typing", (c) => ({ user: c.u("b"), method: "POST", path: "/updateStatus", body: { userId: c.u("b"), status: "typing", roomId: c.r("pub") } }));
step("updateStatus busy", (c) => ({ user: c.u("a"), method: "POST", path: "/updateStatus", body: { userId: c.u("a"), status: "busy" } }));
step("create-room", (c) => ({ user: c.u("a"), method: "POST", path: "/create-room", body: { roomId: "Compat" }, pick: (b) => b && Object.keys(b).sort() }));
step("join-room", (c) => ({ user: c.u("c"), method: "POST", path: `/join-room/${c.r("pub")}` }));

// ---- leave ----
step("leave 200", (c) => ({ user: c.u("b"), method: "POST", path: `/v1/rooms/${c.r("pub")}/leave` }));
step("after leaving, history 403 (public: readable?)", (c) => ({ user: c.u("b"), method: "GET", path: `/v1/rooms/${c.r("priv")}/messages` }));
step("leave private, then closed", (c) => ({ user: c.u("b"), method: "POST", path: `/v1/rooms/${c.r("priv")}/leave` }));
step("private closed to the leaver 403", (c) => ({ user: c.u("b"), method: "GET", path: `/v1/rooms/${c.r("priv")}/messages` }));
step("members after leaving", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/rooms/${c.r("pub")}/members` }));

// ---- long-poll (stored events, timeout=0 answers at once; last, since a
// poll makes its user online on parleyd, which parley.fcgi cannot see) ----
step("poll from a cursor", (c) => ({ user: c.u("a"), method: "GET", path: `/v1/poll?cursor=${c.saved.now.cursor}&timeout=0&rooms=${c.r("pub")}`, pick: stored }));
step("poll from a cursor, all rooms", (c) => ({ user: c.u("c"), method: "GET", path: `/v1/poll?cursor=${c.saved.now.cursor}&timeout=0`, pick: stored }));
step("poll bad timeout 400", (c) => ({ user: c.u("a"), method: "GET", path: "/v1/poll?timeout=61" }));
step("poll bad cursor 400", (c) => ({ user: c.u("a"), method: "GET", path: "/v1/poll?cursor=abc&timeout=0" }));
step("poll rooms not a member 403", (c) => ({ user: c.u("c"), method: "GET", path: `/v1/poll?timeout=0&rooms=${c.r("priv")}` }));
step("poll without a token 401", () => ({ method: "GET", path: "/v1/poll?timeout=0" }));

/* Runs the scenario against one server; returns one record per step. */
async function scenario(url, tag) {
  const srv = { url };
  const ctx = {
    tag,
    saved: {},
    last: null,
    u: (x) => `${tag}${x}`,
    r: (x) => `${tag}-${x}`,
    dm: () => `dm:${tag}a:${tag}b`,
    /* a rooms list reduced to this run's rooms */
    mine: (b) => b && Array.isArray(b.rooms) ? b.rooms.filter((r) => r.id.startsWith(tag)).sort((x, y) => (x.id < y.id ? -1 : 1)) : b,
  };
  const out = [];
  for (const s of steps) {
    let req, r;
    try {
      req = await s.fn(ctx);
      if (req.pause) await sleep(req.pause);
      r = await api(srv, req.method, req.path, {
        tok: req.user ? tok(req.user) : undefined,
        body: req.body,
        raw: req.raw,
        headers: req.headers || {},
      });
    } catch (e) {
      /* a step that depends on an earlier one that failed */
      out.push({ status: 0, body: null, text: `the step could not run: ${e.message}` });
      continue;
    }
    if (req.save && r.body) ctx.saved[req.save] = r.body;
    ctx.last = r;
    const body = req.pick ? req.pick(r.body) : r.body;
    out.push({
      status: r.status,
      type: (r.headers.get("content-type") || "").replace(/\s+/g, ""),
      allow: r.headers.get("allow"),
      retry: r.headers.get("retry-after"),
      body: shape(body, tag),
      text: r.text.slice(0, 300),
    });
  }
  return out;
}

const id = crypto.randomBytes(3).toString("hex");
const direct = await scenario(DIRECT, `d${id}`);
const through = await scenario(TARGET, `f${id}`);

steps.forEach((s, i) => {
  test(s.name, () => {
    const d = direct[i];
    const f = through[i];
    eq(f.status, d.status, `status (through: ${f.text}; parleyd: ${d.text})`);
    if (!d.status) throw new Error(d.text);
    eq(f.type, d.type, "Content-Type");
    eq(f.allow, d.allow, "Allow");
    eq(f.retry, d.retry, "Retry-After");
    eq(f.body, d.body, "body shape");
  });
});

await run(SUITE);
