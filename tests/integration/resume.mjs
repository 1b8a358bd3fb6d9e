// tests/integration/resume.mjs: what the resume suites share (parleyd's,
// tests/integration/resume.test.mjs, and parley.fcgi's,
// tests/fcgi/resume.test.mjs).
//
// - sender(): one WebSocket that posts many messages at once (`send`
//   frames, all in flight together, so they share the writer's commits)
//   and resolves to the message ids acknowledged.
// - wsCollector/sseCollector/pollCollector: a client resuming a room from
//   an event id on one transport, collecting the message.created events it
//   gets; a long-poll collector polls again from each answer's cursor.
// - settle(): waits until every collector holds a count of events, or is
//   stuck (a long-poll whose polls come back empty, no progress for long).
// - checkExactlyOnce(): the events are the messages expected, each once, in
//   order.
import { requireNode, sleep } from "./lib.mjs";
import { wsClient } from "./clients.mjs";

const WebSocket = requireNode("ws");
const { EventSource } = requireNode("eventsource");

/** A WebSocket that posts: post(room, n, tag) sends n messages at once and
 * resolves to their ids, ascending (the order they were stored in). */
export function sender(srv, tok) {
  const ws = new WebSocket(`${srv.ws}/v1/ws?token=${tok}&rooms=general`);
  const waiting = new Map();
  let seq = 0;
  ws.on("message", (d) => {
    const f = JSON.parse(d.toString());
    const w = waiting.get(f.client_id);
    if (!w || (f.type !== "ack" && f.type !== "error")) return;
    waiting.delete(f.client_id);
    if (f.type === "ack") w.resolve(f.message.id);
    else w.reject(new Error(`send refused: ${JSON.stringify(f.error)}`));
  });
  ws.on("close", () => {
    for (const w of waiting.values()) w.reject(new Error("sender closed"));
    waiting.clear();
  });
  ws.on("error", () => {});
  const open = new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return {
    async post(room, n, tag = "m") {
      await open;
      const acked = [];
      for (let i = 0; i < n; i++) {
        const client_id = `${tag}-${seq++}`;
        acked.push(new Promise((resolve, reject) => waiting.set(client_id, { resolve, reject })));
        ws.send(JSON.stringify({ type: "send", room, text: `${tag} ${i}`, client_id }));
      }
      return (await Promise.all(acked)).sort((a, b) => a - b);
    },
    close() {
      ws.close();
      return new Promise((r) => (ws.readyState === WebSocket.CLOSED ? r() : ws.once("close", r)));
    },
  };
}

/** Runs fn over items with at most `width` at a time; the results in order. */
export async function pool(items, width, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

/** A WebSocket resuming room after event id `last` (last_event_id). */
export function wsCollector(srv, tok, room, last) {
  const c = wsClient(srv, tok, `rooms=${room}&last_event_id=${last}`);
  return {
    name: "WebSocket",
    list: () => c.events("message.created"),
    stuck: () => (c.closed ? `closed ${c.closed.code}` : null),
    close: () => (c.closed ? Promise.resolve() : c.close()),
  };
}

/** An SSE stream (the `eventsource` client) resuming room after `last`
 * with the Last-Event-ID header.  Should the stream end, the client
 * reconnects with the last id it saw (its own header wins): no event may
 * come twice then either. */
export function sseCollector(srv, tok, room, last) {
  const events = [];
  let errors = 0;
  const es = new EventSource(`${srv.url}/v1/events?token=${tok}&rooms=${room}`, {
    fetch: (input, init) =>
      fetch(input, { ...init, headers: { "Last-Event-ID": String(last), ...init.headers } }),
  });
  es.addEventListener("message.created", (e) => events.push(JSON.parse(e.data)));
  es.onerror = () => errors++;
  return {
    name: "SSE",
    list: () => events,
    stuck: () => null,
    errors: () => errors,
    close: async () => es.close(),
  };
}

/** Long-poll from `last`: pollFn(query) answers {status, body}; each poll
 * passes the cursor of the answer before.  Stuck once three polls in a row
 * came back without a stored event while events were still missing. */
export function pollCollector(name, pollFn, room, last, { timeout = 1 } = {}) {
  const got = [];
  let cursor = last;
  let empty = 0;
  let stop = false;
  let error = null;
  let polls = 0;
  let wantSeen = null; // stop once this message id arrived
  const loop = (async () => {
    while (!stop) {
      const r = await pollFn(`rooms=${room}&cursor=${cursor}&timeout=${timeout}`);
      polls++;
      if (r.status !== 200) throw new Error(`poll answered ${r.status}: ${JSON.stringify(r.body)}`);
      if (!(r.body.cursor >= cursor)) throw new Error(`cursor went back: ${cursor} -> ${r.body.cursor}`);
      const stored = r.body.events.filter((e) => e.id > 0);
      for (const e of stored) if (e.id <= cursor) throw new Error(`event ${e.id} at or below the cursor ${cursor}`);
      cursor = r.body.cursor;
      got.push(...stored.filter((e) => e.type === "message.created"));
      empty = stored.length ? 0 : empty + 1;
      if (wantSeen !== null && got.some((e) => e.data.id === wantSeen)) break;
    }
  })().catch((e) => (error = e));
  return {
    name,
    list: () => got,
    stuck: () => (error ? String(error.message) : empty >= 3 ? `${empty} empty answers in a row at cursor ${cursor}` : null),
    polls: () => polls,
    until: (id) => (wantSeen = id),
    close: async () => {
      stop = true;
      await loop;
    },
  };
}

/** Waits until every collector holds at least `want` events (or the
 * message `id`), or is stuck, or nothing moved for `idle` ms. */
export async function settle(collectors, { want = 0, id = null, idle = 20000 } = {}) {
  const done = (c) =>
    id !== null ? c.list().some((e) => e.data.id === id) : c.list().length >= want;
  let counts = collectors.map((c) => c.list().length);
  let moved = Date.now();
  for (;;) {
    if (collectors.every((c) => done(c) || c.stuck())) return;
    const now = collectors.map((c) => c.list().length);
    if (now.some((n, i) => n !== counts[i])) {
      counts = now;
      moved = Date.now();
    } else if (Date.now() - moved > idle) return;
    await sleep(20);
  }
}

/** Throws unless the collector got exactly the messages `expected` (ids in
 * the order they were stored), each once, with rising event ids. */
export function checkExactlyOnce(c, expected) {
  const got = c.list();
  const ids = got.map((e) => e.data.id);
  const problems = [];
  for (let i = 1; i < got.length; i++) {
    if (!(got[i].id > got[i - 1].id)) {
      problems.push(`event ids not rising at ${i}: ${got[i - 1].id} then ${got[i].id}`);
      break;
    }
  }
  const seen = new Map();
  for (const id of ids) seen.set(id, (seen.get(id) || 0) + 1);
  const repeated = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  const missing = expected.filter((id) => !seen.has(id));
  const want = new Set(expected);
  const extra = ids.filter((id) => !want.has(id));
  if (repeated.length) problems.push(`${repeated.length} repeated (first ${repeated[0]})`);
  if (missing.length) problems.push(`${missing.length} missing (first ${missing[0]}, last ${missing[missing.length - 1]})`);
  if (extra.length) problems.push(`${extra.length} not expected (first ${extra[0]})`);
  if (!problems.length) {
    const at = ids.findIndex((id, i) => id !== expected[i]);
    if (at >= 0 || ids.length !== expected.length) problems.push(`out of order at ${at}`);
  }
  if (problems.length) {
    const why = c.stuck && c.stuck();
    throw new Error(`${c.name}: ${got.length} of ${expected.length} events: ${problems.join("; ")}${why ? ` (${why})` : ""}`);
  }
}
