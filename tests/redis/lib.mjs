// tests/redis/lib.mjs: several parleyd nodes sharing one Redis (and, on one
// host, one data folder), and the Redis that run.sh started.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { api, startServer, token, until } from "../integration/lib.mjs";

export const REDIS_PORT = Number(process.env.REDIS_PORT);
if (!REDIS_PORT) {
  console.error("run me through tests/redis/run.sh (REDIS_PORT is not set)");
  process.exit(2);
}
export const REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`;
const PIDFILE = process.env.REDIS_PIDFILE;
const REDIS_SERVER = process.env.REDIS_SERVER || "redis-server";

export const GRACE = 1; // seconds (PARLEY_PRESENCE_GRACE)

const data = mkdtempSync(path.join(tmpdir(), "parley-redis-data-"));
process.on("exit", () => rmSync(data, { recursive: true, force: true }));

// One more node on the shared Redis and data folder.  Nodes start one at a
// time: the first creates the store.
export async function startNode(extraEnv = {}) {
  const srv = await startServer({
    args: ["--redis", REDIS_URL],
    dataDir: data,
    env: { PARLEY_PRESENCE_GRACE: String(GRACE), ...extraEnv },
  });
  await until(() => /redis: connected to/.test(srv.log()), "the node's Redis link");
  return srv;
}

export function redis(...args) {
  return execFileSync("redis-cli", ["-p", String(REDIS_PORT), ...args], { stdio: ["ignore", "pipe", "ignore"] })
    .toString()
    .trim();
}

export function redisUp() {
  try {
    return redis("ping") === "PONG";
  } catch {
    return false;
  }
}

export function redisPid() {
  return Number(readFileSync(PIDFILE, "utf8").trim());
}

export async function killRedis(signal = "SIGKILL") {
  const pid = redisPid();
  process.kill(pid, signal);
  await until(() => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, "redis-server to end");
}

export async function startRedis() {
  const child = spawn(
    REDIS_SERVER,
    ["--port", String(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
    { stdio: "ignore", detached: true },
  );
  child.unref();
  writeFileSync(PIDFILE, String(child.pid));
  await until(redisUp, "redis-server to answer");
}

// Signs users up (a first request makes them members of general).
export async function users(srv, names) {
  const tok = {};
  for (const u of names) {
    tok[u] = token(u);
    await api(srv, "GET", "/v1/rooms", { tok: tok[u] });
  }
  return tok;
}

export const statuses = (c, user) =>
  c.events("presence").filter((e) => e.data.user === user).map((e) => e.data.status);
