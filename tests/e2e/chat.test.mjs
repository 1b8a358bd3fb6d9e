#!/usr/bin/env node
// End-to-end test of the web client (www/) against a running parleyd.
//
//   PARLEY_URL=http://127.0.0.1:8080 node tests/e2e/chat.test.mjs
//
// Without PARLEY_URL it starts ./parleyd --dev on a free port itself
// (PARLEYD=/path/to/parleyd to use another binary).
// Needs playwright-core (tests/node: npm install) and Debian's chromium.
// Two browser contexts, alice and bob, chat three times: over WebSocket, with
// the WebSocket broken (the client falls back to SSE), and with WebSocket and
// SSE broken (long-poll). Prints one line per check; the last line is
// "e2e: N passed, N failed"; exits non-zero on any failure.
import { createRequire } from "node:module";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(path.join(ROOT, "tests/node/package.json"));
const { chromium } = require("playwright-core");

const T = Number(process.env.E2E_TIMEOUT_MS || 30000); // one condition
const SLOW = 3 * T; // presence grace, reconnects
// The README's picture is refreshed on request (SCREENSHOT=docs/screenshot.png);
// a plain run leaves the tree as it found it.
const SCREENSHOT = path.resolve(ROOT, process.env.SCREENSHOT || ".build/logs/screenshot.png");
const MODES = (process.env.E2E_MODES ?? "ws,sse,poll").split(",").filter((m) => ["ws", "sse", "poll"].includes(m));

let passed = 0;
let failed = 0;
const log = (s) => console.log(s);

async function check(name, fn) {
  try {
    await fn();
    passed++;
    log(`ok   ${name}`);
    return true;
  } catch (e) {
    failed++;
    log(`FAIL ${name}: ${String(e && e.message ? e.message : e).split("\n")[0]}`);
    if (process.env.E2E_DEBUG) for (const u of USERS) for (const l of u.console.slice(-40)) log(`#   ${l}`);
    return false;
  }
}

/** Polls fn until it returns a truthy value. */
async function until(fn, what, timeout = T) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (${last.message.split("\n")[0]})` : ""}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const visible = (loc, timeout = T) => loc.first().waitFor({ state: "visible", timeout });

async function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
    s.on("error", rej);
  });
}

async function startServer() {
  if (process.env.PARLEY_URL) return { url: process.env.PARLEY_URL.replace(/\/+$/, ""), stop: async () => {} };
  const port = await freePort();
  const data = mkdtempSync(path.join(tmpdir(), "parley-e2e-"));
  const proc = spawn(process.env.PARLEYD || path.join(ROOT, "parleyd"), ["--dev", "--listen", `127.0.0.1:${port}`, "--data", data, "--www", path.join(ROOT, "www")], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  proc.on("exit", (code) => code && log(`# parleyd exited with ${code}: ${stderr.trim().split("\n").pop()}`));
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      proc.kill("SIGTERM");
      await new Promise((r) => (proc.exitCode != null ? r() : proc.on("exit", r)));
      rmSync(data, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------ page helpers

const LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const USERS = [];

class User {
  constructor(name, ctx, page) {
    this.name = name;
    this.ctx = ctx;
    this.page = page;
    this.errors = [];
    page.on("pageerror", (e) => this.errors.push(String(e)));
    this.console = [];
    page.on("console", (m) => {
      // The server's Content-Security-Policy must not stop anything the client does.
      if (/Content Security Policy/i.test(m.text())) this.errors.push(m.text());
      this.console.push(`${new Date().toISOString().slice(11, 23)} ${name}: ${m.text()}`);
      if (this.console.length > 300) this.console.shift();
    });
    USERS.push(this);
  }
  $(sel) {
    return this.page.locator(sel);
  }
  msg(text) {
    return this.page.locator("#message-list li.msg").filter({ hasText: text });
  }
  async transport() {
    return this.$("#conn").getAttribute("data-transport");
  }
  async waitOpen(expected, timeout = SLOW) {
    await until(async () => (await this.$("#conn").getAttribute("data-state")) === "open", `${this.name}'s connection to open`, timeout);
    const t = await this.transport();
    if (expected && t !== expected) throw new Error(`${this.name} is connected with ${t}, expected ${expected}`);
  }
  async token() {
    return this.page.evaluate(() => sessionStorage.getItem("parley.token"));
  }
}

async function signIn(browser, base, name, { blockWs = false, blockSse = false, wsHook = null, query = "" } = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  if (blockWs) {
    // A proxy that kills WebSocket connections: the socket "opens" and is closed at once.
    await ctx.routeWebSocket(/\/v1\/ws/, (ws) => ws.close({ code: 1011, reason: "blocked by test" }));
  } else if (wsHook) {
    await ctx.routeWebSocket(/\/v1\/ws/, wsHook);
  }
  if (blockSse) await ctx.route(/\/v1\/events/, (route) => route.abort("connectionrefused"));
  const page = await ctx.newPage();
  const u = new User(name, ctx, page);
  await page.goto(base + "/" + (query || (process.env.E2E_DEBUG ? "?debug" : "")));
  await visible(page.locator("#dev-name"));
  await page.locator("#dev-name").fill(name);
  await page.locator("#dev-name").press("Enter");
  await visible(page.locator("#app"));
  return u;
}

async function send(u, text) {
  const input = u.$("#composer-input");
  await input.click();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (i) await input.press("Shift+Enter");
    await input.pressSequentially(lines[i], { delay: 5 });
  }
  await input.press("Enter");
}

/** Types text, then keeps nudging the box (a space and its deletion) until the other page shows the typing line. */
async function typeUntilSeen(typer, watcher, text) {
  const input = typer.$("#composer-input");
  await input.click();
  await input.pressSequentially(text, { delay: 15 });
  const want = `${typer.name} is typing`;
  await until(async () => {
    if ((await watcher.$("#typing").textContent()).includes(want)) return true;
    await input.press("Space");
    await input.press("Backspace");
    return false;
  }, `"${want}" on ${watcher.name}'s page`);
}

async function textOf(loc) {
  return (await loc.first().locator(".text").textContent()) ?? "";
}

// ------------------------------------------------------------------ scenario

async function scenario(browser, base, mode) {
  const expected = { ws: "ws", sse: "sse", poll: "poll" }[mode];
  const opts = { blockWs: mode !== "ws", blockSse: mode === "poll" };
  const tag = `[${mode}]`;
  const suffix = Math.random().toString(36).slice(2, 6);
  const roomName = mode === "ws" ? "Launch review" : `Launch review (${mode} ${suffix})`;
  let alice, bob, roomId;

  // In WebSocket mode bob's socket runs through a relay that can drop the
  // connection right after a send frame, before the ack comes back.
  const relay = { dropNextSend: false, dropped: 0, block: false, open: new Set() };
  const wsHook =
    mode === "ws"
      ? (ws) => {
          if (relay.block) return ws.close({ code: 1013, reason: "test: server unreachable" });
          const server = ws.connectToServer();
          relay.open.add(ws);
          ws.onMessage((m) => {
            server.send(m);
            if (relay.dropNextSend && typeof m === "string" && m.includes('"type":"send"')) {
              relay.dropNextSend = false;
              relay.dropped++;
              ws.close({ code: 4000, reason: "test drops the connection" });
              server.close();
            }
          });
          server.onMessage((m) => ws.send(m));
          server.onClose((code, reason) => ws.close({ code: code === 1005 || code === 1006 ? 1000 : code, reason }));
          ws.onClose(() => {
            relay.open.delete(ws);
            server.close();
          });
        }
      : null;

  const ok = await check(`${tag} alice signs in and connects over ${expected}`, async () => {
    alice = await signIn(browser, base, "alice", opts);
    await alice.waitOpen(expected);
  });
  if (!ok) return;
  if (!(await check(`${tag} bob signs in and connects over ${expected}`, async () => {
    bob = await signIn(browser, base, "bob", { ...opts, wsHook });
    await bob.waitOpen(expected);
  }))) return;

  await check(`${tag} alice creates a public room`, async () => {
    await alice.$("#new-room-btn").click();
    await alice.$("#room-name").fill(roomName);
    await alice.$("#room-form button[type=submit]").click();
    await until(async () => (await alice.$("#room-title").textContent()).includes(roomName), "the new room to open");
    roomId = await alice.$(".room-item[aria-current=true]").getAttribute("data-room");
    if (!roomId) throw new Error("no current room in the sidebar");
  });
  if (!roomId) return;

  await check(`${tag} bob finds the room in the public list and joins`, async () => {
    await bob.$("#browse-btn").click();
    const join = bob.$(`#browse-list li[data-room="${roomId}"] button`);
    await visible(join);
    await join.click();
    await until(async () => (await bob.$("#room-title").textContent()).includes(roomName), "bob's room to open");
    await visible(bob.$(`#room-list .room-item[data-room="${roomId}"]`));
  });

  await check(`${tag} alice sees bob join and online`, async () => {
    await visible(alice.$(`#member-list li[data-user="bob"] .dot[data-status="online"]`), SLOW);
  });

  await check(`${tag} bob sees alice's status change to busy, then online`, async () => {
    await visible(bob.$(`#member-list li[data-user="alice"] .dot[data-status="online"]`), SLOW);
    await alice.$("#status-select").selectOption("busy");
    await visible(bob.$(`#member-list li[data-user="alice"] .dot[data-status="busy"]`), SLOW);
    await until(async () => (await bob.$(`#member-list li[data-user="alice"] .ustatus`).textContent()) === "Busy", "the status text");
    await alice.$("#status-select").selectOption("online");
    await visible(bob.$(`#member-list li[data-user="alice"] .dot[data-status="online"]`), SLOW);
  });

  await check(`${tag} alice sees "bob is typing…"`, async () => {
    await typeUntilSeen(bob, alice, "Hi alice! Ready for the launch review?");
  });

  await check(`${tag} bob's message reaches alice, typing ends`, async () => {
    await bob.$("#composer-input").press("Enter");
    await visible(alice.msg("Hi alice! Ready for the launch review?"));
    const m = alice.msg("Hi alice! Ready for the launch review?");
    if ((await m.getAttribute("data-sender")) !== "bob") throw new Error("sender is not bob");
    const sender = await m.locator(".sender").textContent();
    if (sender !== "bob") throw new Error(`sender label is ${sender}`);
    await until(async () => !(await alice.$("#typing").textContent()).includes("bob"), "the typing indicator to clear");
  });

  const aliceText = "Yes! <b>Tags</b> stay text <img src=x onerror=alert(1)>\nSecond line";
  await check(`${tag} alice's typing and message reach bob (Shift+Enter makes a new line)`, async () => {
    await typeUntilSeen(alice, bob, "Yes!");
    await alice.$("#composer-input").fill("");
    await send(alice, aliceText);
    await visible(bob.msg("Second line"));
  });

  await check(`${tag} text is rendered as text, never as HTML`, async () => {
    const m = bob.msg("Second line");
    const t = await textOf(m);
    if (t !== aliceText) throw new Error(`text is ${JSON.stringify(t)}`);
    if ((await m.locator(".text b, .text img").count()) !== 0) throw new Error("HTML was injected");
  });

  await check(`${tag} alice's message shows ✓✓ read once bob has seen it`, async () => {
    await visible(alice.msg("Second line").locator('.receipt[data-receipt="read"]'), SLOW);
  });

  await check(`${tag} alice edits her message; bob sees the edit`, async () => {
    const m = alice.msg("Second line");
    await m.hover();
    await m.getByRole("button", { name: "Edit message" }).click();
    const ta = alice.$("#message-list textarea");
    await visible(ta);
    await ta.fill("Yes! The checklist is in the wiki.\nSecond line");
    await ta.press("Enter");
    await until(async () => (await textOf(bob.msg("Second line"))).startsWith("Yes! The checklist"), "the edited text on bob's page");
    await visible(bob.msg("Second line").locator(".edited"));
  });

  if (mode === "ws") {
    await check(`${tag} keyboard: Up in the empty box edits the last own message, Escape cancels`, async () => {
      const input = alice.$("#composer-input");
      await input.click();
      await input.press("ArrowUp");
      const ta = alice.$("#message-list textarea");
      await visible(ta);
      if ((await ta.inputValue()) !== "Yes! The checklist is in the wiki.\nSecond line") throw new Error(`editor holds ${await ta.inputValue()}`);
      await ta.press("Escape");
      await until(async () => (await alice.$("#message-list textarea").count()) === 0, "the editor to close");
      await until(() => input.evaluate((n) => document.activeElement === n), "focus back in the message box");
    });
  }

  await check(`${tag} bob deletes his own message; alice sees the placeholder`, async () => {
    await send(bob, "Oops, wrong window");
    await visible(alice.msg("Oops, wrong window"));
    const m = bob.msg("Oops, wrong window").locator("xpath=self::*[@data-id]");
    await visible(m);
    const id = await m.getAttribute("data-id");
    await m.hover();
    await m.getByRole("button", { name: "Delete message" }).click();
    await bob.$("#confirm-ok").click();
    await visible(alice.$(`#message-list li.msg.deleted[data-id="${id}"]`));
    const t = await alice.$(`#message-list li.msg[data-id="${id}"] .text`).textContent();
    if (!/deleted/i.test(t)) throw new Error(`placeholder is ${t}`);
    if ((await alice.msg("Oops, wrong window").count()) !== 0) throw new Error("the deleted text is still shown");
  });

  if (mode === "ws") {
    await check(`${tag} a send whose ack was lost is retried after reconnecting and stored once`, async () => {
      relay.dropNextSend = true;
      await send(bob, "Sent across a dropped connection");
      await until(() => relay.dropped === 1, "the relay to drop the connection");
      await bob.waitOpen("ws");
      await visible(bob.msg("Sent across a dropped connection").locator(".receipt:not([data-receipt=pending])"), SLOW);
      await visible(alice.msg("Sent across a dropped connection"));
      const token = await bob.token();
      const h = await fetch(`${base}/v1/rooms/${encodeURIComponent(roomId)}/messages?limit=50`, { headers: { Authorization: "Bearer " + token } }).then((r) => r.json());
      const n = h.messages.filter((m) => m.text === "Sent across a dropped connection").length;
      if (n !== 1) throw new Error(`the server stored it ${n} times`);
      await until(async () => (await alice.msg("Sent across a dropped connection").count()) === 1, "exactly one copy on alice's page");
      if ((await bob.msg("Sent across a dropped connection").count()) !== 1) throw new Error("bob's page shows it more than once");
    });

    await check(`${tag} a DM from alice shows as unread for bob`, async () => {
      const dm = bob.$("#dm-list .room-item").filter({ hasText: "alice" });
      const badge = async () => ((await dm.count()) && (await dm.locator(".badge").count()) ? await dm.locator(".badge").textContent() : "0");
      const before = Number(await badge()); // the DM may exist from an earlier run
      try {
        await alice.$("#new-dm-btn").click();
        await alice.$("#dm-user").fill("bob");
        await alice.$("#dm-form button[type=submit]").click();
        await until(async () => (await alice.$("#room-title").textContent()).includes("bob"), "the DM to open");
        await send(alice, "psst, got a minute?");
        await until(async () => (await badge()) === String(before + 1), `bob's unread badge to show ${before + 1}`);
        await dm.click();
        await visible(bob.msg("psst, got a minute?"));
        await until(async () => (await dm.locator(".badge").count()) === 0, "the badge to clear");
        await visible(alice.msg("psst, got a minute?").last().locator('.receipt[data-receipt="read"]'), SLOW);
      } finally {
        // back to the room for the next checks
        await bob.$(`#room-list .room-item[data-room="${roomId}"]`).click();
        await alice.$(`#room-list .room-item[data-room="${roomId}"]`).click();
        await visible(alice.msg("Second line"));
      }
    });
  }

  await check(`${tag} after an outage bob reconnects and gets what he missed, once, in order`, async () => {
    // every transport fails for bob for a while: WebSocket (relay), SSE, long-poll
    relay.block = true;
    const outage = /\/v1\/(events|poll)/;
    await bob.ctx.route(outage, (route) => route.abort("internetdisconnected"));
    await bob.page.evaluate(() => {
      const c = document.getElementById("conn");
      window.__connStates = [];
      new MutationObserver(() => window.__connStates.push(c.dataset.state + " " + c.querySelector(".conn-text").textContent)).observe(c, { attributes: true, subtree: true, childList: true });
    });
    for (const ws of relay.open) ws.close({ code: 1012, reason: "test: server restart" });
    await bob.page.evaluate(() => window.parley.transport !== "ws" && window.parley.reconnect());
    await until(async () => (await bob.$("#conn").getAttribute("data-state")) === "reconnecting", "bob's indicator to show the outage");
    for (let i = 1; i <= 3; i++) await send(alice, `While bob was away #${i}`);
    await visible(alice.msg("While bob was away #3").locator(".receipt:not([data-receipt=pending])"));
    relay.block = false;
    await bob.ctx.unroute(outage);
    await bob.waitOpen(null, SLOW);
    for (let i = 1; i <= 3; i++) await visible(bob.msg(`While bob was away #${i}`), SLOW);
    const texts = (await bob.$("#message-list li.msg .text").allTextContents()).filter((t) => t.startsWith("While bob was away"));
    if (texts.join("|") !== "While bob was away #1|While bob was away #2|While bob was away #3") throw new Error(`bob sees ${texts.join(" | ")}`);
    const states = await bob.page.evaluate(() => window.__connStates.join(" / "));
    if (!/retrying|Reconnecting/.test(states)) throw new Error(`the indicator never showed the outage: ${states}`);
  });

  await check(`${tag} bob reloads and finds the history`, async () => {
    await bob.page.reload();
    await bob.waitOpen(expected);
    await until(async () => (await bob.$("#room-title").textContent()).includes(roomName), "bob's room after reload");
    await visible(bob.msg("Hi alice! Ready for the launch review?"));
    await visible(bob.msg("Yes! The checklist is in the wiki."));
    await visible(bob.msg("Yes! The checklist is in the wiki.").locator(".edited"));
    await visible(bob.$("#message-list li.msg.deleted"));
    if ((await bob.msg("Yes! The checklist").count()) !== 1) throw new Error("a message is shown twice");
    if ((await bob.$(".day").count()) < 1) throw new Error("no day separator");
  });

  await check(`${tag} messages sent while bob was away arrive once after his reconnect`, async () => {
    await send(alice, "Welcome back, bob");
    await visible(bob.msg("Welcome back, bob"));
    if ((await bob.msg("Welcome back, bob").count()) !== 1) throw new Error("duplicated");
  });

  if (mode === "ws") {
    await check(`${tag} screenshot of the chat saved to ${path.relative(ROOT, SCREENSHOT)}`, async () => {
      await typeUntilSeen(bob, alice, "Looks great");
      mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await alice.page.screenshot({ path: SCREENSHOT });
      await bob.$("#composer-input").fill("");
    });
  }

  await check(`${tag} alice sees bob go offline with a last-seen time`, async () => {
    await bob.ctx.close();
    await visible(alice.$(`#member-list li[data-user="bob"] .dot[data-status="offline"]`), SLOW);
    await until(async () => /last seen|offline/i.test(await alice.$(`#member-list li[data-user="bob"] .ustatus`).textContent()), "the last-seen text");
  });

  await check(`${tag} no script errors or CSP violations on the pages`, async () => {
    const errs = [...alice.errors, ...bob.errors];
    if (errs.length) throw new Error(errs.join(" | "));
  });
  await alice.ctx.close();
}

async function moreChecks(browser, base) {
  const tag = "[client]";
  let carol;
  const n = 120;
  await check(`${tag} infinite scroll upwards loads older messages (before=)`, async () => {
    // the history is written before carol's page is open, so it is not pushed live
    const { token } = await fetch(`${base}/v1/dev/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: "carol" }) }).then((r) => r.json());
    const h = { Authorization: "Bearer " + token, "Content-Type": "application/json" };
    const room = await fetch(`${base}/v1/rooms`, { method: "POST", headers: h, body: JSON.stringify({ name: "History " + Date.now() }) }).then((r) => r.json());
    for (let i = 1; i <= n; i++) {
      const r = await fetch(`${base}/v1/rooms/${encodeURIComponent(room.id)}/messages`, {
        method: "POST",
        headers: h,
        body: JSON.stringify({ text: `history message ${String(i).padStart(3, "0")}`, client_id: `hist-${room.id}-${i}` }),
      });
      if (!r.ok) throw new Error(`posting message ${i}: ${r.status}`);
    }
    carol = await signIn(browser, base, "carol");
    await carol.waitOpen();
    await visible(carol.$(`.room-item[data-room="${room.id}"]`));
    await carol.$(`.room-item[data-room="${room.id}"]`).click();
    await visible(carol.msg(`history message ${n}`));
    if ((await carol.msg("history message 001").count()) !== 0) throw new Error("all history loaded at once");
    await until(async () => {
      await carol.$("#messages").evaluate((b) => (b.scrollTop = 0));
      return (await carol.msg("history message 001").count()) === 1;
    }, "the oldest message after scrolling up", SLOW);
    const texts = await carol.$("#message-list li.msg .text").allTextContents();
    const nums = texts.filter((t) => t.startsWith("history message")).map((t) => Number(t.slice(-3)));
    if (nums.length !== n) throw new Error(`${nums.length} messages shown, expected ${n}`);
    if (nums.some((v, i) => v !== i + 1)) throw new Error("messages out of order");
  });
  await check(`${tag} a token handed in the URL fragment signs in and leaves the address bar`, async () => {
    const { token } = await fetch(`${base}/v1/dev/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: "erin" }) }).then((r) => r.json());
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${base}/#token=${token}`);
    await visible(page.locator("#app"));
    await until(async () => (await page.locator("#me-name").textContent()) === "erin", "erin to be signed in");
    if (page.url().includes("token")) throw new Error("the token is still in the URL");
    await ctx.close();
  });
  // A link carrying another user's token must not switch accounts silently:
  // the page asks in a dialog of its own. Both answers, on a full load and
  // on a link pasted into the tab (a hash change, no reload).
  const devToken = async (user) =>
    (await fetch(`${base}/v1/dev/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user }) }).then((r) => r.json())).token;
  const tokenUser = (page) => page.evaluate(() => JSON.parse(atob(sessionStorage.getItem("parley.token").split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub);
  const linkDialog = async (page, was, next) => {
    const dlg = page.locator("#switch-dialog");
    await visible(dlg);
    const text = await dlg.textContent();
    if (!text.includes(was) || !text.includes(next)) throw new Error(`the dialog does not name both accounts: ${text}`);
    return dlg;
  };
  await check(`${tag} a link with another user's token asks first; "Stay" keeps the account signed in`, async () => {
    const u = await signIn(browser, base, "gina");
    try {
      const hank = await devToken("hank");
      // a full load (the link opened in this tab)
      await u.page.goto(`${base}/?from=link#token=${hank}`);
      await linkDialog(u.page, "gina", "hank");
      await u.page.locator("#switch-stay").click();
      await until(async () => (await u.page.locator("#me-name").textContent()) === "gina", "gina to stay signed in");
      if (u.page.url().includes("token")) throw new Error("the token is still in the URL");
      if ((await tokenUser(u.page)) !== "gina") throw new Error("the stored token changed");
      // a link pasted into the same tab: only the fragment changes
      await u.page.evaluate((t) => (location.hash = `token=${t}`), hank);
      await linkDialog(u.page, "gina", "hank");
      await u.page.keyboard.press("Escape"); // dismissing is staying
      await until(async () => !(await u.page.locator("#switch-dialog").isVisible()), "the dialog to close");
      await until(async () => !u.page.url().includes("token"), "the token to leave the URL");
      if ((await tokenUser(u.page)) !== "gina") throw new Error("the stored token changed");
      if ((await u.page.locator("#me-name").textContent()) !== "gina") throw new Error("no longer gina");
    } finally {
      await u.ctx.close();
    }
  });
  await check(`${tag} a link with another user's token asks first; "Switch" signs in as that user`, async () => {
    const u = await signIn(browser, base, "ivan");
    try {
      const judy = await devToken("judy");
      await u.page.evaluate((t) => (location.hash = `token=${t}`), judy);
      await linkDialog(u.page, "ivan", "judy");
      await u.page.locator("#switch-ok").click();
      await until(async () => (await u.page.locator("#me-name").textContent()) === "judy", "judy to be signed in");
      if (u.page.url().includes("token")) throw new Error("the token is still in the URL");
      // and on a full load
      const kate = await devToken("kate");
      await u.page.goto(`${base}/?from=link#token=${kate}`);
      await linkDialog(u.page, "judy", "kate");
      await u.page.locator("#switch-ok").click();
      await until(async () => (await u.page.locator("#me-name").textContent()) === "kate", "kate to be signed in");
      // the same user's link asks nothing
      const kate2 = await devToken("kate");
      await u.page.goto(`${base}/?again#token=${kate2}`);
      await visible(u.page.locator("#app"));
      await until(async () => (await u.page.locator("#me-name").textContent()) === "kate", "kate still");
      if (await u.page.locator("#switch-dialog").isVisible()) throw new Error("asked about the same user");
    } finally {
      await u.ctx.close();
    }
  });
  await check(`${tag} parley.js works on its own: import from /parley.js, connect, send with ack, receive`, async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${base}/`);
    const r = await page.evaluate(async () => {
      const { Parley } = await import("/parley.js");
      const token = await Parley.devLogin("frank");
      const out = {};
      for (const t of ["ws", "sse", "poll"]) {
        const p = new Parley({ token, transports: [t] });
        const text = `standalone hello over ${t}`;
        const got = new Promise((res) => p.on("message.created", (e) => e.data.text === text && res(e)));
        const info = await p.connect();
        const m = await p.send("general", text);
        const ev = await got;
        p.close();
        out[t] = info.transport === t && ev.data.id === m.id && m.text === text;
      }
      return out;
    });
    await ctx.close();
    if (!r.ws || !r.sse || !r.poll) throw new Error(JSON.stringify(r));
  });
  await check(`${tag} the client picks the transports named in ?transports=`, async () => {
    const u = await signIn(browser, base, "dave", { query: "?transports=poll" });
    await u.waitOpen("poll");
    await u.ctx.close();
  });
  await carol?.ctx.close();
}

// ------------------------------------------------------------------ main

const server = await startServer();
const base = server.url;
log(`# e2e against ${base}`);
let browser;
try {
  await check("server is healthy", async () => {
    await until(async () => (await fetch(base + "/v1/health")).ok, "GET /v1/health", SLOW);
    const r = await fetch(base + "/");
    const html = await r.text();
    if (!r.ok || !html.includes("parley")) throw new Error(`GET / answered ${r.status}`);
  });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args: LAUNCH_ARGS });
  for (const mode of MODES) await scenario(browser, base, mode);
  if (!process.env.E2E_SKIP_MORE) await moreChecks(browser, base);
} catch (e) {
  failed++;
  log(`FAIL unexpected: ${e && e.stack ? e.stack : e}`);
} finally {
  await browser?.close().catch(() => {});
  await server.stop().catch(() => {});
}
log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
