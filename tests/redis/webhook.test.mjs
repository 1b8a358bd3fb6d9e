// Webhooks on two nodes sharing Redis and one store: each event (stored or
// presence) is delivered once, whichever node queued it, and a node's
// kill -9 loses none.
import { wsClient } from "../integration/clients.mjs";
import { api, eq, run, sleep, test, until } from "../integration/lib.mjs";
import { receiver } from "../integration/receiver.mjs";
import { startNode, users } from "./lib.mjs";

const SECRET = "webhook-test-secret-0123456789abcdef";
const rc = await receiver(SECRET);
const env = {
  PARLEY_WEBHOOK_URL: rc.url,
  PARLEY_WEBHOOK_SECRET: SECRET,
  PARLEY_WEBHOOK_EVENTS: "presence,message.created",
};
const A = await startNode(env);
const B = await startNode(env);
const tok = await users(A, ["hk_ann", "hk_ben"]);

test("two nodes: every message and every presence transition delivered once", async () => {
  const sent = [];
  for (let i = 0; i < 30; i++) {
    const srv = i % 2 ? A : B;
    const r = await api(srv, "POST", "/v1/rooms/general/messages", { tok: tok.hk_ann, body: { text: `two nodes ${i}` } });
    eq(r.status, 201, r.text);
    sent.push(r.body.id);
  }
  const ben = wsClient(B, tok.hk_ben); // online on B, then offline
  await ben.ready();
  await ben.close();
  await until(() => rc.delivered((b) => b.type === "message.created").length === 30, "30 messages", 30000);
  await until(() => rc.delivered((b) => b.type === "presence" && b.data.user === "hk_ben" && b.data.status === "offline").length === 1,
    "ben offline", 30000);
  await sleep(1500); // a duplicate would come now
  const ok = rc.got.filter((d) => d.ok);
  const ids = ok.map((d) => d.body.id);
  eq(new Set(ids).size, ids.length, "no delivery succeeded twice");
  eq(rc.delivered((b) => b.type === "message.created").map((b) => b.data.id), sent, "each message once, in order (one sender)");
  eq(rc.delivered((b) => b.type === "presence" && b.data.user === "hk_ben").map((b) => b.data.status), ["online", "offline"],
    "ben: one delivery per transition across the nodes");
});

await run("redis webhook");
await rc.close();
