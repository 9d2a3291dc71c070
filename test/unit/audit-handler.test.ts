import { Bot, Composer } from "grammy";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAuditFeature, type AuditVerdict } from "../../src/bot/handlers/audit.js";
import type { BotContext } from "../../src/bot/context.js";
import type { AuditEventInput } from "../../src/shared/ports.js";
import { BotApiEmulator } from "../emulator/bot-api-emulator.js";

const CHAT = { id: -100777, type: "supergroup" as const, title: "ops" };
const ADMIN = { id: 42, username: "oncall" };
const silent = { error() {}, warn() {}, info() {}, debug() {}, child: () => silent } as unknown as BotContext["log"];

let telegram: BotApiEmulator;
let bot: Bot<BotContext>;
let audited: AuditEventInput[];
let time: number;

/** A chain of 5,000 rows reported in five batches, each 2.5 s apart on the fake clock. */
function chain(verdict: AuditVerdict) {
  return {
    async verifyChain(options: { onProgress?(checked: number, total: number): void }) {
      for (let checked = 1000; checked <= 5000; checked += 1000) {
        time += 2500;
        options.onProgress?.(checked, 5000);
      }
      return verdict;
    },
  };
}

async function start(verdict: AuditVerdict): Promise<void> {
  bot = new Bot<BotContext>(telegram.token, { client: { apiRoot: telegram.apiRoot } });
  await bot.init();
  bot.use(async (ctx, next) => {
    ctx.actor = { chatId: ctx.chat!.id, userId: ctx.from!.id, username: ctx.from!.username ?? null };
    ctx.log = silent;
    await next();
  });
  const feature = createAuditFeature({
    audit: { append: async (e) => (audited.push(e), { ...e, id: audited.length, createdAt: new Date(), prevHash: "", hash: "" }), recent: async () => [] },
    chain: chain(verdict),
    digests: { publish: async () => ({ id: 1, text: "🔏 audit digest: rows 1–3 · head abc", deliveredTo: [] }) },
    now: () => time,
  });
  const composer = new Composer<BotContext>();
  feature.register(composer);
  bot.use(composer);
  void bot.start({ drop_pending_updates: false });
}

beforeEach(async () => {
  telegram = await BotApiEmulator.start();
  audited = [];
  time = 0;
});
afterEach(async () => {
  await bot?.stop();
  await telegram.stop();
});

describe("/audit verify", () => {
  it("audits, shows progress for a long chain, and ends with ✅ and the head", async () => {
    await start({ ok: true, count: 5000, headHash: "0123456789abcdef0123", keyedFromId: 1, digestsChecked: 2 });
    telegram.sendCommand(CHAT, ADMIN, "/audit verify");
    const first = await telegram.waitForMessage((m) => m.chatId === CHAT.id);
    expect(first.text).toBe("🔎 verifying the audit chain…");
    const progress = await telegram.waitForEdit((e) => e.text.startsWith("🔎"));
    expect(progress.text).toBe("🔎 verifying the audit chain: 1,000 of 5,000 rows…");
    const done = await telegram.waitForEdit((e) => e.text.startsWith("✅"));
    expect(done.text).toBe("✅ audit chain intact: 5,000 rows, head 0123456789abcdef\nmatches all 2 published digests\nkeyed (HMAC) from row #1");
    expect(audited.map((e) => [e.action, e.outcome])).toEqual([
      ["audit.verify", "started"],
      ["audit.verify", "succeeded"],
    ]);
  });

  it("names the first bad row, and audits the failure", async () => {
    await start({ ok: false, brokenAtId: 812, kind: "hash", reason: "hash does not match", count: 811 });
    telegram.sendCommand(CHAT, ADMIN, "/audit verify");
    const done = await telegram.waitForEdit((e) => e.text.startsWith("❌"));
    expect(done.text).toBe("❌ row #812: hash does not match\n811 rows before it verified.");
    expect(audited.at(-1)).toMatchObject({ action: "audit.verify", outcome: "failed", detail: { row: 812, kind: "hash" } });
  });

  it("/audit digest replies with the digest when this chat is not an alert chat", async () => {
    await start({ ok: true, count: 0, headHash: "", keyedFromId: null, digestsChecked: 0 });
    telegram.sendCommand(CHAT, ADMIN, "/audit digest");
    expect((await telegram.waitForMessage((m) => m.chatId === CHAT.id)).text).toBe("🔏 audit digest: rows 1–3 · head abc");
  });
});
