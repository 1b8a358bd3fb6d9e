#!/usr/bin/env node
// End-to-end test of the web client's reading and navigation features
// (www/app.js, www/format.js), two users in headless Chromium:
//
//   PARLEY_URL=http://127.0.0.1:8080 node tests/e2e/client.test.mjs
//
// Without PARLEY_URL it starts ./parleyd --dev on a free port itself
// (PARLEYD=/path/to/parleyd to use another binary). SCREENSHOTS=docs saves
// the docs' pictures (catching-up.png, mobile.png, mobile-drawer.png); a plain run writes them
// under .build/logs/. Every page of this suite must load without a failing
// request or a console error, and axe-core finds no serious or critical
// violation. The last line is "e2e client: N passed, N failed".
import { createRequire } from "node:module";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(path.join(ROOT, "tests/node/package.json"));
const { chromium } = require("playwright-core");
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const T = Number(process.env.E2E_TIMEOUT_MS || 30000);
const SLOW = 3 * T;
const SHOTS = path.resolve(ROOT, process.env.SCREENSHOTS || ".build/logs");

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
    return false;
  }
}

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
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
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

async function startServer({ dev = true } = {}) {
  if (dev && process.env.PARLEY_URL) return { url: process.env.PARLEY_URL.replace(/\/+$/, ""), stop: async () => {} };
  const port = await freePort();
  const data = mkdtempSync(path.join(tmpdir(), "parley-e2e-client-"));
  const args = [...(dev ? ["--dev"] : []), "--listen", `127.0.0.1:${port}`, "--data", data, "--www", path.join(ROOT, "www")];
  const env = dev ? process.env : { ...process.env, PARLEY_JWT_SECRET: "e2e-client-secret-e2e-client-secret-0123456789" };
  const proc = spawn(process.env.PARLEYD || path.join(ROOT, "parleyd"), args, {
    cwd: ROOT,
    env,
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

// ------------------------------------------------------------------ users

const LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const PAGES = [];

// A stand-in for the browser's Notification: records what the page asks for
// and shows (headless Chromium has no notification centre to look at).
const NOTIFICATION_STUB = () => {
  window.__notes = [];
  window.__asked = 0;
  window.__perm = "default";
  window.Notification = class {
    constructor(title, opts) {
      window.__notes.push({ title, body: opts && opts.body });
    }
    close() {}
    static get permission() {
      return window.__perm;
    }
    static requestPermission() {
      window.__asked++;
      window.__perm = "granted";
      return Promise.resolve("granted");
    }
  };
};

/** A page whose failed requests, HTTP errors and console errors are kept. */
function watch(name, page) {
  const w = { name, page, problems: [], closing: false };
  page.on("pageerror", (e) => w.problems.push(`${name}: script error ${e}`));
  page.on("console", (m) => {
    if (!w.closing && (m.type() === "error" || /Content Security Policy/i.test(m.text()))) w.problems.push(`${name}: console ${m.type()}: ${m.text()}`);
  });
  page.on("requestfailed", (r) => !w.closing && w.problems.push(`${name}: request failed ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => !w.closing && r.status() >= 400 && w.problems.push(`${name}: ${r.status()} for ${r.request().method()} ${r.url()}`));
  PAGES.push(w);
  return w;
}

async function signIn(browser, base, name, { viewport = { width: 1280, height: 800 }, stub = false } = {}) {
  const ctx = await browser.newContext({ viewport });
  if (stub) await ctx.addInitScript(NOTIFICATION_STUB);
  const page = await ctx.newPage();
  const w = watch(name, page);
  await page.goto(base + "/");
  await visible(page.locator("#dev-name"));
  await page.locator("#dev-name").fill(name);
  await page.locator("#dev-name").press("Enter");
  await visible(page.locator("#app"));
  await until(async () => (await page.locator("#conn").getAttribute("data-state")) === "open", `${name}'s connection`, SLOW);
  const u = {
    name,
    ctx,
    page,
    w,
    $: (sel) => page.locator(sel),
    msg: (text) => page.locator("#message-list li.msg").filter({ hasText: text }),
    close: async () => {
      w.closing = true;
      await ctx.close();
    },
  };
  return u;
}

async function send(u, text) {
  const input = u.$("#composer-input");
  await input.click();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (i) await input.press("Shift+Enter");
    await input.pressSequentially(lines[i], { delay: 2 });
  }
  await input.press("Enter");
}

async function openRoom(u, id) {
  await u.$(`.room-item[data-room="${id}"]`).click();
  await until(async () => (await u.$(".room-item[aria-current=true]").getAttribute("data-room")) === id, `${u.name} in ${id}`);
}

/** Makes the page believe its tab is hidden (or visible again). */
async function setHidden(u, hidden) {
  await u.page.evaluate((h) => {
    if (h) {
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
      Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    } else {
      delete document.visibilityState;
      delete document.hidden;
    }
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

async function axe(u, what) {
  // page.evaluate runs outside the page's CSP (no inline script is added)
  await u.page.evaluate(AXE);
  const res = await u.page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = res.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const minor = res.violations.filter((v) => !bad.includes(v));
  if (minor.length) log(`#   axe (${what}): minor: ${minor.map((v) => `${v.id} (${v.nodes.length})`).join(", ")}`);
  if (bad.length) throw new Error(bad.map((v) => `${v.id}: ${v.help} — ${v.nodes.slice(0, 2).map((n) => n.target.join(" ")).join("; ")}`).join(" | "));
}

// ------------------------------------------------------------------ REST

async function api(base, token, method, p, body) {
  const r = await fetch(base + p, {
    method,
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
async function devToken(base, user) {
  const r = await fetch(`${base}/v1/dev/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user }) });
  return (await r.json()).token;
}
async function readUpTo(base, token, room, user) {
  const rec = (await api(base, token, "GET", `/v1/rooms/${encodeURIComponent(room)}/receipts`)).receipts;
  return rec.find((x) => x.user === user)?.read_up_to ?? -1;
}

// ------------------------------------------------------------------ checks

async function run(browser, base) {
  const tA = await devToken(base, "alice");
  const tB = await devToken(base, "bob");
  const design = await api(base, tA, "POST", "/v1/rooms", { name: "Design" });
  const backlog = await api(base, tA, "POST", "/v1/rooms", { name: "Backlog" });
  for (const r of [design, backlog]) await api(base, tB, "POST", `/v1/rooms/${encodeURIComponent(r.id)}/join`);
  // bob has read the first message of the backlog room; the rest comes later
  const first = await api(base, tA, "POST", `/v1/rooms/${encodeURIComponent(backlog.id)}/messages`, { text: "backlog start", client_id: "bl-0" });
  await api(base, tB, "POST", `/v1/rooms/${encodeURIComponent(backlog.id)}/read`, { up_to: first.id });

  let alice, bob;
  await check("the sign-in page loads with no failing request and no console error; axe finds nothing serious", async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const w = watch("visitor", page);
    await page.goto(base + "/");
    await visible(page.locator("#dev-name"));
    await sleep(300);
    await axe({ page }, "sign-in");
    w.closing = true;
    await ctx.close();
    if (w.problems.length) throw new Error(w.problems.join(" | "));
  });

  if (!process.env.PARLEY_URL) {
    await check("outside dev mode the sign-in page offers the token form only, with no failing request", async () => {
      const prod = await startServer({ dev: false });
      const ctx = await browser.newContext();
      try {
        await until(async () => (await fetch(prod.url + "/v1/health")).ok, "the second server", SLOW);
        const page = await ctx.newPage();
        const w = watch("visitor (no dev)", page);
        await page.goto(prod.url + "/");
        await visible(page.locator("#token-input"));
        // the page focuses the form it offers once /v1/health has answered
        await until(() => page.evaluate(() => document.activeElement?.id === "token-input"), "the token box to take the focus");
        if (!(await page.locator("#dev-form").isHidden())) throw new Error("the name form is offered");
        w.closing = true;
        if (w.problems.length) throw new Error(w.problems.join(" | "));
      } finally {
        await ctx.close();
        await prod.stop();
      }
    });
  }

  alice = await signIn(browser, base, "alice");
  bob = await signIn(browser, base, "bob", { stub: true });
  await openRoom(alice, design.id);
  await openRoom(bob, design.id);

  // ---------------------------------------------------------- readable messages
  const md = "**Bold move** and *quiet* words, `npm ci` and https://example.com/docs?a=1.\n> quoted line\n- first\n- second\n```\nconst x = 1 < 2;\n```\nThanks :tada: **<img src=x onerror=alert(1)>**";
  await check("Markdown subset reaches bob as built DOM: bold, italics, code, link, quote, list, code block, emoji", async () => {
    await send(alice, md);
    const m = bob.msg("Bold move");
    await visible(m);
    const t = m.locator(".text");
    const expect = async (sel, want) => {
      const got = await t.locator(sel).first().textContent();
      if (got !== want) throw new Error(`${sel} holds ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    };
    await expect("strong", "Bold move");
    await expect("em", "quiet");
    await expect(":scope > .md-p code", "npm ci");
    await expect("blockquote", "quoted line");
    await expect("pre code", "const x = 1 < 2;");
    await expect(".emoji", "🎉");
    if ((await t.locator("ul > li").count()) !== 2) throw new Error("the list does not have two items");
    const a = t.locator("a");
    if ((await a.getAttribute("href")) !== "https://example.com/docs?a=1") throw new Error(`link is ${await a.getAttribute("href")}`);
    if ((await a.getAttribute("target")) !== "_blank" || (await a.getAttribute("rel")) !== "noopener noreferrer") throw new Error("link lacks target/rel");
    if ((await t.locator("img, script").count()) !== 0) throw new Error("HTML from the text was inserted");
    if (!(await t.locator("strong").last().textContent()).includes("<img")) throw new Error("the tag is not shown as text");
  });

  await check("multi-line input: Shift+Enter makes a new line, Enter sends; plain text reads back as typed", async () => {
    await send(bob, "line one\nline two");
    await visible(alice.msg("line two"));
    const got = await alice.msg("line two").locator(".text").textContent();
    if (got !== "line one\nline two") throw new Error(`text is ${JSON.stringify(got)}`);
  });

  await check("the emoji picker puts an emoji in the message box (keyboard and mouse)", async () => {
    await bob.$("#emoji-btn").click();
    await visible(bob.$("#emoji-panel"));
    await bob.page.keyboard.press("ArrowRight");
    await bob.page.keyboard.press("Escape");
    if (await bob.$("#emoji-panel").isVisible()) throw new Error("Escape did not close the picker");
    await bob.$("#emoji-btn").click();
    await bob.$('#emoji-panel button[title=":thumbsup:"]').click();
    const v = await bob.$("#composer-input").inputValue();
    if (v !== "👍") throw new Error(`box holds ${v}`);
    await bob.$("#composer-input").press("Enter");
    await visible(alice.msg("👍"));
  });

  await check("messages from one sender within 5 minutes share a header; a day separator; relative time, full time on hover", async () => {
    await send(alice, "grouped one");
    await send(alice, "grouped two");
    await visible(bob.msg("grouped two"));
    const cls = await bob.msg("grouped two").getAttribute("class");
    if (!/\bcont\b/.test(cls)) throw new Error(`second message is not grouped: ${cls}`);
    if (!(await bob.$("#message-list .day").first().textContent()).includes("Today")) throw new Error("no Today separator");
    const time = bob.msg("grouped two").locator("time.rel");
    const txt = await time.textContent();
    const title = await time.getAttribute("title");
    if (!/now|min/.test(txt)) throw new Error(`time reads ${txt}`);
    if (!title || !/\d{4}/.test(title)) throw new Error(`title is ${title}`);
  });

  // ---------------------------------------------------------- notifications
  await check("notification permission is asked after the user's first message, not on load", async () => {
    // bob has sent messages above; a fresh page for bob must not ask at load
    const asked = await bob.page.evaluate(() => window.__asked);
    if (asked !== 1) throw new Error(`asked ${asked} times`);
    const ctx = await browser.newContext();
    await ctx.addInitScript(NOTIFICATION_STUB);
    const p = await ctx.newPage();
    const w = watch("bob2", p);
    await p.goto(base + "/");
    await p.locator("#dev-name").fill("bob");
    await p.locator("#dev-name").press("Enter");
    await visible(p.locator("#app"));
    await sleep(500);
    const n = await p.evaluate(() => window.__asked);
    w.closing = true;
    await ctx.close();
    if (n !== 0) throw new Error(`asked on load (${n})`);
  });

  let dmId;
  await check("alice starts a DM by searching for bob (no exact id typed)", async () => {
    await alice.$("#new-dm-btn").click();
    await alice.$("#dm-user").fill("bo");
    await alice.$('#dm-results button[data-user="bob"]').click();
    await until(async () => (await alice.$("#room-title").textContent()).includes("bob"), "the DM to open");
    dmId = await alice.$(".room-item[aria-current=true]").getAttribute("data-room");
  });

  await check("a DM to a hidden tab: desktop notification, the tab title counts it", async () => {
    await setHidden(bob, true);
    await send(alice, "psst, are you there?");
    await until(async () => (await bob.page.evaluate(() => window.__notes)).some((n) => n.title === "alice" && n.body === "psst, are you there?"), "bob's notification");
    await until(async () => (await bob.page.title()) === "(1) Parley", "bob's title to count 1");
    await setHidden(bob, false);
    await openRoom(bob, dmId);
    await until(async () => (await bob.page.title()) === "Parley", "the title to clear");
  });

  // ---------------------------------------------------------- navigation
  await check("conversations are ordered by recent activity", async () => {
    await api(base, tA, "POST", `/v1/rooms/${encodeURIComponent(backlog.id)}/messages`, { text: "activity ping", client_id: "bl-act" });
    await until(async () => (await bob.$("#room-list .room-item").first().getAttribute("data-room")) === backlog.id, "Backlog first in bob's list");
  });

  await check("catching up: the room opens at the first unread under \"New messages\"; the receipt covers only what was shown", async () => {
    for (let i = 1; i <= 60; i++) {
      await api(base, tA, "POST", `/v1/rooms/${encodeURIComponent(backlog.id)}/messages`, { text: `backlog item ${String(i).padStart(2, "0")}`, client_id: `bl-${i}` });
    }
    await openRoom(bob, design.id); // elsewhere while they arrive
    await until(async () => Number((await bob.$(`.room-item[data-room="${backlog.id}"] .badge`).textContent()) || 0) >= 61, "bob's unread badge");
    // a fresh page opens the room as a returning reader would
    await bob.page.reload();
    await until(async () => (await bob.$("#conn").getAttribute("data-state")) === "open", "bob again");
    await openRoom(bob, backlog.id);
    const dv = bob.$("#message-list .unread-divider");
    await visible(dv);
    const next = await dv.evaluate((n) => n.nextElementSibling.querySelector(".text").textContent);
    if (next !== "activity ping") throw new Error(`first unread is ${next}`);
    const inView = await dv.evaluate((n) => {
      const box = document.getElementById("messages").getBoundingClientRect();
      const r = n.getBoundingClientRect();
      return r.top >= box.top && r.bottom <= box.bottom;
    });
    if (!inView) throw new Error("the divider is not on screen");
    await visible(bob.$("#jump-btn"));
    mkdirSync(SHOTS, { recursive: true });
    await bob.page.screenshot({ path: path.join(SHOTS, "catching-up.png") });
    const newest = (await api(base, tA, "GET", `/v1/rooms/${encodeURIComponent(backlog.id)}/messages?limit=1`)).messages[0].id;
    await until(async () => (await readUpTo(base, tA, backlog.id, "bob")) > first.id, "bob's receipt to cover what he saw");
    await sleep(1000);
    const got = await readUpTo(base, tA, backlog.id, "bob");
    if (got >= newest) throw new Error(`bob's receipt reached ${got} (newest ${newest}) without the messages on screen`);
    await bob.$("#jump-btn").click();
    await until(async () => (await readUpTo(base, tA, backlog.id, "bob")) === newest, "the receipt after jumping to the newest");
    if (await bob.$("#jump-btn").isVisible()) throw new Error("the jump button stays at the bottom");
  });

  await check("two ticks only once shown: bob's receipt does not advance while scrolled away with the tab hidden", async () => {
    await openRoom(alice, backlog.id);
    await bob.$("#messages").evaluate((b) => (b.scrollTop = 0));
    await setHidden(bob, true);
    await send(alice, "did you see this?");
    const m = alice.msg("did you see this?").locator("xpath=self::*[@data-id]");
    await visible(m);
    const id = Number(await m.getAttribute("data-id"));
    await visible(bob.msg("did you see this?").locator("xpath=self::*[@data-id]"), SLOW);
    await sleep(1500);
    if ((await readUpTo(base, tA, backlog.id, "bob")) >= id) throw new Error("the receipt advanced over a message never shown");
    if ((await alice.msg("did you see this?").locator('.receipt[data-receipt="read"]').count()) !== 0) throw new Error("alice sees ✓✓");
    await setHidden(bob, false); // visible, but still scrolled up
    await sleep(1000);
    if ((await readUpTo(base, tA, backlog.id, "bob")) >= id) throw new Error("the receipt advanced while the message was scrolled away");
    await bob.$("#jump-btn").click();
    await visible(alice.msg("did you see this?").locator('.receipt[data-receipt="read"]'), SLOW);
  });

  await check("quick switcher: Ctrl+K, type, Enter opens the room", async () => {
    await bob.$("#composer-input").click();
    await bob.page.keyboard.press("Control+K");
    await visible(bob.$("#switcher-input"));
    await bob.page.keyboard.type("desi");
    await bob.page.keyboard.press("Enter");
    await until(async () => (await bob.$("#room-title").textContent()).includes("Design"), "Design to open");
    if (await bob.$("#switcher").isVisible()) throw new Error("the switcher stays open");
  });

  await check("? opens the keyboard shortcuts; Escape closes them", async () => {
    await bob.$("#messages").focus();
    await bob.page.keyboard.press("?");
    await visible(bob.$("#help-dialog"));
    if (!(await bob.$("#help-dialog").textContent()).includes("Ctrl")) throw new Error("no shortcut listed");
    await bob.page.keyboard.press("Escape");
    await until(async () => !(await bob.$("#help-dialog").isVisible()), "the help to close");
  });

  await check("theme toggle: dark is applied and remembered after a reload; system removes it", async () => {
    await bob.$("#settings-btn").click();
    await bob.$("#theme-select").selectOption("dark");
    if ((await bob.page.evaluate(() => document.documentElement.dataset.theme)) !== "dark") throw new Error("not dark");
    const bg = await bob.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    if (bg !== "rgb(15, 17, 23)") throw new Error(`background is ${bg}`);
    await bob.page.keyboard.press("Escape");
    await bob.page.reload();
    await visible(bob.$("#app"));
    if ((await bob.page.evaluate(() => document.documentElement.dataset.theme)) !== "dark") throw new Error("not remembered");
    await bob.$("#settings-btn").click();
    await bob.$("#theme-select").selectOption("system");
    await bob.page.keyboard.press("Escape");
    if (await bob.page.evaluate(() => document.documentElement.dataset.theme)) throw new Error("system choice keeps a theme");
  });

  // ---------------------------------------------------------- accessibility
  await check("accessibility: the message list is a polite live region; axe finds nothing serious (chat, switcher, dialogs)", async () => {
    await until(async () => (await bob.$("#conn").getAttribute("data-state")) === "open", "bob connected");
    await openRoom(bob, design.id);
    if ((await bob.$("#messages").getAttribute("aria-live")) !== "polite") throw new Error("the message list is not a live region");
    await axe(bob, "chat");
    await bob.page.keyboard.press("Control+K");
    await visible(bob.$("#switcher-input"));
    await axe(bob, "switcher");
    await bob.page.keyboard.press("Escape");
    await bob.$("#settings-btn").click();
    await axe(bob, "settings");
    await bob.page.keyboard.press("Escape");
  });

  await check("keyboard alone: skip link to the box, send, focus is visible", async () => {
    await bob.page.reload();
    await visible(bob.$("#app"));
    await until(async () => (await bob.$("#conn").getAttribute("data-state")) === "open", "bob connected");
    // the skip link is the first Tab stop of the page and shows when focused
    const firstStop = await bob.page.evaluate(() => {
      const all = [...document.querySelectorAll("a[href], button, input, select, textarea, [tabindex]")].filter((n) => n.tabIndex >= 0 && n.getClientRects().length);
      return all[0]?.className;
    });
    if (!/skip-link/.test(firstStop)) throw new Error(`first Tab stop is ${firstStop}`);
    await bob.page.evaluate(() => document.querySelector(".skip-link").focus());
    const box = await bob.$(".skip-link").boundingBox();
    if (!box || box.x < 0) throw new Error("the focused skip link is off screen");
    await bob.page.keyboard.press("Enter");
    await until(() => bob.page.evaluate(() => document.activeElement?.id === "composer-input"), "focus in the message box");
    await openRoom(alice, await bob.$(".room-item[aria-current=true]").getAttribute("data-room"));
    await bob.page.keyboard.type("sent by keyboard");
    await bob.page.keyboard.press("Enter");
    await visible(alice.msg("sent by keyboard"), SLOW);
    await bob.page.keyboard.press("Shift+Tab");
    const outline = await bob.page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    if (outline === "none") throw new Error("the focused control shows no outline");
  });

  // ---------------------------------------------------------- mobile
  await check("mobile 390x844: no strip at the left edge, the room list is a drawer; axe on the phone layout", async () => {
    const phone = await signIn(browser, base, "carol", { viewport: { width: 390, height: 844 } });
    try {
      const sb = phone.$("#sidebar");
      const closed = await sb.evaluate((n) => {
        const cs = getComputedStyle(n);
        return { vis: cs.visibility, right: n.getBoundingClientRect().right, shadow: cs.boxShadow };
      });
      if (closed.vis !== "hidden" || closed.right > 0 || closed.shadow !== "none") throw new Error(`closed drawer: ${JSON.stringify(closed)}`);
      // the left edge is the page's own background, no shade
      await send(phone, "Hello from a **phone**");
      await visible(phone.msg("Hello from a phone"));
      mkdirSync(SHOTS, { recursive: true });
      await phone.page.screenshot({ path: path.join(SHOTS, "mobile.png") });
      await axe(phone, "phone");
      await phone.$("#menu-btn").click();
      await until(async () => (await sb.evaluate((n) => n.getBoundingClientRect().left)) === 0, "the drawer to open");
      await sleep(300);
      await phone.page.screenshot({ path: path.join(SHOTS, "mobile-drawer.png") });
      await phone.page.keyboard.press("Escape");
      await until(async () => (await sb.evaluate((n) => getComputedStyle(n).visibility)) === "hidden", "the drawer to close");
    } finally {
      await phone.close();
    }
  });

  await check("no failing request, console error or CSP violation on any page", async () => {
    const all = PAGES.flatMap((w) => w.problems);
    if (all.length) throw new Error(all.slice(0, 6).join(" | "));
  });
  await alice.close();
  await bob.close();
}

// ------------------------------------------------------------------ main

const server = await startServer();
const base = server.url;
log(`# e2e client against ${base}`);
let browser;
try {
  await until(async () => (await fetch(base + "/v1/health")).ok, "GET /v1/health", SLOW);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args: LAUNCH_ARGS });
  await run(browser, base);
} catch (e) {
  failed++;
  log(`FAIL unexpected: ${e && e.stack ? e.stack : e}`);
} finally {
  await browser?.close().catch(() => {});
  await server.stop().catch(() => {});
}
log(`e2e client: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
