// Resume on every transport of parleyd, however far behind the client is:
// after 1, 99, 100, 101, 255, 256, 257 and 5,000 missed messages a
// WebSocket (last_event_id), an SSE stream (Last-Event-ID, the
// `eventsource` client) and a long-poll client (each poll from the cursor
// of the answer before) get every message once, in order.  The counts sit
// on both sides of a long-poll answer's size (100) and of the hub's replay
// batch (256).  Then the same with messages posted while the replay runs,
// and a long-poll whose waiting poll gets more events in one pass than an
// answer holds.
//
// Messages are posted with WebSocket `send` frames, all in flight at once
// (--post-rate 0: no limit), so 5,000 take a few commits.
import { api, assert, eq, run, startServer, test, token } from "./lib.mjs";
import { poll } from "./clients.mjs";
import {
  checkExactlyOnce,
  pollCollector,
  sender,
  settle,
  sseCollector,
  wsCollector,
} from "./resume.mjs";

const srv = await startServer({ args: ["--post-rate", "0"] });
const alice = token("alice");
const bob = token("bob");
for (const t of [alice, bob]) await api(srv, "GET", "/v1/rooms", { tok: t });
const out = sender(srv, bob);

async function room(id) {
  const r = await api(srv, "POST", "/v1/rooms", { tok: bob, body: { id, name: id } });
  assert(r.status === 201, `create ${id}: ${r.status} ${r.text}`);
  const j = await api(srv, "POST", `/v1/rooms/${id}/join`, { tok: alice });
  assert(j.status === 200 || j.status === 201 || j.status === 204, `join ${id}: ${j.status} ${j.text}`);
}

/** The newest event id now, for a room: where a client that saw
 * everything so far would resume. */
async function now(id) {
  const r = await poll(srv, alice, `rooms=${id}&timeout=0`);
  eq(r.status, 200);
  return r.body.cursor;
}

const pollParleyd = (q) => poll(srv, alice, q);

/** n messages posted to a new room while alice was away (and `during`
 * more while she resumes): her three clients resume, each must get every
 * one once, in order; a last message, posted after they caught up,
 * arrives after them and closes the list. */
async function resumeCase(n, during = 0) {
  const id = `r${n}${during ? "d" : ""}`;
  await room(id);
  const last = await now(id);
  const t0 = Date.now();
  let expected = await out.post(id, n, id);
  const tPost = Date.now() - t0;
  const clients = {
    WebSocket: wsCollector(srv, alice, id, last),
    SSE: sseCollector(srv, alice, id, last),
    "long-poll": pollCollector("long-poll", pollParleyd, id, last),
  };
  const all = Object.values(clients);
  const t1 = Date.now();
  if (during) {
    // In small bursts, one after another: they land while the replay runs.
    for (let i = 0; i < during; i += 50) expected = expected.concat(await out.post(id, Math.min(50, during - i), `${id}x`));
    // How far each client was when the last burst was stored: below n,
    // the posts overlapped its replay.
    console.log(`     when the posts during the replay were done: ${all.map((c) => `${c.name} ${c.list().length}`).join(", ")}`);
  }
  await settle(all, { want: expected.length });
  const tResume = Date.now() - t1;
  const [closing] = await out.post(id, 1, `${id}-end`);
  clients["long-poll"].until(closing);
  await settle(all, { id: closing });
  expected = expected.concat([closing]);
  for (const c of all) await c.close();
  console.log(`     ${n}${during ? ` + ${during} during the replay` : ""}: posted in ${tPost} ms, ` +
    `resumed in ${tResume} ms, ${clients["long-poll"].polls()} polls, SSE reconnects ${clients.SSE.errors()}`);
  return { expected, clients };
}

function resumeTests(n, during = 0) {
  let work;
  const shared = () => (work ??= resumeCase(n, during));
  const what = `${n} missed messages${during ? ` and ${during} posted during the replay` : ""}`;
  for (const t of ["WebSocket", "SSE", "long-poll"]) {
    test(`${t} resume after ${what}: each once, in order`, async () => {
      const r = await shared();
      checkExactlyOnce(r.clients[t], r.expected);
    });
  }
}

for (const n of [1, 99, 100, 101, 255, 256, 257, 5000]) resumeTests(n);
resumeTests(257, 300);
resumeTests(5000, 1000);

test("a waiting long-poll that gets 600 events in one go answers 100 with the cursor of the last", async () => {
  const id = "burst";
  await room(id);
  const last = await now(id);
  // The poll waits (nothing missed yet); then 600 land at once.
  const waiting = poll(srv, alice, `rooms=${id}&cursor=${last}&timeout=30`);
  await new Promise((r) => setTimeout(r, 300));
  const expected = await out.post(id, 600, id);
  const first = await waiting;
  eq(first.status, 200);
  const got = first.body.events.filter((e) => e.type === "message.created");
  assert(got.length > 0 && got.length <= 100, `at most an answer's worth: ${got.length}`);
  eq(first.body.cursor, got[got.length - 1].id, "the cursor is the last event answered");
  const rest = pollCollector("long-poll", pollParleyd, id, first.body.cursor);
  rest.until(expected[expected.length - 1]);
  await settle([rest], { id: expected[expected.length - 1] });
  await rest.close();
  checkExactlyOnce({ name: "long-poll", list: () => got.concat(rest.list()), stuck: rest.stuck }, expected);
});

test("the issue's case: 300 messages, a poll from cursor 0, then polls from each answer's cursor", async () => {
  const id = "old";
  await room(id);
  const expected = await out.post(id, 300, id);
  const r = await poll(srv, alice, `rooms=${id}&cursor=0&timeout=1`);
  eq(r.status, 200);
  const stored = r.body.events.filter((e) => e.id > 0); // the room's member.joined first
  eq(stored.length, 100, "a full answer");
  eq(r.body.cursor, stored[stored.length - 1].id, "its cursor is its last event");
  const first = stored.filter((e) => e.type === "message.created").map((e) => e.data.id);
  eq(first, expected.slice(0, first.length), "the first messages");
  const next = await poll(srv, alice, `rooms=${id}&cursor=${r.body.cursor}&timeout=1`);
  eq(next.body.events.filter((e) => e.type === "message.created").map((e) => e.data.id),
    expected.slice(first.length, first.length + 100), "the next poll goes on from there");
});

test("the posting WebSocket closes cleanly", () => out.close());

await run("resume");
