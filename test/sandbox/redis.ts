import type { ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import { hasExited, logTail, startDaemon, stopChild, waitFor } from "./processes.js";

export interface SandboxRedis {
  port: number;
  /** Arguments that point `redis-cli` at this server: `redis-cli ...cliArgs PING`. */
  cliArgs: string[];
  child: ChildProcess;
}

/**
 * A throwaway redis-server (the runbooks' payout kill switch lives in Redis): foreground child so
 * stop() can always kill it, loopback only, no persistence, its files in the run dir.
 */
export async function startRedis(options: { dir: string; port: number }): Promise<SandboxRedis> {
  const logPath = join(options.dir, "logs", "redis.log");
  const child = startDaemon(
    "redis-server",
    [
      "--daemonize", "no",
      "--bind", "127.0.0.1",
      "--port", String(options.port),
      "--save", "",
      "--appendonly", "no",
      "--dir", options.dir,
      "--protected-mode", "yes",
    ],
    logPath,
  );
  const redis: SandboxRedis = { port: options.port, cliArgs: ["-h", "127.0.0.1", "-p", String(options.port)], child };
  try {
    await waitFor(
      "redis-server to answer PING",
      async () => {
        if (hasExited(child)) throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode})`);
        return (await ping(options.port)) ? true : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 50, describe: () => logTail(logPath) },
    );
  } catch (error) {
    await stopRedis(redis);
    throw error;
  }
  return redis;
}

/** One RESP PING over TCP; cheaper than spawning redis-cli while polling. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => socket.destroy(), 1_000);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data.toString().startsWith("+PONG"));
    });
    socket.once("error", () => resolve(false));
    socket.once("close", () => resolve(false));
  });
}

export async function stopRedis(redis: SandboxRedis): Promise<string[]> {
  await stopChild(redis.child, 3_000);
  return hasExited(redis.child) ? [] : [`redis-server (pid ${redis.child.pid}) did not exit`];
}
