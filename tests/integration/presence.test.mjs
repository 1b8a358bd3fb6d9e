// Presence, receipts and the small-room rules, in-process (no Redis).
import { api, assert, eq, run, sleep, startServer, test, token, until } from "./lib.mjs";
import { poll, sseClient, wsClient } from "./clients.mjs";

const GRACE = 2; // seconds
const srv = await startServer({ env: { PARLEY_PRESENCE_GRACE: String(GRACE), PARLEY_SMALL_ROOM: "5", PARLEY_KEEPALIVE: "1" } });
const tok = {};
for (const u of ["alice", "bob", "carol", "dave", "erin", "frank", "gina"]) {
  tok[u] = token(u);
  await api(srv, "GET", "/v1/rooms", { tok: tok[u] });
}

const presenceOf = (c, user) =>
  (c.events ? (typeof c.events === "function" ? c.events("presence") : c.of("presence")) : []).filter(
    (e) => e.data.user === user,
  );
const status = async (user) => (await api(srv, "GET", `/v1/users/${user}/status`, { tok: tok.bob })).body;

test("two tabs: closing one keeps alice online; closing both gives exactly one offline", async () => {
  const watcher = wsClient(srv, tok.bob, "presence=alice");
  await watcher.ready();
  const t1 = wsClient(srv, tok.alice);
  await t1.ready();
  await until(() => presenceOf(watcher, "alice").some((e) => e.data.status === "online"), "online");
  const t2 = wsClient(srv, tok.alice);
  await t2.ready();
  eq((await status("alice")).connections, 2);
  await t1.close();
  await until(async () => (await status("alice")).connections === 1, "one connection left");
  await sleep(GRACE * 1000 + 1500);
  eq(presenceOf(watcher, "alice").map((e) => e.data.status), ["online"], "no offline with a tab open");
  await t2.close();
  await until(() => presenceOf(watcher, "alice").some((e) => e.data.status === "offline"), "offline");
  await sleep(GRACE * 1000 + 500);
  eq(presenceOf(watcher, "alice").map((e) => e.data.status), ["online", "offline"], "exactly one offline");
  const st = await status("alice");
  eq(st.status, "offline");
  assert(st.last_seen, "last_seen set");
  await watcher.close();
});

test("a reconnect within the grace period causes no events", async () => {
  const watcher = wsClient(srv, tok.bob, "presence=carol");
  await watcher.ready();
  const a = wsClient(srv, tok.carol);
  await a.ready();
  await until(() => presenceOf(watcher, "carol").length === 1, "online");
  await a.close();
  const b = wsClient(srv, tok.carol); // a reload
  await b.ready();
  await sleep(GRACE * 1000 + 1500);
  eq(presenceOf(watcher, "carol").map((e) => e.data.status), ["online"], "no offline/online pair");
  await b.close();
  await watcher.close();
});

// A closed SSE stream is found by its next keep-alive write (1 s here).
test("mixed transports count as one user: SSE + WebSocket + long-poll", async () => {
  const watcher = sseClient(srv, tok.bob, "presence=dave");
  await watcher.ready();
  const s = sseClient(srv, tok.dave);
  await s.ready();
  const w = wsClient(srv, tok.dave);
  await w.ready();
  const p = poll(srv, tok.dave, "timeout=3");
  await until(async () => (await status("dave")).connections === 3, "three connections");
  s.close();
  await w.close();
  await p; // the poll ends; no new poll follows
  await until(() => presenceOf(watcher, "dave").some((e) => e.data.status === "offline"), "offline", 20000);
  eq(presenceOf(watcher, "dave").map((e) => e.data.status), ["online", "offline"]);
  watcher.close();
});

test("manual status: away and busy show; invisible shows offline to others", async () => {
  const w = wsClient(srv, tok.erin);
  await w.ready();
  await until(async () => (await status("erin")).status === "online", "online");
  eq((await api(srv, "POST", "/v1/me/status", { tok: tok.erin, body: { status: "away" } })).body.status, "away");
  eq((await status("erin")).status, "away");
  await api(srv, "POST", "/v1/me/status", { tok: tok.erin, body: { status: "invisible" } });
  const seen = await status("erin");
  eq(seen.status, "offline");
  eq(seen.connections, 0);
  await api(srv, "POST", "/v1/me/status", { tok: tok.erin, body: { status: "online" } });
  eq((await status("erin")).status, "online");
  await w.close();
});

test("small rooms push presence and receipts; a large room stays quiet", async () => {
  // "small" is 5 members here: a room of 3 is small, general (7) is large.
  await api(srv, "POST", "/v1/rooms", { tok: tok.frank, body: { id: "trio", name: "trio" } });
  await api(srv, "POST", "/v1/rooms/trio/join", { tok: tok.gina });
  const g = wsClient(srv, tok.gina);
  await g.ready();
  const e = wsClient(srv, tok.erin); // shares only the large general with frank
  await e.ready();
  const f = wsClient(srv, tok.frank);
  await f.ready();
  await until(() => presenceOf(g, "frank").some((ev) => ev.data.status === "online"), "small-room presence");
  const m = await api(srv, "POST", "/v1/rooms/trio/messages", { tok: tok.frank, body: { text: "hi" } });
  await until(() => g.events("message.created").some((e) => e.data.id === m.body.id), "delivered");
  eq((await api(srv, "POST", "/v1/rooms/trio/read", { tok: tok.gina, body: { up_to: m.body.id } })).status, 204);
  await until(() => f.events("receipt").some((e) => e.data.user === "gina" && e.data.read_up_to === m.body.id),
    "read receipt pushed");
  const r = await api(srv, "GET", "/v1/rooms/trio/receipts", { tok: tok.frank });
  const gina = r.body.receipts.find((x) => x.user === "gina");
  eq(gina.read_up_to, m.body.id);
  assert(gina.delivered_up_to >= m.body.id, "delivered recorded");
  // general has 7 members: no receipt events there, but they are recorded.
  const big = await api(srv, "POST", "/v1/rooms/general/messages", { tok: tok.frank, body: { text: "all" } });
  await api(srv, "POST", "/v1/rooms/general/read", { tok: tok.gina, body: { up_to: big.body.id } });
  await until(async () => {
    const rr = await api(srv, "GET", "/v1/rooms/general/receipts", { tok: tok.frank });
    return rr.body.receipts.some((x) => x.user === "gina" && x.read_up_to === big.body.id);
  }, "large-room receipt recorded");
  const marker = await api(srv, "POST", "/v1/rooms/trio/messages", { tok: tok.gina, body: { text: "m" } });
  await until(() => f.events("message.created").some((e) => e.data.id === marker.body.id), "marker");
  assert(!f.events("receipt").some((ev) => ev.room === "general"), "no receipt events from a large room");
  eq(presenceOf(e, "frank").length, 0, "a large room hears no presence");
  await e.close();
  await g.close();
  await f.close();
});

test("receipts are coalesced: many reads in a second give few events", async () => {
  const f = wsClient(srv, tok.frank, "rooms=trio");
  await f.ready();
  const ids = [];
  for (let i = 0; i < 10; i++)
    ids.push((await api(srv, "POST", "/v1/rooms/trio/messages", { tok: tok.frank, body: { text: `c${i}` } })).body.id);
  for (const id of ids) await api(srv, "POST", "/v1/rooms/trio/read", { tok: tok.gina, body: { up_to: id } });
  const last = ids[ids.length - 1];
  await until(() => f.events("receipt").some((e) => e.data.user === "gina" && e.data.read_up_to === last),
    "the latest read arrives");
  const reads = f.events("receipt").filter((e) => e.data.user === "gina");
  assert(reads.length < 10, `coalesced: ${reads.length} events for 10 reads`);
  await f.close();
});

test("typing start is throttled to one per 3 s per user and room", async () => {
  const f = wsClient(srv, tok.frank, "rooms=trio");
  await f.ready();
  for (let i = 0; i < 5; i++)
    eq((await api(srv, "POST", "/v1/rooms/trio/typing", { tok: tok.gina, body: { typing: true } })).status, 204);
  await until(() => f.events("typing").length >= 1, "typing");
  await sleep(300);
  eq(f.events("typing").filter((e) => e.data.typing).length, 1);
  await f.close();
});

await run("presence");
