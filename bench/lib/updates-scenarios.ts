/** bench/updates.ts: the scenarios (admin /help, stranger flood) and the DB write ceilings. */
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { resolve } from "node:path";
import type { BotApiEmulator } from "../../test/emulator/bot-api-emulator.js";
import { PostgresAuditLog } from "../../src/infra/db/audit-log.js";
import { openDatabase } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { ProcessedUpdates } from "../../src/infra/db/processed-updates.js";
import { treeCpuMsOf } from "./proc.js";
import { fifoLatencies, summarize } from "./stats.js";
import { emulatorState, type RunningBot } from "./updates-bots.js";
import { ADMIN_CHATS, ADMIN_USERS, N_COMPONENT, SCENARIO_TIMEOUT_MS, STRANGER_PAIRS, cleanup, fmt, log, sleep, until, type ComponentResult } from "./updates-setup.js";

// ------------------------------------------------------------------ scenarios

/** Sends `n` /help (all at once, or at `rate` per second) and pairs every reply with its update. */
export async function adminScenario(emulator: BotApiEmulator, n: number, rate: number | undefined, expectText: string | undefined) {
  const firstReply = emulator.messages.length;
  const sentAt = new Map<number, number[]>();
  const send = (i: number) => {
    const chat = ADMIN_CHATS[i % ADMIN_CHATS.length]!;
    emulator.sendCommand(chat, ADMIN_USERS[i % ADMIN_USERS.length]!, "/help");
    const list = sentAt.get(chat.id) ?? [];
    list.push(Date.now());
    sentAt.set(chat.id, list);
  };
  const t0 = Date.now();
  if (rate === undefined) {
    for (let i = 0; i < n; i++) send(i);
  } else {
    let i = 0;
    while (i < n) {
      const due = Math.min(n, Math.floor(((Date.now() - t0) * rate) / 1000) + 1);
      while (i < due) send(i++);
      if (i < n) await sleep(1);
    }
  }
  await until(`${n} replies`, () => emulator.messages.length - firstReply >= n, () => emulatorState(emulator, firstReply));
  const replies = emulator.messages.slice(firstReply);
  const repliedAt = new Map<number, number[]>();
  let wrong = 0;
  const wrongSamples = new Set<string>();
  let last = 0;
  for (const reply of replies) {
    const list = repliedAt.get(reply.chatId) ?? [];
    list.push(reply.sentAt.getTime());
    repliedAt.set(reply.chatId, list);
    last = Math.max(last, reply.sentAt.getTime());
    if (expectText !== undefined && !reply.text.startsWith(expectText)) {
      wrong++;
      if (wrongSamples.size < 3) wrongSamples.add(reply.text.slice(0, 120));
    }
  }
  const latencies = fifoLatencies(sentAt, repliedAt);
  let overlapping = 0;
  for (const [chat, sent] of sentAt) {
    const replied = repliedAt.get(chat) ?? [];
    for (let k = 1; k < sent.length; k++) if (sent[k]! < (replied[k - 1] ?? Infinity)) overlapping++;
  }
  if (latencies === null) throw new Error("replies do not match updates chat by chat (a reply went to the wrong chat or is missing)");
  const seconds = Math.max(last - t0, 1) / 1000;
  return { updates: n, seconds, updatesPerSecond: n / seconds, latencyMs: summarize(latencies), wrongReplies: wrong, wrongSamples: [...wrongSamples], overlapping };
}

export async function floodScenario(emulator: BotApiEmulator, bot: RunningBot, n: number, strangers: typeof STRANGER_PAIRS) {
  const firstReply = emulator.messages.length;
  const deniedBefore = bot.denied?.().count ?? 0;
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    const pair = strangers[i % strangers.length]!;
    emulator.sendText(pair.chat, pair.user, `let me in ${i}`);
  }
  await emulator.waitUntilIdle(SCENARIO_TIMEOUT_MS);
  const idleAt = Date.now();
  // Proof that every update was handled, not just fetched: a reply each (bare) or a "denied" line each (opsgram).
  let handledAt: number;
  if (bot.denied) {
    await until(`${n} "denied" log lines`, () => bot.denied!().count - deniedBefore >= n, () => `${bot.denied!().count - deniedBefore} so far; ${emulatorState(emulator, firstReply)}`);
    handledAt = bot.denied().lastAt;
  } else {
    await until(`${n} replies`, () => emulator.messages.length - firstReply >= n, () => emulatorState(emulator, firstReply));
    handledAt = Math.max(...emulator.messages.slice(firstReply).map((m) => m.sentAt.getTime()));
  }
  const drainSeconds = Math.max(idleAt - t0, 1) / 1000;
  const handledSeconds = Math.max(handledAt - t0, 1) / 1000;
  return {
    updates: n,
    drainSeconds,
    updatesPerSecond: n / drainSeconds,
    handledSeconds,
    handledUpdatesPerSecond: n / handledSeconds,
    replies: emulator.messages.length - firstReply,
    t0,
  };
}
// ------------------------------------------------------------------ DB write ceilings


/**
 * The per-update DB writes of opsgram's admin path, called directly from this process on a
 * separate database of the same server: 500 concurrent callers (the runner's default concurrency)
 * and 1 (no contention). If one of them alone cannot go faster than X/s, neither can opsgram.
 */
export async function componentCeilings(pg: { createDatabase(name: string): string }, pgPid: number): Promise<ComponentResult[]> {
  const url = pg.createDatabase(`bench_components_${randomBytes(4).toString("hex")}`);
  const handle = await openDatabase({ url, dataDir: resolve(tmpdir()) });
  const closeHandle = cleanup.add("component db", () => handle.close());
  await migrate(handle);
  const audit = new PostgresAuditLog(handle.db);
  const processed = new ProcessedUpdates(handle.db);
  const event = { chatId: ADMIN_CHATS[0]!.id, userId: ADMIN_USERS[0]!.id, username: ADMIN_USERS[0]!.username, action: "help", target: null, args: null, outcome: "info" as const, operationId: null, detail: null };
  let updateId = 1;
  const run = async (name: string, concurrency: number, call: () => Promise<unknown>): Promise<ComponentResult> => {
    let started = 0;
    const cpu0 = process.cpuUsage();
    const pg0 = treeCpuMsOf(pgPid);
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (started < N_COMPONENT) {
          started++;
          await call();
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return {
      name,
      concurrency,
      calls: N_COMPONENT,
      callsPerSecond: N_COMPONENT / seconds,
      clientCpuMs: (cpu.user + cpu.system) / 1000 / N_COMPONENT,
      postgresCpuMs: (treeCpuMsOf(pgPid) - pg0) / N_COMPONENT,
    };
  };
  await run("warm-up", 10, () => audit.append(event));
  const results: ComponentResult[] = [];
  for (const concurrency of [500, 1]) {
    results.push(await run("ProcessedUpdates.markProcessed", concurrency, () => processed.markProcessed(updateId++)));
    results.push(await run("PostgresAuditLog.append", concurrency, () => audit.append(event)));
  }
  const chain = await audit.verifyChain();
  if (!chain.ok) throw new Error(`component audit chain broken at id ${chain.brokenAtId}: ${chain.reason}`);
  await closeHandle();
  for (const r of results) log(`  ${r.name} ×${r.concurrency}: ${fmt(r.callsPerSecond)}/s, ${fmt(r.clientCpuMs, 2)} ms client CPU, ${fmt(r.postgresCpuMs, 2)} ms Postgres CPU per call`);
  return results;
}