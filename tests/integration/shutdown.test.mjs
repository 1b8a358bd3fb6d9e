// parleyd's stop on SIGTERM, many times over (SHUTDOWN_ROUNDS, 20): every
// open WebSocket gets the close frame 1001 ("going away") before its
// socket closes.  Each round has five clients: two keep 40 big messages in
// flight, one chats, one only listens, and one reads nothing until a while
// after the SIGTERM (every fourth round long enough for the server's
// writes to it to block, so its close frame waits in the server's queue).
// Measured: how long each stop took; asserted: the close codes, exit 0.
//
// Also every round: every send is either acknowledged before the close
// frame or not stored at all (the server restarted on the same data
// folder, every stored client_id must have had its ack), and two REST
// clients on keep-alive connections, one asking without pause and one
// idle, are never reset: the busy one gets 503 unavailable JSON with
// "Connection: close" for the request it made during the stop, then the
// close; the idle one a clean close.
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { api, eq, requireNode, run, sleep, startServer, test, token, until } from "./lib.mjs";

const WebSocket = requireNode("ws");
const ROUNDS = Number(process.env.SHUTDOWN_ROUNDS || 20);
const users = ["ann", "ben", "cid", "dee", "eve"];
const tokens = Object.fromEntries(users.map((u) => [u, token(u)]));

function client(srv, user, { slow = false } = {}) {
  const ws = new WebSocket(`${srv.ws}/v1/ws?token=${tokens[user]}`);
  const c = { user, ws, code: null, hello: false, error: null, acks: 0, acked: new Set() };
  ws.on("message", (d) => {
    const f = JSON.parse(d.toString());
    if (f.type === "hello") c.hello = true;
    if (f.type === "ack") {
      c.acks++;
      c.acked.add(f.client_id);
    }
  });
  ws.on("close", (code) => (c.code = code));
  ws.on("error", (e) => (c.error = e.code || e.message));
  if (slow) {
    // Reads nothing until told: the server's writes to it back up.
    ws.once("upgrade", (res) => res.socket.pause());
    c.resume = () => ws._socket && ws._socket.resume();
  }
  return c;
}

/** An HTTP/1.1 keep-alive client on one socket. busy: asks again as soon
 * as it has an answer (a request is nearly always in flight); otherwise
 * asks once.  Records the answers' statuses and what went wrong. */
function restClient(srv, tok, { busy }) {
  const sock = net.connect(srv.port, "127.0.0.1");
  const r = { statuses: [], problems: [], got503: false, ended: false, outstanding: false, stop: false };
  let buf = Buffer.alloc(0);
  const ask = () => {
    if (r.stop || sock.destroyed) return;
    r.outstanding = true;
    sock.write(`GET /v1/rooms/general/messages?limit=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok}\r\n\r\n`);
  };
  sock.on("connect", ask);
  sock.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buf.subarray(0, end).toString();
      const len = Number((/\r\ncontent-length: *(\d+)/i.exec(head) || [])[1] || 0);
      if (buf.length < end + 4 + len) return;
      const body = buf.subarray(end + 4, end + 4 + len).toString();
      buf = buf.subarray(end + 4 + len);
      r.outstanding = false;
      const status = Number(head.split(" ")[1]);
      r.statuses.push(status);
      if (status === 503) {
        r.got503 = true;
        let json = null;
        try {
          json = JSON.parse(body);
        } catch {}
        if (!json || !json.error || json.error.code !== "unavailable") r.problems.push(`503 body ${body.slice(0, 80)}`);
        if (!/\r\nconnection: *close/i.test(head)) r.problems.push("503 without Connection: close");
      } else if (status !== 200) {
        r.problems.push(`status ${status}`);
      } else if (busy) {
        ask();
      }
    }
  });
  sock.on("error", (e) => r.problems.push(`${e.code || e.message}${r.outstanding ? " with a request in flight" : ""}`));
  sock.on("close", () => {
    r.ended = true;
    if (buf.length) r.problems.push(`closed in the middle of an answer (${buf.length} bytes)`);
    else if (r.outstanding) r.problems.push("closed with a request unanswered");
  });
  r.close = () => sock.destroy();
  return r;
}

/** Every message of general, oldest first, read after a restart. */
async function stored(srv, tok) {
  const all = [];
  let after = 0;
  for (;;) {
    const h = await api(srv, "GET", `/v1/rooms/general/messages?after=${after}&limit=200`, { tok });
    if (h.status !== 200) throw new Error(`history: ${h.status} ${h.text}`);
    all.push(...h.body.messages);
    if (!h.body.has_more) return all;
    after = h.body.messages[h.body.messages.length - 1].id;
  }
}

/** Keeps `window` sends in flight until the socket closes. */
function keepSending(c, text, window = 40) {
  let n = 0;
  const more = () => {
    while (c.ws.readyState === WebSocket.OPEN && n - c.acks < window)
      c.ws.send(JSON.stringify({ type: "send", room: "general", text, client_id: `${c.user}-${n++}` }));
  };
  c.ws.on("message", more);
  more();
}

test(`SIGTERM ${ROUNDS} times: every WebSocket gets close code 1001 after the acks of its stored sends; keep-alive REST gets 503 + close, never a reset`, async () => {
  const problems = [];
  const took = [];
  const restSeen = [];
  const stores = [];
  const big = "x".repeat(4000);
  for (let round = 0; round < ROUNDS; round++) {
    const data = mkdtempSync(path.join(tmpdir(), "parley-stop-"));
    const srv = await startServer({ args: ["--post-rate", "0"], dataDir: data });
    const cs = [client(srv, "ann"), client(srv, "ben"), client(srv, "cid"), client(srv, "dee"),
      client(srv, "eve", { slow: true })];
    // (The slow reader reads no hello: open is all it gets.)
    await until(() => cs.slice(0, 4).every((c) => c.hello) && cs[4].ws.readyState === WebSocket.OPEN,
      "the clients to open");
    // Two send big messages without pause (the slow reader's buffers fill
    // up), the others chat.
    keepSending(cs[0], big);
    keepSending(cs[1], big);
    keepSending(cs[2], "hi");
    // Every fourth round, long enough for the slow reader's socket
    // buffers to fill up and its queue in the server to grow.
    const flow = round % 4 === 3 ? 500 : 20;
    await until(() => cs[0].acks > flow && cs[1].acks > flow, "sends to flow");
    const busyRest = restClient(srv, tokens.dee, { busy: true });
    const idleRest = restClient(srv, tokens.dee, { busy: false });
    await until(() => busyRest.statuses.length > 2 && idleRest.statuses.length === 1, "the REST clients to be answered");
    const t0 = Date.now();
    srv.child.kill("SIGTERM");
    // The slow reader starts reading again after a while; the server must
    // still be waiting to hand it its close frame.
    await sleep(round % 2 ? 50 : 300);
    cs[4].resume();
    const closed = await until(() => cs.every((c) => c.code !== null), "every client closed", 30000)
      .then(() => true, (e) => (problems.push(`round ${round}: ${e.message}`), false));
    const exit = await srv.exited;
    took.push(Date.now() - t0);
    await srv.stop();
    srv.cleanup();
    if (exit.code !== 0) problems.push(`round ${round}: exit ${exit.code} ${exit.sig || ""}`);
    if (closed) {
      for (const c of cs)
        if (c.code !== 1001) problems.push(`round ${round}: ${c.user} got ${c.code}${c.error ? ` (${c.error})` : ""}`);
    }
    for (const c of cs) if (c.ws.readyState !== WebSocket.CLOSED) c.ws.terminate();
    // The REST clients: the busy one answered 503 for the request it made
    // during the stop, then closed; neither reset.
    await until(() => busyRest.ended && idleRest.ended, "the REST connections to close", 10000)
      .catch((e) => problems.push(`round ${round}: ${e.message}`));
    busyRest.stop = true;
    for (const [what, r] of [["busy", busyRest], ["idle", idleRest]]) {
      for (const p of r.problems) problems.push(`round ${round}: ${what} REST client: ${p}`);
      r.close();
    }
    if (!busyRest.got503) problems.push(`round ${round}: busy REST client saw no 503 (${busyRest.statuses.slice(-3)})`);
    restSeen.push(busyRest.statuses.length);
    // Every stored send was acknowledged (the rest were not stored).
    const again = await startServer({ args: ["--post-rate", "0"], dataDir: data });
    const msgs = await stored(again, tokens.ann);
    let storedSends = 0;
    for (const c of cs.slice(0, 3)) {
      const mine = msgs.filter((m) => m.sender === c.user && m.client_id);
      storedSends += mine.length;
      const unacked = mine.filter((m) => !c.acked.has(m.client_id));
      if (unacked.length)
        problems.push(`round ${round}: ${c.user}: ${unacked.length} of ${mine.length} stored sends never acked (${unacked.slice(0, 3).map((m) => m.client_id)})`);
    }
    stores.push(storedSends);
    await again.stop();
    rmSync(data, { recursive: true, force: true });
  }
  took.sort((a, b) => a - b);
  console.log(`     stop took: median ${took[took.length >> 1]} ms, max ${took[took.length - 1]} ms`);
  console.log(`     sends stored and acked per round: ${stores.join(" ")}; busy REST answers per round: ${restSeen.join(" ")}`);
  eq(problems, [], "every client, every round: close code 1001, every stored send acked, no REST reset");
});

await run("shutdown");
