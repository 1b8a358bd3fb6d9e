// tests/integration/webhook.test.mjs: webhooks against a real HTTP receiver
// (tests/integration/receiver.mjs): signed presence and message events,
// retries with the same delivery id, a user's deliveries in order, a dead
// receiver that slows no one, dropping after --webhook-retry-for, and
// kill -9 with deliveries pending.  (Two nodes: tests/redis/webhook.test.mjs.)
//
//   node tests/integration/webhook.test.mjs        (PARLEYD=... to pick a binary)
import { api, assert, eq, freePort, run, sleep, startServer, test, token, until } from "./lib.mjs";
import { wsClient } from "./clients.mjs";
import { receiver } from "./receiver.mjs";

const SECRET = "webhook-test-secret-0123456789abcdef";
const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function hookArgs(url, events = "presence,message.created", extra = []) {
  return ["--webhook", url, "--webhook-secret", SECRET, "--webhook-events", events, ...extra];
}

function metric(text, name) {
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.slice(name.length + 1)) : undefined;
}

async function post(srv, tok, room, text) {
  const r = await api(srv, "POST", `/v1/rooms/${room}/messages`, { tok, body: { text } });
  eq(r.status, 201, r.text);
  return r.body;
}

test("signed deliveries: presence online and offline, and a message, as the contract shapes them", async () => {
  const rc = await receiver(SECRET);
  const srv = await startServer({ args: hookArgs(rc.url) });
  const a = token("wh_alice");
  const w = wsClient(srv, a);
  await w.ready();
  const m = await post(srv, a, "general", "hello hooks");
  await w.close();
  await until(() => rc.delivered((b) => b.type === "presence" && b.data.user === "wh_alice" && b.data.status === "offline").length === 1,
    "the offline delivery", 20000);
  await until(() => rc.delivered((b) => b.type === "message.created").length === 1, "the message delivery");
  for (const d of rc.got) {
    assert(d.valid, `signature checks out: ${d.sig}`);
    eq(d.method, "POST");
    assert(/^application\/json/.test(d.type), `Content-Type ${d.type}`);
    assert(Math.abs(d.t - Date.now() / 1000) < 120, `t is the attempt's time: ${d.t}`);
    eq(Object.keys(d.body).sort(), ["data", "id", "ts", "type"], "body keys");
    assert(typeof d.body.id === "string" && d.body.id.length > 0, "delivery id is a string");
    assert(TIME_RE.test(d.body.ts), `ts ${d.body.ts}`);
  }
  const pres = rc.delivered((b) => b.type === "presence" && b.data.user === "wh_alice").map((b) => b.data.status);
  eq(pres, ["online", "offline"], "one delivery per transition, in order");
  const off = rc.delivered((b) => b.type === "presence" && b.data.status === "offline")[0];
  assert(TIME_RE.test(off.data.last_seen), "offline carries last_seen");
  const msg = rc.delivered((b) => b.type === "message.created")[0];
  eq(msg.data.id, m.id, "the message");
  eq(msg.data.text, "hello hooks");
  eq(msg.data.sender, "wh_alice");
  // A tampered body fails the check a receiver makes.
  const d = rc.got[0];
  assert(!(await import("./receiver.mjs")).signatureOk(SECRET, d.sig, d.raw + " "), "a changed body fails");
  await srv.stop();
  await rc.close();
});

test("a failing receiver: retried with the same delivery id, and a user's deliveries stay in order", async () => {
  const rc = await receiver(SECRET);
  const attempts = new Map();
  rc.answer = (d) => {
    const n = (attempts.get(d.body.id) || 0) + 1;
    attempts.set(d.body.id, n);
    return n <= 2 ? 500 : 200; // each delivery fails twice
  };
  const srv = await startServer({ args: hookArgs(rc.url, "message.created") });
  const b = token("wh_bob");
  const sent = [];
  for (let i = 0; i < 3; i++) sent.push((await post(srv, b, "general", `in order ${i}`)).id);
  await until(() => rc.delivered().length === 3, "three deliveries", 30000);
  eq(rc.delivered().map((x) => x.data.id), sent, "in order, each once");
  for (const [id, n] of attempts) eq(n, 3, `delivery ${id}: two failures then success`);
  // Order: no attempt of a later message before the earlier one succeeded.
  const firstTry = (id) => rc.got.findIndex((x) => x.body.data.id === id);
  const success = (id) => rc.got.findIndex((x) => x.body.data.id === id && x.ok);
  assert(firstTry(sent[1]) > success(sent[0]) && firstTry(sent[2]) > success(sent[1]), "one at a time per user");
  const text = (await api(srv, "GET", "/metrics")).text;
  eq(metric(text, "parley_webhook_deliveries_total"), 3, "deliveries metric");
  eq(metric(text, "parley_webhook_failures_total"), 6, "failures metric");
  await srv.stop();
  await rc.close();
});

test("an unreachable receiver slows no one; deliveries wait in the store", async () => {
  const dead = `http://127.0.0.1:${await freePort()}/hook`; // nothing listens there
  const srv = await startServer({ args: hookArgs(dead, "message.created") });
  const c = token("wh_carol");
  const d = token("wh_dave");
  const w = wsClient(srv, d);
  await w.ready();
  const ids = [];
  for (let i = 0; i < 20; i++) ids.push((await post(srv, c, "general", `to nowhere ${i}`)).id);
  await until(() => ids.every((id) => w.events("message.created").some((e) => e.data.id === id)), "every message live");
  await until(async () => metric((await api(srv, "GET", "/metrics")).text, "parley_webhook_queue") === 20, "20 waiting");
  await until(async () => metric((await api(srv, "GET", "/metrics")).text, "parley_webhook_failures_total") >= 1, "attempts failing");
  await w.close();
  await srv.stop();
});

test("--webhook-retry-for: a delivery that keeps failing is dropped, with a log line and a metric", async () => {
  const rc = await receiver(SECRET);
  rc.answer = () => 503;
  const srv = await startServer({ args: hookArgs(rc.url, "message.created", ["--webhook-retry-for", "2"]) });
  await post(srv, token("wh_erin"), "general", "never taken");
  await until(() => /webhook: delivery \d+ \(message\.created of wh_erin\) dropped after \d+ attempts/.test(srv.log()), "the log line", 30000);
  const text = (await api(srv, "GET", "/metrics")).text;
  eq(metric(text, "parley_webhook_dropped_total"), 1, "dropped metric");
  assert(rc.got.length >= 2, `retried before dropping (${rc.got.length} attempts)`);
  assert(!srv.log().includes(SECRET), "the secret never reaches the log");
  await until(async () => metric((await api(srv, "GET", "/metrics")).text, "parley_webhook_queue") === 0, "nothing left");
  await srv.stop();
  await rc.close();
});

test("kill -9 with deliveries pending: a restart delivers each of them once, in order", async () => {
  const rc = await receiver(SECRET);
  let up = false;
  rc.answer = () => (up ? 200 : 500);
  const first = await startServer({ args: hookArgs(rc.url, "message.created") });
  const f = token("wh_frank");
  const sent = [];
  for (let i = 0; i < 5; i++) sent.push((await post(first, f, "general", `survives ${i}`)).id);
  await until(() => rc.got.length >= 1, "an attempt");
  first.child.kill("SIGKILL");
  await first.exited;
  up = true;
  const again = await startServer({ args: hookArgs(rc.url, "message.created"), dataDir: first.data });
  // A lease held at the kill runs out within 30 s.
  await until(() => rc.delivered().length === 5, "all five delivered", 45000);
  eq(rc.delivered().map((x) => x.data.id), sent, "each once, in order");
  await sleep(1000);
  eq(rc.delivered().length, 5, "no extra delivery");
  await again.stop();
  await rc.close();
});

test("settings: --webhook without a secret, a bad URL and an unknown event type are refused at start", async () => {
  const bad = [
    ["--webhook", "http://127.0.0.1:9/x"],
    ["--webhook", "ftp://example/x", "--webhook-secret", SECRET],
    ["--webhook", "http://127.0.0.1:9/x", "--webhook-secret", SECRET, "--webhook-events", "presence,typing"],
  ];
  for (const args of bad) {
    let refused = false;
    try {
      await startServer({ args });
    } catch (e) {
      refused = /webhook/.test(String(e.message));
    }
    assert(refused, `refused: ${args.join(" ")}`);
  }
});

await run("webhook");
