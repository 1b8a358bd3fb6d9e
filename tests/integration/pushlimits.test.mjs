// Push limits (API.md "Limits and abuse"): no connection can slow other
// users' delivery, streams live no longer than their tokens, and the
// WebSocket close handshake completes after every refusal without the
// server spinning.  Real clients (`ws`, fetch) and hand-built frames.
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { api, assert, eq, run, sleep, startServer, test, token, until } from "./lib.mjs";
import { frame, poll, rawWs, wsClient } from "./clients.mjs";

const srv = await startServer();
const long = (user) => token(user, 3600);
const alice = long("alice");
const bob = long("bob");
const carol = long("carol");
for (const t of [alice, bob, carol]) await api(srv, "GET", "/v1/rooms", { tok: t });

const expOf = (tok) => JSON.parse(Buffer.from(tok.split(".")[1], "base64url").toString()).exp;

async function post(tok, room, text, extra = {}) {
  const r = await api(srv, "POST", `/v1/rooms/${room}/messages`, { tok, body: { text, ...extra } });
  assert(r.status === 201 || r.status === 200, `post ${r.status} ${r.text}`);
  return r.body;
}

// Push connections open on a server (its /metrics).
const pushOpen = async (s) => {
  const r = await fetch(`${s.url}/metrics`);
  return Number(/^parley_push_connections (\d+)$/m.exec(await r.text())[1]);
};

const closeFrame = (code) => {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(code);
  return frame(8, p);
};

const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};

// ---- fairness: one flooding connection against everyone else ----

/* A raw WebSocket that floods frames as fast as the socket takes them,
 * counting what comes back without keeping it. */
async function flooder(s, tok, makeFrame) {
  const c = await rawWs(s, tok);
  await until(() => c.texts().some((t) => t.type === "hello"), "flooder hello");
  const f = { c, sent: 0, stop: false, errors: new Map(), done: null };
  // Count error frames by code as they come, then forget them.
  c.sock.removeAllListeners("data");
  let buf = Buffer.alloc(0);
  c.sock.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2) {
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) break;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) break;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      if (buf.length < off + len) break;
      if ((buf[0] & 0x0f) === 1) {
        const m = /"type":"error".*"code":"([a-z_]+)"/.exec(buf.subarray(off, off + len).toString());
        if (m) f.errors.set(m[1], (f.errors.get(m[1]) || 0) + 1);
      }
      buf = buf.subarray(off + len);
    }
  });
  f.done = (async () => {
    while (!f.stop && !c.ended) {
      const batch = [];
      for (let i = 0; i < 200; i++) batch.push(frame(1, makeFrame(f.sent++)));
      if (!c.sock.write(Buffer.concat(batch))) await new Promise((r) => c.sock.once("drain", r));
      else await new Promise((r) => setImmediate(r));
    }
  })();
  return f;
}

test("a connection flooding read and typing frames does not hold up other users' messages", async () => {
  const fl = long("flooder");
  await api(srv, "GET", "/v1/rooms", { tok: fl });
  const first = await post(alice, "general", "before the flood");
  const b = wsClient(srv, bob);
  const c = wsClient(srv, carol);
  await b.ready();
  await c.ready();
  const f = await flooder(srv, fl, (i) =>
    i % 2 ? JSON.stringify({ type: "read", room: "general", up_to: first.id })
          : JSON.stringify({ type: "typing", room: "general", typing: true }));
  const recvAt = new Map();
  for (const [who, w] of [["bob", b], ["carol", c]])
    w.ws.on("message", (d) => {
      const e = JSON.parse(d.toString());
      if (e.type === "message.created") recvAt.set(`${who}:${e.data.id}`, Date.now());
    });
  await until(() => f.sent > 5000, "the flood under way");
  // alice posts while the flood runs; every message must reach bob and
  // carol while it still runs (it stops after 30 s whatever happens).
  const stopAt = Date.now() + 30000;
  const guard = (async () => {
    while (!f.stop && Date.now() < stopAt) await sleep(100);
    f.stop = true;
  })();
  const sentAt = new Map();
  const N = 100;
  for (let i = 0; i < N && !f.stop; i++) {
    const t0 = Date.now();
    const m = await post(alice, "general", `during the flood ${i}`);
    sentAt.set(m.id, t0);
    await sleep(20);
  }
  const got = (w) => w.events("message.created").filter((e) => sentAt.has(e.data.id));
  await until(() => f.stop || (got(b).length === sentAt.size && got(c).length === sentAt.size),
    "delivery during the flood", 35000).catch(() => {});
  const during = !f.stop;
  f.stop = true;
  await guard;
  await f.done;
  const lat = [];
  for (const [key, at] of recvAt) if (sentAt.has(Number(key.split(":")[1])))
    lat.push(at - sentAt.get(Number(key.split(":")[1])));
  console.log(`  flood: ${f.sent} frames sent by one connection; other users' delivery ` +
    `p50 ${percentile(lat, 50)} ms, p99 ${percentile(lat, 99)} ms, max ${Math.max(...lat)} ms ` +
    `(${lat.length} deliveries); flooder's errors ${JSON.stringify(Object.fromEntries(f.errors))}`);
  assert(sentAt.size === N, `alice could post all ${N} messages during the flood (${sentAt.size})`);
  assert(during, `every message reached bob and carol while the flood ran ` +
    `(bob ${got(b).length}, carol ${got(c).length} of ${sentAt.size})`);
  // The flooder's own reads were applied (or refused as limited): a last
  // read, once the flood has stopped, lands.
  // (On a connection of its own: a server may also cut a flooder off.)
  const last = [...sentAt.keys()].pop();
  f.c.sock.destroy();
  const again = wsClient(srv, fl);
  await again.ready();
  await until(async () => {
    again.send({ type: "read", room: "general", up_to: last });
    await sleep(300);
    const r = await api(srv, "GET", "/v1/rooms/general/receipts", { tok: fl });
    const mine = r.body.receipts.find((x) => x.user === "flooder");
    return mine && mine.read_up_to === last;
  }, "the flooder's last read applied", 20000);
  for (const [code] of f.errors) assert(code === "rate_limited", `flooder error ${code}`);
  await again.close();
  await b.close();
  await c.close();
});

test("read frames never make the push thread wait on the store", async () => {
  // Another process (parley.fcgi, a long checkpoint...) holds the store's
  // write lock: a read frame must not stop the hub from serving others.
  const last = (await post(alice, "general", "read me")).id;
  const lock = spawn("sqlite3", [path.join(srv.data, "parley.db")], { stdio: ["pipe", "pipe", "ignore"] });
  let out = "";
  let failed = false;
  lock.stdout.on("data", (d) => (out += d));
  const gone = new Promise((r) => lock.on("close", r));
  lock.on("error", () => (failed = true));
  lock.stdin.on("error", () => (failed = true));
  lock.stdin.write("BEGIN IMMEDIATE;\nSELECT 'locked';\n");
  const ok = await until(() => out.includes("locked") || failed || lock.exitCode !== null, "the lock", 10000)
    .then(() => out.includes("locked"), () => false);
  if (!ok) {
    console.log("  skip: no sqlite3 command to hold the store's lock");
    return;
  }
  const reader = wsClient(srv, alice);
  const b = wsClient(srv, bob);
  await reader.ready();
  await b.ready();
  let released = false;
  try {
    for (let i = 0; i < 50; i++) reader.send({ type: "read", room: "general", up_to: last });
    reader.send({ type: "typing", room: "general", typing: true });
    b.send({ type: "ping" });
    await until(() => b.events("pong").length === 1, "bob's pong while the store is locked", 8000);
    await until(() => b.events("typing").some((e) => e.data.user === "alice"), "alice typing", 8000);
  } finally {
    released = true;
    lock.stdin.end("ROLLBACK;\n.quit\n");
    await gone;
  }
  assert(released);
  await until(async () => {
    const r = await api(srv, "GET", "/v1/rooms/general/receipts", { tok: alice });
    const mine = r.body.receipts.find((x) => x.user === "alice");
    return mine && mine.read_up_to >= last;
  }, "alice's read applied once the lock is gone");
  await reader.close();
  await b.close();
});

// ---- tokens: a stream lives no longer than its token ----

test("a WebSocket closes with 4001 at its token's exp, and nothing sent after exp is stored", async () => {
  const short = token("erin", 2);
  await api(srv, "GET", "/v1/rooms", { tok: long("erin") });
  const exp = expOf(short) * 1000;
  const w = wsClient(srv, short);
  await w.ready();
  const sent = [];
  while (!w.closed && Date.now() < exp + 5000) {
    const id = `exp-${sent.length}`;
    sent.push({ id, at: Date.now() });
    w.send({ type: "send", room: "general", text: `t ${id}`, client_id: id });
    await sleep(50);
  }
  await until(() => w.closed, "closed");
  eq(w.closed.code, 4001, "close code");
  assert(sent.some((s) => s.at < exp - 300), "some sends before exp");
  const acked = new Set(w.events("ack").map((a) => a.client_id));
  assert(acked.size > 0, "sends before exp were acked");
  const hist = await api(srv, "GET", "/v1/rooms/general/messages?limit=200", { tok: alice });
  const stored = new Set(hist.body.messages.filter((m) => m.sender === "erin").map((m) => m.client_id));
  for (const s of sent) {
    if (stored.has(s.id)) assert(s.at < exp, `${s.id} sent ${s.at - exp} ms after exp was stored`);
    if (acked.has(s.id)) assert(stored.has(s.id), `${s.id} acked but not stored`);
  }
});

test("an auth frame with a fresh token of the same user extends a WebSocket; others are refused", async () => {
  const fresh = long("fred");
  await api(srv, "GET", "/v1/rooms", { tok: fresh });
  const good = wsClient(srv, token("fred", 3));
  const bad = wsClient(srv, token("fred", 3));
  await good.ready();
  await bad.ready();
  good.send({ type: "auth", token: fresh });
  await until(() => good.events("auth").length === 1, "auth answered");
  assert(good.events("auth")[0].exp > Date.now() / 1000 + 3000, "the new exp");
  bad.send({ type: "auth", token: bob });
  bad.send({ type: "auth", token: "not.a.token" });
  bad.send({ type: "auth" });
  await until(() => bad.events("error").length === 3, "three refusals");
  const codes = bad.events("error").map((e) => e.error.code);
  eq(codes, ["permission_denied", "unauthenticated", "invalid_argument"]);
  await until(() => bad.closed, "the refused one still closes at its exp", 10000);
  eq(bad.closed.code, 4001);
  await sleep(1000); // past the first token's exp
  assert(!good.closed, "the renewed one stays open");
  good.send({ type: "send", room: "general", text: "after renewal", client_id: "renewed" });
  await until(() => good.events("ack").some((a) => a.client_id === "renewed"), "ack after renewal");
  await good.close();
});

test("an SSE stream ends with event: error unauthenticated at its token's exp", async () => {
  await api(srv, "GET", "/v1/rooms", { tok: long("gina") });
  const short = token("gina", 2);
  const r = await fetch(`${srv.url}/v1/events?token=${short}`);
  eq(r.status, 200);
  let text = "";
  const dec = new TextDecoder();
  const reader = r.body.getReader();
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return true;
      text += dec.decode(value, { stream: true });
    }
  })();
  const ended = await Promise.race([pump, sleep(15000).then(() => false)]);
  if (!ended) await reader.cancel();
  assert(ended, "the stream ended");
  const m = /event: error\ndata: (.*)\n\n$/.exec(text);
  assert(m, `an error event last: ${JSON.stringify(text.slice(-200))}`);
  eq(JSON.parse(m[1]).code, "unauthenticated");
  eq((await fetch(`${srv.url}/v1/events?token=${short}`)).status, 401);
});

test("a long-poll ends at its token's exp", async () => {
  await api(srv, "GET", "/v1/rooms", { tok: long("hank") });
  const short = token("hank", 2);
  const exp = expOf(short) * 1000;
  // Poll on (answers may come early, with presence events) until a poll
  // spans exp: it must end there, not at its 30 s timeout.
  let q = "timeout=30";
  for (;;) {
    const t0 = Date.now();
    const r = await poll(srv, short, q);
    const took = Date.now() - t0;
    if (r.status === 401) break;
    eq(r.status, 200);
    assert(took < 25000, `a poll ran ${took} ms, past its token's exp`);
    if (Date.now() >= exp + 1000) break;
    q = `timeout=30&cursor=${r.body.cursor}&session=${r.body.session}`;
  }
  eq((await poll(srv, short, "timeout=0")).status, 401);
});

// ---- closing: the close frame always goes out, and nothing spins ----

// A busy loop detector, not a speed test: an idle wait costs parleyd a few
// milliseconds, a spinning one all the CPU it gets (on a 2-core machine at
// a load of 10, still about a third of a core; the bound is a tenth).

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14 and 15)
}

const filler = (n) => {
  const parts = [];
  for (let i = 0; i < n; i++)
    parts.push(frame(1, JSON.stringify({ type: "send", room: "general", text: `after-close ${i} ${"x".repeat(400)}`, client_id: `after-close-${i}` })));
  return Buffer.concat(parts);
};

test("an oversized frame and more data: 1009, no busy loop while the close completes", async () => {
  const own = await startServer();
  const t = token("ivy");
  const c = await rawWs(own, t, "", { halfOpen: true });
  await until(() => c.texts().some((x) => x.type === "hello"), "hello");
  c.write(Buffer.concat([frame(1, Buffer.alloc(70 * 1024, 0x61)), filler(2000)]));
  await until(() => c.closeCode() === 1009, "1009");
  // The server now waits for our close; we keep the socket open and quiet.
  const pid = own.child.pid;
  const t0 = Date.now();
  const before = cpuTicks(pid);
  await sleep(3000);
  const used = (cpuTicks(pid) - before) / CLK_TCK;
  const wall = (Date.now() - t0) / 1000;
  console.log(`  close wait: parleyd used ${(used * 1000).toFixed(0)} ms CPU in ${(wall * 1000).toFixed(0)} ms`);
  assert(used < wall * 0.1, `parleyd busy during the close wait: ${used} s CPU in ${wall} s`);
  assert(!c.gone, "the server still waits for our close");
  // Our close completes the handshake: the server lets the connection go
  // (we never send a FIN ourselves).
  c.write(closeFrame(1000));
  await until(async () => (await pushOpen(own)) === 0, "the server ended the connection");
  c.sock.destroy();
  const hist = await api(own, "GET", "/v1/rooms/general/messages?limit=200", { tok: t });
  assert(!hist.body.messages.some((m) => /^after-close/.test(m.text)), "nothing after the refusal was processed");
  await own.stop();
  own.cleanup();
});

async function refusedThenMore(bad, code) {
  const c = await rawWs(srv, alice);
  await until(() => c.texts().some((x) => x.type === "hello"), "hello");
  // The refused frame, 16 KiB of frames after it, then the client's close,
  // in one write: the server reads all of it in one go.
  c.write(Buffer.concat([bad, filler(40), closeFrame(1000)]));
  await until(() => c.ended, "connection closed");
  eq(c.closeCode(), code, "the server's close frame arrived");
  const hist = await api(srv, "GET", "/v1/rooms/general/messages?limit=200", { tok: alice });
  assert(!hist.body.messages.some((m) => /^after-close/.test(m.text)), "nothing after the refusal was processed");
}

test("binary frame, more data and a close: the 1003 close frame is sent", () =>
  refusedThenMore(frame(2, "binary"), 1003));

test("invalid UTF-8, more data and a close: the 1007 close frame is sent", () =>
  refusedThenMore(frame(1, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), 1007));

test("a protocol error, more data and a close: the 1002 close frame is sent", () =>
  refusedThenMore(frame(1, '{"type":"ping"}', { mask: false }), 1002));

test("a protocol error followed by a stream of bytes: no busy loop, closed after the wait", async () => {
  const own = await startServer();
  const t = token("jill");
  const c = await rawWs(own, t, "", { halfOpen: true });
  await until(() => c.texts().some((x) => x.type === "hello"), "hello");
  c.write(Buffer.concat([frame(1, "{}", { rsv: 0x40 }), Buffer.alloc(1024 * 1024, 0x81)]));
  await until(() => c.closeCode() === 1002, "1002");
  const pid = own.child.pid;
  const t0 = Date.now();
  const before = cpuTicks(pid);
  await sleep(3000);
  const used = (cpuTicks(pid) - before) / CLK_TCK;
  const wall = (Date.now() - t0) / 1000;
  assert(used < wall * 0.1, `parleyd busy during the close wait: ${used} s CPU in ${wall} s`);
  await until(async () => (await pushOpen(own)) === 0, "the server ended it after the close wait", 15000);
  c.sock.destroy();
  await own.stop();
  own.cleanup();
});

await run("pushlimits");
