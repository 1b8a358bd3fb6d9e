// Socket.IO across two parleyd nodes on one Redis: messages and typing
// between socket.io-client sockets on different nodes, and connection state
// recovery on the other node (the client reconnects to B with the pid and
// offset it got from A, and gets what it missed, once, in order).
import { api, assert, eq, requireNode, run, sleep, test, until } from "../integration/lib.mjs";
import { startNode, users } from "./lib.mjs";

const { io } = requireNode("socket.io-client");
const A = await startNode();
const B = await startNode();
const tok = await users(A, ["sioa", "siob", "sioc"]);

const open = [];
async function client(srv, user, opts = {}) {
  const s = io(srv.url, { auth: { token: tok[user] }, reconnection: false, forceNew: true, ...opts });
  open.push(s);
  s.got = [];
  s.onAny((name, ...args) => s.got.push([name, ...args]));
  s.named = (name) => s.got.filter((e) => e[0] === name);
  await new Promise((resolve, reject) => (s.once("connect", resolve), s.once("connect_error", reject)));
  return s;
}

test("socket.io: a message and typing from a socket on node A reach a socket on node B", async () => {
  const a = await client(A, "sioa");
  const b = await client(B, "siob", { transports: ["polling"] });
  const m = await a.timeout(10000).emitWithAck("send_message", { chatId: "general", content: "across nodes" });
  assert(m.id > 0, JSON.stringify(m));
  await until(() => b.named("receive_message").some((e) => e[1].id === m.id), "message on B");
  a.emit("typing", { chatId: "general" });
  await until(() => b.named("typing").some((e) => e[1].user === "sioa"), "typing on B");
  const back = await b.timeout(10000).emitWithAck("send_message", { chatId: "general", content: "and back" });
  await until(() => a.named("receive_message").some((e) => e[1].id === back.id), "B's message on A");
  await sleep(300);
  eq(b.named("receive_message").filter((e) => e[1].id === m.id).length, 1, "once");
  for (const s of open.splice(0)) s.close();
});

test("socket.io: recovery on the other node (pid and offset from A, reconnect to B)", async () => {
  const s = await client(A, "sioc", { transports: ["websocket"] });
  const first = (await api(A, "POST", "/v1/rooms/general/messages", { tok: tok.sioa, body: { text: "seen on A" } })).body;
  await until(() => s.named("receive_message").some((e) => e[1].id === first.id), "first on A");
  s.io.engine.close();
  await until(() => !s.connected, "disconnected");
  const missed = [];
  for (let i = 0; i < 3; i++)
    missed.push((await api(A, "POST", "/v1/rooms/general/messages", { tok: tok.sioa, body: { text: `missed ${i}` } })).body.id);
  s.io.uri = B.url; // the load balancer sends the reconnect to B
  s.connect();
  await until(() => s.connected, "reconnected to B");
  eq(s.recovered, true, "recovered on B");
  await until(() => missed.every((id) => s.named("receive_message").some((e) => e[1].id === id)), "missed messages");
  const ids = s.named("receive_message").map((e) => e[1].id).filter((id) => id >= first.id);
  eq(ids, [first.id, ...missed], "each once, in order");
  for (const x of open.splice(0)) x.close();
});

await run("redis-socketio");
