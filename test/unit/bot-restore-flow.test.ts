import type { ConversationData, VersionedState, VersionedStateStorage } from "@grammyjs/conversations";
import { Bot, Composer } from "grammy";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRestoreFeature, type RestorePort } from "../../src/bot/conversations/restore.js";
import type { BotContext } from "../../src/bot/context.js";
import type { BackupRecord } from "../../src/operations/model.js";
import { BotApiEmulator } from "../emulator/bot-api-emulator.js";

const CHAT = { id: -100777, type: "supergroup" as const, title: "ops" };
const ONCALL = { id: 42, username: "oncall" };
const OTHER = { id: 43, username: "other" };
const silent = { error() {}, warn() {}, info() {}, debug() {}, child: () => silent } as unknown as BotContext["log"];
const now = new Date("2026-11-22T12:00:00Z");

/** Stores through JSON, as Postgres does: what survives here survives a restart. */
class JsonStorage implements VersionedStateStorage<string, ConversationData> {
  rows = new Map<string, string>();
  read(key: string) {
    const v = this.rows.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as VersionedState<ConversationData>);
  }
  write(key: string, value: VersionedState<ConversationData>) {
    this.rows.set(key, JSON.stringify(value));
  }
  delete(key: string) {
    this.rows.delete(key);
  }
}

const backup: BackupRecord = {
  id: 7, target: "prod", operationId: null, path: "/b/prod-20261122T030000Z.dump", sizeBytes: 12_900_000, durationMs: 4000, status: "succeeded",
  createdAt: new Date("2026-11-22T03:00:00Z"), prunedAt: null, error: null, verified: true, verification: "pg_restore read 3 entries", deploymentId: 12, drilledAt: null, copyError: null,
};

let telegram: BotApiEmulator;
let bot: Bot<BotContext> | null;
let storage: JsonStorage;
let requests: { typed: string; userId: number; backupId: number }[];

const port: RestorePort = {
  async choices() {
    return { status: "choices", target: "prod", backups: [backup], now };
  },
  async preview(_actor, r) {
    return { status: "preview", target: "prod", title: "♻ Restore prod from prod-20261122T030000Z.dump", data: { backupId: r.backupId, path: backup.path!, sizeBytes: backup.sizeBytes, createdAt: backup.createdAt.toISOString(), verified: true, verification: "pg_restore read 3 entries", deploymentId: 12, stopServices: ["api"], health: "containers running/healthy" } };
  },
  async request(actor, r) {
    requests.push({ typed: r.typed, userId: actor.userId, backupId: r.backupId });
    if (r.typed.trim() !== "prod") return { status: "refused", reason: "You typed something other than prod: cancelled, nothing ran." };
    return { status: "planned", operationId: "x".repeat(16), title: "t", message: null };
  },
};

async function start(): Promise<void> {
  bot = new Bot<BotContext>(telegram.token, { client: { apiRoot: telegram.apiRoot } });
  await bot.init();
  bot.use(async (ctx, next) => {
    ctx.actor = { chatId: ctx.chat!.id, userId: ctx.from!.id, username: ctx.from!.username ?? null };
    ctx.log = silent;
    await next();
  });
  const composer = new Composer<BotContext>();
  createRestoreFeature({ restore: port, targetNames: ["prod"], storage, waitMs: 300_000 }).register(composer);
  composer.on("message:text", (ctx) => ctx.reply(`fallthrough: ${ctx.message.text}`));
  bot.use(composer);
  void bot.start({ drop_pending_updates: false });
}

async function stop(): Promise<void> {
  await bot?.stop();
  bot = null;
}

beforeEach(async () => {
  telegram = await BotApiEmulator.start();
  storage = new JsonStorage();
  requests = [];
  await start();
});
afterEach(async () => {
  await stop();
  await telegram.stop();
});

async function openMenu() {
  telegram.sendCommand(CHAT, ONCALL, "/restore");
  const menu = await telegram.waitForMessage((m) => m.replyMarkup !== undefined);
  const buttons = menu.replyMarkup!.inline_keyboard.flat();
  return { menu, buttons };
}

describe("/restore conversation", () => {
  it("lists backups as buttons, shows the plan, and passes the typed name to operations", async () => {
    const { menu, buttons } = await openMenu();
    expect(buttons.map((b) => b.text)).toEqual(["11-22 03:00 · 12.3 MB · 9 h 0 min ago · ✓ · before deploy #12", "Cancel"]);
    telegram.pressButton(CHAT, ONCALL, menu.messageId, "rs:7");
    const plan = await telegram.waitForEdit((e) => e.messageId === menu.messageId && e.text.includes("type prod"));
    expect(plan.text).toContain("a safety backup of the current database is taken first");
    expect(plan.text).toContain("stops api during the restore");
    telegram.sendText(CHAT, ONCALL, "prod");
    await waitUntil(() => requests.length === 1);
    expect(requests).toEqual([{ typed: "prod", userId: ONCALL.id, backupId: 7 }]);
    expect(storage.rows.size).toBe(0);
  });

  it("a stranger can neither press its buttons nor type the name; the starter's mistyped name cancels", async () => {
    const { menu } = await openMenu();
    const press = telegram.pressButton(CHAT, OTHER, menu.messageId, "rs:7");
    expect((await telegram.waitForCallbackAnswer(press.callback_query!.id)).text).toBe("Only the person who started this /restore can answer it.");
    telegram.pressButton(CHAT, ONCALL, menu.messageId, "rs:7");
    await telegram.waitForEdit((e) => e.text.includes("type prod"));
    telegram.sendText(CHAT, OTHER, "prod");
    // The other person's message goes on to the other handlers, not into the flow.
    await telegram.waitForMessage((m) => m.text === "fallthrough: prod");
    expect(requests).toEqual([]);
    telegram.sendText(CHAT, ONCALL, "prdo");
    const refused = await telegram.waitForMessage((m) => m.text.startsWith("⛔"));
    expect(refused.text).toContain("nothing ran");
    expect(requests).toEqual([{ typed: "prdo", userId: ONCALL.id, backupId: 7 }]);
  });

  it("a restart in the middle resumes from the stored state", async () => {
    const { menu } = await openMenu();
    telegram.pressButton(CHAT, ONCALL, menu.messageId, "rs:7");
    await telegram.waitForEdit((e) => e.text.includes("type prod"));
    await stop();
    expect(storage.rows.size).toBe(1);
    await start();
    telegram.sendText(CHAT, ONCALL, "prod");
    await waitUntil(() => requests.length === 1);
    expect(requests[0]).toMatchObject({ typed: "prod", backupId: 7 });
  });

  it("/cancel ends the flow: nothing runs, and later text is not taken as the name", async () => {
    const { menu } = await openMenu();
    telegram.pressButton(CHAT, ONCALL, menu.messageId, "rs:7");
    await telegram.waitForEdit((e) => e.text.includes("type prod"));
    telegram.sendCommand(CHAT, ONCALL, "/cancel");
    await telegram.waitForMessage((m) => m.text === "Cancelled: nothing ran.");
    telegram.sendText(CHAT, ONCALL, "prod");
    await telegram.waitForMessage((m) => m.text === "fallthrough: prod");
    expect(requests).toEqual([]);
    expect(telegram.messages.filter((m) => m.text.startsWith("⌛"))).toEqual([]);
  });
});

async function waitUntil(pred: () => boolean) {
  for (let i = 0; i < 500 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(pred()).toBe(true);
}
