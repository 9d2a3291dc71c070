import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const TSX = join(ROOT, "node_modules/tsx/dist/esm/index.mjs");

/** A TypeScript script running in its own Node process, the way test/support/bot-process.ts runs opsgram. */
export interface ScriptProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves at the first JSON stdout line that matches (rejects on exit or after timeoutMs). */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Everything written so far (stdout and stderr), for error messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after 10 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts a script with only the env given plus PATH/HOME (and NODE_OPTIONS when the env names it),
 * from the repository root: plain `node` for JavaScript (`.js`, `.mjs`: what production runs),
 * `node --import tsx` for TypeScript. `nodeArgs` go before the script (e.g. `--expose-gc`).
 */
export function startScriptProcess(script: string, env: Record<string, string>, nodeArgs: readonly string[] = []): ScriptProcess {
  const loader = /\.m?js$/.test(script) ? [] : ["--import", TSX];
  const child = spawn(process.execPath, [...nodeArgs, ...loader, resolve(ROOT, script)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let partial = "";
  const parsed: Record<string, unknown>[] = [];
  const listeners = new Set<() => void>();
  child.stdout!.on("data", (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    out = (out + text).slice(-20_000);
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      try {
        parsed.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a JSON line
      }
    }
    for (const listener of listeners) listener();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    out = (out + chunk.toString("utf8")).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolveExit) => {
    child.on("exit", (code) => {
      for (const listener of listeners) listener();
      resolveExit(code);
    });
  });
  return {
    child,
    pid: child.pid!,
    output: () => out,
    waitForLog(predicate, timeoutMs = 20_000) {
      return new Promise((resolveWait, reject) => {
        const check = () => {
          const found = parsed.find(predicate);
          if (found) {
            done();
            resolveWait(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`${script} exited (${child.exitCode ?? child.signalCode}) before the expected log line:\n${out.slice(-4000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${script}: timed out waiting for a log line:\n${out.slice(-4000)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
