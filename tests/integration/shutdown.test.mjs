// parleyd's stop on SIGTERM, many times over (SHUTDOWN_ROUNDS, 20): every
// open WebSocket gets the close frame 1001 ("going away") before its
// socket closes.  Each round has five clients: two keep 40 big messages in
// flight, one chats, one only listens, and one reads nothing until a while
// after the SIGTERM (every fourth round long enough for the server's
// writes to it to block, so its close frame waits in the server's queue).
// Measured: how long each stop took; asserted: the close codes, exit 0.
import { eq, requireNode, run, sleep, startServer, test, token, until } from "./lib.mjs";

const WebSocket = requireNode("ws");
const ROUNDS = Number(process.env.SHUTDOWN_ROUNDS || 20);
const users = ["ann", "ben", "cid", "dee", "eve"];
const tokens = Object.fromEntries(users.map((u) => [u, token(u)]));

function client(srv, user, { slow = false } = {}) {
  const ws = new WebSocket(`${srv.ws}/v1/ws?token=${tokens[user]}`);
  const c = { user, ws, code: null, hello: false, error: null, acks: 0 };
  ws.on("message", (d) => {
    const f = JSON.parse(d.toString());
    if (f.type === "hello") c.hello = true;
    if (f.type === "ack") c.acks++;
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

test(`SIGTERM ${ROUNDS} times: every WebSocket gets close code 1001`, async () => {
  const problems = [];
  const took = [];
  const big = "x".repeat(4000);
  for (let round = 0; round < ROUNDS; round++) {
    const srv = await startServer({ args: ["--post-rate", "0"] });
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
  }
  took.sort((a, b) => a - b);
  console.log(`     stop took: median ${took[took.length >> 1]} ms, max ${took[took.length - 1]} ms`);
  eq(problems, [], "every client, every round: close code 1001");
});

await run("shutdown");
