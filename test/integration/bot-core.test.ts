import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BotApiEmulator } from "../emulator/bot-api-emulator.js";
import { startBotProcess, runBotToExit, type BotProcess } from "../support/bot-process.js";
import { createTestDatabase } from "../support/db.js";
import { waitFor } from "../support/wait.js";
import { openDatabase } from "../../src/infra/db/client.js";
import { PostgresAuditLog } from "../../src/infra/db/audit-log.js";

const ADMIN_GROUP = { id: -1001000000001, type: "supergroup" as const, title: "ops" };
const ADMIN = { id: 7001, username: "oncall" };
const OTHER_ADMIN = { id: 7002, username: "second" };
const STRANGER = { id: 666, username: "stranger" };
const STRANGER_CHAT = { id: 666, type: "private" as const };

/** How many "update handled" log lines the bot wrote for `updateIds` (its per-update completion event). */
function handledCount(bot: BotProcess, updateIds: readonly number[]): number {
  const wanted = new Set(updateIds);
  return bot.logs().filter((l) => l.msg === "update handled" && wanted.has(l.update_id as number)).length;
}

describe("bot core, end to end (bot process + emulator + real Postgres)", () => {
  let emulator: BotApiEmulator;
  let bot: BotProcess;
  let databaseUrl: string;
  let sql: postgres.Sql;

  beforeAll(async () => {
    emulator = await BotApiEmulator.start();
    databaseUrl = createTestDatabase("core");
    sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
    bot = startBotProcess({
      env: {
        TELEGRAM_BOT_TOKEN: emulator.token,
        TELEGRAM_API_ROOT: emulator.apiRoot,
        ADMIN_CHAT_IDS: String(ADMIN_GROUP.id),
        ADMIN_USER_IDS: `${ADMIN.id},${OTHER_ADMIN.id}`,
        DATABASE_URL: databaseUrl,
      },
    });
    await bot.waitForLog((l) => l.msg === "opsgram started");
  });

  afterAll(async () => {
    await bot?.stop();
    await sql?.end();
    await emulator?.stop();
  });

  it("registers its commands and answers an admin's /help", async () => {
    expect(emulator.commands.at(-1)?.commands.map((c: { command: string }) => c.command)).toEqual(
      expect.arrayContaining(["help", "whoami", "audit"]),
    );
    emulator.sendCommand(ADMIN_GROUP, ADMIN, "/help");
    const reply = await emulator.waitForMessage((m) => m.chatId === ADMIN_GROUP.id);
    expect(reply.text).toContain("/whoami");
    expect(reply.text).toContain("/audit");
  });

  it("refuses a stranger chat once and audits it", async () => {
    emulator.sendCommand(STRANGER_CHAT, STRANGER, "/deploy main");
    const refusal = await emulator.waitForMessage((m) => m.chatId === STRANGER_CHAT.id);
    expect(refusal.text).toMatch(/Not allowed/);
    const rows = await sql`SELECT action, outcome, detail FROM audit_events WHERE chat_id = ${STRANGER_CHAT.id}`;
    expect(rows).toEqual([{ action: "deploy", outcome: "denied", detail: { reason: "unknown_chat" } }]);
  });

  it("refuses a stranger inside an admin group, and a stranger's button press", async () => {
    const intruder = { id: 9009, username: "intruder" };
    emulator.sendCommand(ADMIN_GROUP, intruder, "/audit");
    const refusal = await emulator.waitForMessage((m) => m.chatId === ADMIN_GROUP.id);
    expect(refusal.text).toMatch(/Not allowed/);
    // A button on a message in the admin group, pressed by someone who is not an admin user.
    const press = emulator.pressButton(ADMIN_GROUP, intruder, refusal.messageId, "op:c:whatever");
    const answer = await emulator.waitForCallbackAnswer(press.callback_query!.id);
    expect(answer.text ?? "").toMatch(/not allowed|^$/i);
    await emulator.waitUntilIdle();
    const rows = await sql`SELECT outcome, detail FROM audit_events WHERE user_id = ${intruder.id}`;
    expect(rows.length).toBe(1); // one row per (chat, user) per minute, the button press included
    expect(rows[0]).toMatchObject({ outcome: "denied", detail: { reason: "unknown_user" } });
  });

  it("handles an update delivered twice only once", async () => {
    const before = emulator.messages.length;
    const update = emulator.sendCommand(ADMIN_GROUP, OTHER_ADMIN, "/help");
    await emulator.waitForMessage((m) => m.index >= before && m.chatId === ADMIN_GROUP.id);
    emulator.redeliver(update);
    // The marker: the bot logs "update handled" after each handling, the dropped duplicate's included.
    await waitFor("both deliveries to be handled", () => (handledCount(bot, [update.update_id]) === 2 ? true : undefined));
    expect(bot.logs().some((l) => l.msg === "duplicate update dropped" && l.update_id === update.update_id)).toBe(true);
    expect(emulator.messages.slice(before).filter((m) => m.chatId === ADMIN_GROUP.id)).toHaveLength(1);
    const [row] = await sql`SELECT count(*)::int AS n FROM processed_updates WHERE update_id = ${update.update_id}`;
    expect(row!.n).toBe(1);
  });

  it("a flood of 2,000 messages from a stranger leaves at most 2 audit rows", async () => {
    const flooder = { id: 424242, username: "flooder" };
    const chat = { id: 424242, type: "private" as const };
    const ids = Array.from({ length: 2000 }, (_, i) => emulator.sendText(chat, flooder, `/deploy main ${i}`).update_id);
    // Not "idle, then a pause": wait until the bot reports every one of them handled.
    await waitFor("all 2,000 updates handled", () => (handledCount(bot, ids) === ids.length ? true : undefined), 90_000, 200);
    const [row] = await sql`SELECT count(*)::int AS n FROM audit_events WHERE user_id = ${flooder.id}`;
    expect(row!.n).toBeGreaterThanOrEqual(1);
    expect(row!.n).toBeLessThanOrEqual(2);
    const replies = emulator.messages.filter((m) => m.chatId === chat.id);
    expect(replies.length).toBeLessThanOrEqual(2);
    const [writes] = await sql`SELECT count(*)::int AS n FROM processed_updates`;
    expect(writes!.n).toBeLessThan(50); // strangers cost no de-duplication writes either
  });

  it("/whoami answers in any chat with the caller's ids, and is audited", async () => {
    const newcomer = { id: 31337, username: "newcomer" };
    emulator.sendCommand({ id: 31337, type: "private" }, newcomer, "/whoami");
    const reply = await emulator.waitForMessage((m) => m.chatId === 31337 && m.text.includes("user id"));
    expect(reply.text).toContain("31337");
    const rows = await sql`SELECT action, outcome FROM audit_events WHERE user_id = ${newcomer.id}`;
    expect(rows).toEqual([{ action: "whoami", outcome: "info" }]);
  });

  it("/audit shows the events, newest first", async () => {
    emulator.sendCommand(ADMIN_GROUP, ADMIN, "/audit 5");
    const reply = await emulator.waitForMessage((m) => m.chatId === ADMIN_GROUP.id && m.text.startsWith("Last"));
    const lines = reply.text.split("\n").slice(1);
    expect(lines).toHaveLength(5);
    const ids = lines.map((l) => Number(/^#(\d+)/.exec(l)![1]));
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
    expect(reply.text).toContain("whoami → info");
    emulator.sendCommand(ADMIN_GROUP, ADMIN, "/audit lots");
    const usage = await emulator.waitForMessage((m) => m.chatId === ADMIN_GROUP.id && m.text.startsWith("Usage"));
    expect(usage.text).toContain("/audit [n]");
  });

  it("audit_events refuses UPDATE, DELETE and TRUNCATE, and its hash chain verifies", async () => {
    await expect(sql`UPDATE audit_events SET outcome = 'succeeded'`).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM audit_events`).rejects.toThrow(/append-only/);
    await expect(sql`TRUNCATE audit_events`).rejects.toThrow(/append-only/);
    const handle = await openDatabase({ url: databaseUrl, dataDir: "/nonexistent" });
    try {
      const result = await new PostgresAuditLog(handle.db).verifyChain();
      expect(result).toMatchObject({ ok: true });
      if (result.ok) expect(result.count).toBeGreaterThanOrEqual(5);
    } finally {
      await handle.close();
    }
  });

  it("never writes the token to its log", () => {
    expect(bot.output()).not.toContain(emulator.token);
    expect(bot.output()).not.toContain(emulator.token.split(":")[1]);
  });

  it("--check validates env, config, database and getMe, then exits 0", async () => {
    const { code, output } = await runBotToExit({
      env: { TELEGRAM_BOT_TOKEN: emulator.token, TELEGRAM_API_ROOT: emulator.apiRoot, ADMIN_CHAT_IDS: "1", DATABASE_URL: databaseUrl },
      args: ["--check"],
    });
    expect(output).toContain("setup ok");
    expect(output).toContain("targets: none configured");
    expect(code).toBe(0);
  });

  it("--check exits 2 when Telegram rejects the token", async () => {
    const { code, output } = await runBotToExit({
      env: { TELEGRAM_BOT_TOKEN: `123456:${"Z".repeat(35)}`, TELEGRAM_API_ROOT: emulator.apiRoot, ADMIN_CHAT_IDS: "1", DATABASE_URL: databaseUrl },
      args: ["--check"],
    });
    expect(code).toBe(2);
    expect(output).toContain("TELEGRAM_BOT_TOKEN: rejected by Telegram (401");
    expect(output).not.toContain("Z".repeat(35));
  });
});

describe("when Telegram says another instance polls (409)", () => {
  it("the bot logs why and exits non-zero instead of dying silently or spinning", async () => {
    const emulator = await BotApiEmulator.start();
    const bot = startBotProcess({
      env: { TELEGRAM_BOT_TOKEN: emulator.token, TELEGRAM_API_ROOT: emulator.apiRoot, ADMIN_CHAT_IDS: "77", DATABASE_URL: createTestDatabase("conflict") },
    });
    try {
      await bot.waitForLog((l) => l.msg === "opsgram started");
      emulator.failNext("getUpdates", { status: 409 }, 50);
      const code = await Promise.race([bot.exited, new Promise((r) => setTimeout(() => r("still running"), 90_000))]);
      expect(code).toBe(1);
      expect(bot.output()).toMatch(/another process is polling with this token/);
      expect(bot.logs().some((l) => l.msg === "stopped")).toBe(true); // shut down in order, not crashed
    } finally {
      await bot.stop();
      await emulator.stop();
    }
  });
});

describe("bot core on the embedded database (the default)", () => {
  it("starts without DATABASE_URL, answers and audits; a second bot on the same DATA_DIR is refused", async () => {
    const emulator = await BotApiEmulator.start();
    const dataDir = mkdtempSync(join(tmpdir(), "opsgram-embedded-bot-"));
    const env = { TELEGRAM_BOT_TOKEN: emulator.token, TELEGRAM_API_ROOT: emulator.apiRoot, ADMIN_CHAT_IDS: "55", DATA_DIR: dataDir };
    const bot = startBotProcess({ env });
    try {
      await bot.waitForLog((l) => l.msg === "opsgram started", 60_000);
      expect(bot.logs().some((l) => typeof l.msg === "string" && l.msg.startsWith("first start: creating the embedded Postgres database"))).toBe(true);
      expect(bot.logs().some((l) => l.msg === "database ready" && l.kind === "embedded")).toBe(true);
      emulator.sendCommand({ id: 55, type: "private" }, { id: 55 }, "/help");
      await emulator.waitForMessage((m) => m.chatId === 55);
      emulator.sendCommand({ id: 55, type: "private" }, { id: 55 }, "/audit");
      const reply = await emulator.waitForMessage((m) => m.chatId === 55 && m.text.startsWith("Last"));
      expect(reply.text).toContain("audit");

      const second = await runBotToExit({ env });
      expect(second.code).toBe(2);
      expect(second.output).toMatch(/another opsgram uses DATA_DIR .*: stop it first/);
    } finally {
      await bot.stop();
      await emulator.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
