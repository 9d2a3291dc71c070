import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BotApiEmulator } from "../../test/emulator/bot-api-emulator.js";
import { ensureBuilt, startFlags } from "../../test/support/bot-process.js";
import type { Cleanup } from "./cleanup.js";
import { startScriptProcess, type ScriptProcess } from "./script-process.js";
import { treeMemory, type TreeMemory } from "./proc-tree.js";

/**
 * Start-up and memory of one bot process as a user runs it: opsgram as `npm start` runs it
 * (`node dist/main.js`), the baseline as plain `node bench/bare-bot.mjs`. No TypeScript loader in
 * either.
 */
export const ADMIN = { id: 7001, username: "oncall" };
export const ADMIN_CHAT = { id: 7001, type: "private" as const };

export interface RunningBot {
  proc: ScriptProcess;
  /** Spawn → the bot's answer to a /help enqueued before the spawn, ms. */
  firstAnswerMs: number;
  memory(): TreeMemory;
  /** Full GC in the bot (needs `gc: true`); resolves with its JS heap in use afterwards, MiB. */
  gc(): Promise<number>;
  stop(): Promise<void>;
}

export interface StartOptions {
  emulator: BotApiEmulator;
  cleanup: Cleanup;
  /** `--expose-gc` + a SIGUSR2 → gc() hook (bench/lib/gc-on-signal.mjs). Off for idle figures. */
  gc?: boolean;
  timeoutMs?: number;
}

const GC_PRELOAD = join(import.meta.dirname, "gc-on-signal.mjs");

async function startTimed(script: string, env: Record<string, string>, options: StartOptions, label: string, flags: string[] = []): Promise<RunningBot> {
  const { emulator, cleanup } = options;
  const before = emulator.messages.length;
  // The command waits in the queue: the answer time is start-up plus one round trip.
  emulator.sendCommand(ADMIN_CHAT, ADMIN, "/help");
  const t0 = performance.now();
  const t0Wall = Date.now();
  const proc = startScriptProcess(script, env, [...flags, ...(options.gc ? ["--expose-gc", "--import", GC_PRELOAD] : [])]);
  const stop = cleanup.add(label, () => proc.stop());
  // A bot that exits (bad config, say) fails the wait at once instead of after the timeout.
  const exited = new Promise<never>((_, reject) =>
    proc.child.once("exit", (code) => reject(new Error(`${label} exited (${code}) before answering:\n${proc.output().slice(-3000)}`))),
  );
  exited.catch(() => {});
  const answer = await Promise.race([
    emulator.waitForMessage((m) => m.index >= before && m.chatId === ADMIN_CHAT.id, options.timeoutMs ?? 60_000),
    exited,
  ]).catch((err: unknown) => {
    throw new Error(`${label}: no answer to /help: ${(err as Error).message}\n${proc.output().slice(-3000)}`);
  });
  const firstAnswerMs = answer.sentAt.getTime() - t0Wall;
  void t0;
  let gcSeen = 0;
  return {
    proc,
    firstAnswerMs,
    memory: () => treeMemory(proc.pid),
    async gc() {
      const seen = gcSeen++;
      let count = 0;
      const done = proc.waitForLog((l) => l.msg === "bench gc done" && count++ === seen, 10_000);
      process.kill(proc.pid, "SIGUSR2");
      const line = await done;
      return (line.memory as { heapUsed: number }).heapUsed / 1048576;
    },
    stop: async () => {
      await stop();
    },
  };
}

export interface OpsgramEnv {
  dataDir: string;
  databaseUrl?: string;
  /** opsgram.yml to use; a missing file means "no targets". */
  configPath: string;
}

export function startOpsgram(env: OpsgramEnv, options: StartOptions, label = "opsgram"): Promise<RunningBot> {
  return startTimed(
    ensureBuilt(),
    {
      TELEGRAM_BOT_TOKEN: options.emulator.token,
      TELEGRAM_API_ROOT: options.emulator.apiRoot,
      ADMIN_CHAT_IDS: String(ADMIN_CHAT.id),
      DATA_DIR: env.dataDir,
      OPSGRAM_CONFIG: env.configPath,
      LOG_LEVEL: "info",
      ...(env.databaseUrl ? { DATABASE_URL: env.databaseUrl } : {}),
    },
    options,
    label,
    startFlags(), // exactly what `npm start` runs
  );
}

export function startBareBot(options: StartOptions, label = "bare runner bot"): Promise<RunningBot> {
  return startTimed(
    "bench/bare-bot.mjs",
    { TELEGRAM_BOT_TOKEN: options.emulator.token, TELEGRAM_API_ROOT: options.emulator.apiRoot, BARE_POLLING: "runner" },
    options,
    label,
  );
}

/** An opsgram.yml with `n` targets, all on the one sandbox VPS (each gets its own connection and monitors). */
export function writeTargetsConfig(path: string, n: number, target: (name: string) => Record<string, unknown>): string {
  const targets: Record<string, unknown> = {};
  for (let i = 1; i <= n; i++) targets[`t${i}`] = target(`t${i}`);
  writeFileSync(path, JSON.stringify({ targets }, null, 2)); // JSON is YAML
  return path;
}

/** Sends `n` /help as the admin and resolves when all `n` answers arrived. */
export async function helpBurst(emulator: BotApiEmulator, n: number, timeoutMs: number): Promise<number> {
  const before = emulator.messages.length;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) emulator.sendCommand(ADMIN_CHAT, ADMIN, "/help");
  const deadline = Date.now() + timeoutMs;
  while (emulator.messages.length - before < n) {
    if (Date.now() > deadline) throw new Error(`burst: ${emulator.messages.length - before} of ${n} answers after ${timeoutMs} ms`);
    await emulator.waitForMessage(undefined, Math.max(1, deadline - Date.now()));
  }
  return performance.now() - t0;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
