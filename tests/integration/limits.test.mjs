// Limits and abuse (API.md "Limits and abuse"): per-user rates of every
// repeatable write, GET /v1/rooms pages, connection caps, the request
// deadline, WebSocket frame memory, and the HTTP edges answered in JSON.
// Every limit is checked one below, at, above and far past its edge.
import net from "node:net";
import { readFileSync } from "node:fs";
import { api, assert, eq, requireNode, run, sleep, startServer, test, token, until } from "./lib.mjs";

const WebSocket = requireNode("ws");

// Dev mode turns unset limits off; explicit values win, so this server has
// small limits (N a minute, N at once: no refill worth counting in a test).
const N = 5;
const limited = await startServer({
  dev: true,
  args: ["--post-rate", "1", "--edit-rate", `${N}`, "--room-rate", `${N}`, "--member-rate", `${N}`,
    "--status-rate", `${N}`, "--typing-rate", `${N}`, "--read-rate", `${N}`],
});
const as = (srv, user, method, p, body, opts = {}) => api(srv, method, p, { tok: token(user), body, ...opts });
const L = (user, method, p, body, opts) => as(limited, user, method, p, body, opts);

function isLimited(r, what) {
  eq(r.status, 429, `${what}: status`);
  eq(r.body && r.body.error && r.body.error.code, "rate_limited", `${what}: code`);
  const ra = Number(r.headers.get("retry-after"));
  assert(Number.isInteger(ra) && ra >= 1, `${what}: Retry-After ${r.headers.get("retry-after")}`);
}

/** Runs make(i) for i = 1..N+1 then 20 more: the first N pass (one below
 * and at the edge), the rest (above and far past) are 429. */
async function edge(what, make, ok = (r) => r.status < 300) {
  for (let i = 1; i <= N; i++) {
    const r = await make(i);
    assert(ok(r), `${what} #${i} (${i < N ? "below" : "at"} the limit): ${r.status} ${JSON.stringify(r.body)}`);
  }
  isLimited(await make(N + 1), `${what} #${N + 1} (above)`);
  const far = await Promise.all(Array.from({ length: 20 }, (_, k) => make(N + 2 + k)));
  for (const r of far) isLimited(r, `${what} far past`);
}

function wsOpen(srv, user) {
  const ws = new WebSocket(`${srv.ws}/v1/ws?token=${token(user)}`);
  const frames = [];
  ws.on("message", (d) => frames.push(JSON.parse(d.toString())));
  ws.on("error", () => {});
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve({ ws, frames }));
    ws.once("unexpected-response", (_req, res) => reject(new Error(`ws refused: ${res.statusCode}`)));
    ws.once("error", reject);
  });
}
const wsClose = (c) => new Promise((r) => (c.ws.readyState >= 2 ? r() : (c.ws.once("close", r), c.ws.close())));

test("posting: an explicit --post-rate applies in --dev (4 at once for 1/s)", async () => {
  const post = (i) => L("poster", "POST", "/v1/rooms/general/messages", { text: `p${i}` });
  for (let i = 1; i <= 4; i++) eq((await post(i)).status, 201, `post ${i}`);
  isLimited(await post(5), "post 5");
});

test("edits and deletes: N a minute, then 429 and the message is unchanged", async () => {
  const m = (await L("editor", "POST", "/v1/rooms/general/messages", { text: "v0" })).body;
  const path = `/v1/rooms/general/messages/${m.id}`;
  await edge("edit", (i) => L("editor", "PATCH", path, { text: `v${i}` }));
  isLimited(await L("editor", "DELETE", path), "delete shares the bucket");
  const page = (await L("editor", "GET", `/v1/rooms/general/messages?after=${m.id - 1}&limit=1`)).body;
  eq(page.messages[0].text, `v${N}`, "text after the refused edits");
  assert(!page.messages[0].deleted, "the refused delete deleted");
});

test("room creation (REST, compat and DMs): N a minute, then 429 and no room", async () => {
  await edge("create", (i) => L("founder", "POST", "/v1/rooms", { id: `fr-${i}`, name: `Founder ${i}` }));
  eq((await L("founder", "GET", `/v1/rooms/fr-${N + 1}`)).status, 404, "refused room exists");
  isLimited(await L("founder", "POST", "/create-room", { name: "compat" }), "compat create-room");
  isLimited(await L("founder", "POST", "/v1/dms", { user: "someone" }), "dm");
});

test("member adds, joins, leaves: N a minute, then 429 and no member", async () => {
  eq((await L("host", "POST", "/v1/rooms", { id: "club", name: "Club", private: true })).status, 201);
  await edge("add", (i) => L("host", "POST", "/v1/rooms/club/members", { user: `guest${i}` }));
  const members = (await L("host", "GET", "/v1/rooms/club/members")).body.members.map((x) => x.user);
  assert(!members.includes(`guest${N + 1}`), "refused member was added");
  assert(members.includes(`guest${N}`), "member at the limit missing");
  eq((await L("joiner", "POST", "/v1/rooms", { id: "hall", name: "Hall" })).status, 201);
  await edge("join/leave", (i) => L("hopper", "POST", `/v1/rooms/hall/${i % 2 ? "join" : "leave"}`));
});

test("status changes (REST and /updateStatus): N a minute, then 429 and unchanged", async () => {
  const c = await wsOpen(limited, "mood"); // online, so the status shows
  const states = ["away", "busy", "online"];
  await edge("status", (i) => L("mood", "POST", "/v1/me/status", { status: states[i % 3] }));
  isLimited(await L("mood", "POST", "/updateStatus", { userId: "mood", status: "away" }), "compat updateStatus");
  eq((await L("mood", "GET", "/v1/users/mood/status")).body.status, states[N % 3], "status kept");
  await wsClose(c);
});

test("typing: REST and WebSocket frames share N a minute; beyond, 429 / error frame, nothing sent", async () => {
  const room = "typing-room";
  eq((await L("typist", "POST", "/v1/rooms", { id: room, name: "T" })).status, 201);
  eq((await L("watcher", "POST", `/v1/rooms/${room}/join`)).status, 200);
  const w = await wsOpen(limited, "watcher");
  const t = await wsOpen(limited, "typist");
  await until(() => w.frames.some((f) => f.type === "hello") && t.frames.some((f) => f.type === "hello"), "hellos");
  // Stops are never throttled per room, so each accepted one reaches the watcher.
  for (let i = 1; i <= N - 1; i++) t.ws.send(JSON.stringify({ type: "typing", room, typing: false }));
  eq((await L("typist", "POST", `/v1/rooms/${room}/typing`, { typing: false })).status, 204, "REST at the limit");
  t.ws.send(JSON.stringify({ type: "typing", room, typing: false, client_id: "over" }));
  const err = await until(() => t.frames.find((f) => f.type === "error"), "error frame");
  eq(err.error.code, "rate_limited", "frame above the limit");
  isLimited(await L("typist", "POST", `/v1/rooms/${room}/typing`, { typing: true }), "REST above");
  for (let i = 0; i < 20; i++) t.ws.send(JSON.stringify({ type: "typing", room, typing: false }));
  await until(() => t.frames.filter((f) => f.type === "error").length === 21, "21 error frames");
  // A message after them: once it arrived, anything accepted before has too.
  t.ws.send(JSON.stringify({ type: "send", room, text: "marker" }));
  await until(() => w.frames.some((f) => f.type === "message.created" && f.data.text === "marker"), "marker");
  await sleep(200);
  const typed = w.frames.filter((f) => f.type === "typing" && f.data.user === "typist").length;
  assert(typed <= N, `watcher got ${typed} typing events for ${N} accepted`);
  await wsClose(w);
  await wsClose(t);
});

test("read marks: REST and WebSocket frames share N a minute; beyond, nothing recorded", async () => {
  const room = "read-room";
  eq((await L("reader", "POST", "/v1/rooms", { id: room, name: "R" })).status, 201);
  const ids = [];
  for (let i = 0; i < N + 2; i++)
    ids.push((await L(`writer${i}`, "POST", `/v1/rooms/${room}/join`)) && (await L(`writer${i}`, "POST", `/v1/rooms/${room}/messages`, { text: `m${i}` })).body.id);
  for (let i = 0; i < N - 1; i++)
    eq((await L("reader", "POST", `/v1/rooms/${room}/read`, { up_to: ids[i] })).status, 204, `read ${i + 1}`);
  const c = await wsOpen(limited, "reader");
  c.ws.send(JSON.stringify({ type: "read", room, up_to: ids[N - 1] })); // the N-th: at the limit
  await until(async () => {
    const r = (await L("reader", "GET", `/v1/rooms/${room}/receipts`)).body.receipts.find((x) => x.user === "reader");
    return r && r.read_up_to === ids[N - 1];
  }, "read at the limit recorded");
  c.ws.send(JSON.stringify({ type: "read", room, up_to: ids[N] }));
  const err = await until(() => c.frames.find((f) => f.type === "error"), "error frame");
  eq(err.error.code, "rate_limited");
  isLimited(await L("reader", "POST", `/v1/rooms/${room}/read`, { up_to: ids[N + 1] }), "REST above");
  const r = (await L("reader", "GET", `/v1/rooms/${room}/receipts`)).body.receipts.find((x) => x.user === "reader");
  eq(r.read_up_to, ids[N - 1], "read_up_to after refused marks");
  await wsClose(c);
});

test("the limits are per user: others write on", async () => {
  eq((await L("bystander", "POST", "/v1/me/status", { status: "away" })).status, 200);
  eq((await L("bystander", "POST", "/v1/rooms", { name: "Mine" })).status, 201);
});

// ---- GET /v1/rooms pages ----

const open = await startServer({ dev: true }); // dev: limits off unless given
const O = (method, p, body) => as(open, "pager", method, p, body);

test("--dev without explicit rates: no limits (500 rooms in a row)", async () => {
  const names = [];
  for (let i = 0; i < 490; i++) names.push(`Room ${String(i).padStart(3, "0")}`);
  for (let i = 0; i < 10; i++) names.push(`ALPHA beta ${i}`);
  for (let i = 0; i < names.length; i += 10)
    await Promise.all(names.slice(i, i + 10).map((name, k) =>
      O("POST", "/v1/rooms", { id: `p${String(i + k).padStart(3, "0")}`, name }).then((r) => eq(r.status, 201, name))));
  // 500 + general = 501 visible; someone else's private room is not
  eq((await as(open, "other", "POST", "/v1/rooms", { id: "p9-secret", name: "alpha hidden", private: true })).status, 201);
});

test("GET /v1/rooms: limit 1-500 (default 100), has_more at the edges", async () => {
  const n = async (q) => {
    const r = await O("GET", `/v1/rooms${q}`);
    eq(r.status, 200, q);
    return r.body;
  };
  let b = await n("");
  eq(b.rooms.length, 100, "default page");
  eq(b.has_more, true);
  b = await n("?limit=1");
  eq([b.rooms.length, b.has_more], [1, true], "limit 1");
  b = await n("?limit=499");
  eq([b.rooms.length, b.has_more], [499, true], "limit 499");
  b = await n("?limit=500");
  eq([b.rooms.length, b.has_more], [500, true], "limit 500 of 501");
  b = await n(`?limit=500&after=${b.rooms[499].id}`);
  eq([b.rooms.length, b.has_more], [1, false], "the last one");
  b = await n(`?limit=1&after=${b.rooms[0].id}`);
  eq([b.rooms.length, b.has_more], [0, false], "after the last");
  for (const bad of ["0", "501", "100000", "-1", "abc", "1.5", ""]) {
    const r = await O("GET", `/v1/rooms?limit=${bad}`);
    eq(r.status, 400, `limit=${bad}`);
    eq(r.body.error.code, "invalid_argument");
  }
  eq((await O("GET", "/v1/rooms?after=bad%20id")).status, 400, "after must be a room id");
});

test("GET /v1/rooms: pages with after cover every visible room once, in id order", async () => {
  const seen = [];
  let after = "";
  for (let guard = 0; guard < 20; guard++) {
    const b = (await O("GET", `/v1/rooms?limit=100${after ? `&after=${after}` : ""}`)).body;
    seen.push(...b.rooms.map((r) => r.id));
    if (!b.has_more) break;
    after = b.rooms[b.rooms.length - 1].id;
  }
  eq(seen.length, 501, "rooms seen");
  eq(new Set(seen).size, 501, "no repeats");
  eq([...seen].sort(), seen, "id order");
  assert(!seen.includes("p9-secret"), "another user's private room listed");
});

test("GET /v1/rooms?q= filters names, any case, with the page edges", async () => {
  const q = async (s) => (await O("GET", `/v1/rooms?${s}`)).body;
  let b = await q("q=alpha");
  eq([b.rooms.length, b.has_more], [10, false], "q=alpha");
  assert(b.rooms.every((r) => /alpha/i.test(r.name)));
  b = await q("q=ALPHA%20BETA&limit=9");
  eq([b.rooms.length, b.has_more], [9, true], "9 of 10");
  b = await q("q=Alpha&limit=10");
  eq([b.rooms.length, b.has_more], [10, false], "10 of 10");
  b = await q("q=alpha&limit=11");
  eq([b.rooms.length, b.has_more], [10, false], "11 for 10");
  b = await q(`q=alpha&limit=5&after=${(await q("q=alpha&limit=5")).rooms[4].id}`);
  eq([b.rooms.length, b.has_more], [5, false], "second page of the filter");
  b = await q("q=no-such-name");
  eq([b.rooms.length, b.has_more], [0, false]);
  eq((await O("GET", `/v1/rooms?q=${"x".repeat(201)}`)).status, 400, "q too long");
});

await run("limits");
