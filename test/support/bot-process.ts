import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const MAIN = join(ROOT, "dist/main.js");

/** Newest modification time of a file under `dir` (recursive), in ms. */
function newestIn(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** The Node flags of `npm start` (package.json), so tests and benchmarks run exactly what it runs. */
export function startFlags(): string[] {
  const start = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start;
  return start.split(/\s+/).filter((word) => word.startsWith("--"));
}

let built = false;
/**
 * The bot runs as production runs it: compiled, `node dist/main.js` (`npm start`). `npm ci`
 * builds dist/ (prepare); when src/ changed since, it is rebuilt here once per test process.
 */
export function ensureBuilt(): string {
  if (built) return MAIN;
  const stale = !existsSync(MAIN) || newestIn(join(ROOT, "src")) > statSync(MAIN).mtimeMs;
  if (stale) execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.build.json")], { cwd: ROOT, stdio: "inherit" });
  built = true;
  return MAIN;
}

export interface BotProcess {
  child: ChildProcess;
  /** Every line the process wrote to stdout/stderr so far. */
  output(): string;
  /** Parsed pino JSON lines from stdout. */
  logs(): Record<string, unknown>[];
  /** Resolves when a log line matches (or rejects after timeoutMs with the output so far). */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

export interface BotProcessOptions {
  env: Record<string, string>;
  args?: string[];
  cwd?: string;
}

/**
 * Runs the real bot (`node dist/main.js`, as `npm start` does) as a child process with only the
 * env given, plus PATH/HOME. A temp DATA_DIR is used unless the env says otherwise.
 */
export function startBotProcess(options: BotProcessOptions): BotProcess {
  const dataDir = mkdtempSync(join(tmpdir(), "opsgram-bot-"));
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    DATA_DIR: dataDir,
    OPSGRAM_CONFIG: join(dataDir, "missing-opsgram.yml"),
    LOG_LEVEL: "debug",
    ...options.env,
  };
  const child = spawn(process.execPath, [...startFlags(), ensureBuilt(), ...(options.args ?? [])], {
    cwd: options.cwd ?? dataDir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const parsed: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let partial = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    out += text;
    partial += text;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      try {
        parsed.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
    for (const w of waiters) w();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8");
  });
  const exited = new Promise<number | null>((resolveExit) => {
    child.on("exit", (code) => {
      rmSync(dataDir, { recursive: true, force: true });
      for (const w of waiters) w();
      resolveExit(code);
    });
  });
  return {
    child,
    exited,
    output: () => out,
    logs: () => parsed,
    waitForLog(predicate, timeoutMs = 20_000) {
      return new Promise((resolveWait, reject) => {
        const check = () => {
          const found = parsed.find(predicate);
          if (found) {
            cleanup();
            resolveWait(found);
          } else if (child.exitCode !== null) {
            cleanup();
            reject(new Error(`bot exited (${child.exitCode}) before the expected log line. Output:\n${out.slice(-4000)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for a log line. Output:\n${out.slice(-4000)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (child.exitCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}

/** Runs the bot to completion (for --check and bad-config cases). */
export async function runBotToExit(options: BotProcessOptions, timeoutMs = 30_000): Promise<{ code: number | null; output: string }> {
  const bot = startBotProcess(options);
  const timer = setTimeout(() => void bot.kill(), timeoutMs);
  const code = await bot.exited;
  clearTimeout(timer);
  return { code, output: bot.output() };
}
