// tests/wsecho (an RFC 6455 echo server on push/ws.c, the framing parleyd
// runs) against the `ws` npm client and hand-made frames: text, binary,
// fragmented messages with a ping between the fragments, the close
// handshake, and the closes for bad UTF-8 and unmasked frames. The same
// program is what conformance suites are pointed at (tests/README.md).
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { assert, eq, freePort, PARLEYD, requireNode, run, sleep, test, until } from "./lib.mjs";
import { frame, rawWs } from "./clients.mjs";

const WebSocket = requireNode("ws");
const WSECHO = process.env.WSECHO || path.join(path.dirname(PARLEYD), "tests/wsecho");
const port = await freePort();
const child = spawn(WSECHO, ["--listen", `127.0.0.1:${port}`], { stdio: ["ignore", "ignore", "pipe"] });
let log = "";
child.stderr.on("data", (d) => (log += d));
await until(() => new Promise((r) => {
  const s = net.connect(port, "127.0.0.1", () => { s.destroy(); r(true); });
  s.on("error", () => r(false));
}), "wsecho to listen");
const srv = { port, ws: `ws://127.0.0.1:${port}` };

function client() {
  const ws = new WebSocket(`${srv.ws}/echo`);
  const c = { ws, got: [], closed: null };
  ws.on("message", (d, binary) => c.got.push({ binary, data: Buffer.from(d) }));
  ws.on("close", (code, reason) => (c.closed = { code, reason: reason.toString() }));
  ws.on("error", () => {});
  c.open = () => new Promise((r, j) => { ws.on("open", r); ws.on("error", j); });
  return c;
}

test("text and binary messages come back as sent", async () => {
  const c = client();
  await c.open();
  const big = Buffer.alloc(200 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  c.ws.send("héllo ☃");
  c.ws.send(Buffer.from([0, 1, 2, 255]), { binary: true });
  c.ws.send(big, { binary: true });
  c.ws.send("");
  await until(() => c.got.length === 4, "four echoes");
  eq(c.got[0].binary, false);
  eq(c.got[0].data.toString(), "héllo ☃");
  eq([...c.got[1].data], [0, 1, 2, 255]);
  assert(c.got[1].binary, "binary stays binary");
  assert(c.got[2].data.equals(big), "200 KiB binary echoed intact");
  eq(c.got[3].data.length, 0);
  c.ws.close(1000, "bye");
  await until(() => c.closed, "close");
  eq(c.closed.code, 1000, "the server answered the close with its code");
});

test("a fragmented message with a ping between its fragments: pong, then one echo", async () => {
  const r = await rawWs(srv, "x");
  r.write(Buffer.concat([
    frame(1, "frag", { fin: false }),
    frame(9, "are you there"),
    frame(0, "men", { fin: false }),
    frame(0, "ted ✓", { fin: true }),
  ]));
  await until(() => r.frames.some((f) => f.opcode === 1), "the echo");
  const ops = r.frames.map((f) => f.opcode);
  eq(ops, [10, 1], "a pong, then the text");
  eq(r.frames[0].payload.toString(), "are you there");
  eq(r.frames[1].payload.toString(), "fragmented ✓");
  assert(r.frames[1].fin, "echoed as one frame");
  r.write(frame(8, Buffer.from([0x03, 0xe8])));
  await until(() => r.closeFrame() && r.ended, "close handshake and TCP close");
  eq(r.closeCode(), 1000);
});

test("invalid UTF-8 closes with 1007, and nothing after it is answered", async () => {
  const r = await rawWs(srv, "x");
  r.write(Buffer.concat([frame(1, Buffer.from([0x68, 0xc3, 0x28])), frame(1, "after")]));
  await until(() => r.closeFrame(), "close frame");
  eq(r.closeCode(), 1007);
  await sleep(200);
  eq(r.frames.filter((f) => f.opcode === 1).length, 0, "the frame after the error was echoed");
  r.write(frame(8, Buffer.from([0x03, 0xe8])));
  await until(() => r.ended, "TCP close");
});

test("an unmasked frame closes with 1002; a continuation with no message too", async () => {
  const a = await rawWs(srv, "x");
  a.write(frame(1, "hi", { mask: false }));
  await until(() => a.closeFrame(), "close frame");
  eq(a.closeCode(), 1002);
  const b = await rawWs(srv, "x");
  b.write(frame(0, "orphan"));
  await until(() => b.closeFrame(), "close frame");
  eq(b.closeCode(), 1002);
  a.sock.destroy();
  b.sock.destroy();
});

test("a close with an invalid code (1005 on the wire) is a protocol error", async () => {
  const r = await rawWs(srv, "x");
  r.write(frame(8, Buffer.from([0x03, 0xed])));
  await until(() => r.closeFrame(), "close frame");
  eq(r.closeCode(), 1002);
  r.sock.destroy();
});

test("wsecho stayed sanitizer-clean", async () => {
  const m = /(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:)[^\n]*/.exec(log);
  assert(!m, m && m[0]);
});

await run("wsecho");
child.kill();
