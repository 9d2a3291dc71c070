import { Bot, InlineKeyboard } from "grammy";
import { describe, expect, it } from "vitest";
import { BotApiEmulator } from "../emulator/bot-api-emulator.js";
import { ADMIN, grammyError, until, useEmulatorBot } from "../support/emulator-bot.js";

describe("BotApiEmulator with a real grammY bot: updates, faults, errors", () => {
  const env = useEmulatorBot();

  it("delivers a redelivered update a second time, and newer updates only once", async () => {
    const { telegram, bot } = env;
    const seen: number[] = [];
    bot.on("message:text", (ctx) => {
      seen.push(ctx.update.update_id);
    });
    env.startBot();

    const first = telegram.sendText(ADMIN.id, ADMIN, "one");
    await telegram.waitUntilIdle();
    telegram.redeliver(first);
    await telegram.waitUntilIdle();
    const second = telegram.sendText(ADMIN.id, ADMIN, "two");
    await telegram.waitUntilIdle();

    expect(seen).toEqual([first.update_id, first.update_id, second.update_id]);
    expect(telegram.pendingUpdates).toBe(0);
  });

  it("answers an injected 429 the way Telegram does", async () => {
    const { telegram, bot } = env;
    telegram.failNext("sendMessage", { status: 429, retryAfter: 1 });

    const error = await grammyError(bot.api.sendMessage(ADMIN.id, "hi"));
    expect(error.error_code).toBe(429);
    expect(error.description).toBe("Too Many Requests: retry after 1");
    expect(error.parameters.retry_after).toBe(1);

    await expect(bot.api.sendMessage(ADMIN.id, "hi")).resolves.toMatchObject({ text: "hi" });
    expect(telegram.messages.map((m) => m.text)).toEqual(["hi"]);
    expect(telegram.calls.filter((call) => call.method === "sendMessage").map((call) => call.fault)).toEqual([
      { status: 429, retryAfter: 1 },
      undefined,
    ]);
  });

  it("injects 5xx faults `times` times, for one method or any, and delays", async () => {
    const { telegram, bot } = env;
    telegram.failNext("*", { status: 502 }, 2);
    expect((await grammyError(bot.api.getMe())).error_code).toBe(502);
    expect((await grammyError(bot.api.sendMessage(1, "x"))).description).toBe("Bad Gateway");
    await expect(bot.api.getMe()).resolves.toBeDefined();

    telegram.failNext("getMe", { delayMs: 150 });
    const started = Date.now();
    await bot.api.getMe();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it("rejects a wrong token with 401 and an unknown method with 404", async () => {
    const { telegram, bot } = env;
    const intruder = new Bot(`${telegram.botUser.id}:${"A".repeat(35)}`, { client: { apiRoot: telegram.apiRoot } });
    const unauthorized = await grammyError(intruder.api.getMe());
    expect(unauthorized.error_code).toBe(401);
    expect(unauthorized.description).toBe("Unauthorized");

    const unknown = await grammyError(bot.api.raw.sendPaidMedia({ chat_id: 1, star_count: 1, media: [] }));
    expect(unknown.error_code).toBe(404);
    expect(unknown.description).toBe("Not Found");
  });

  it("implements getUpdates offset, limit and long-poll semantics", async () => {
    const { telegram, bot } = env;
    const a = telegram.sendText(ADMIN.id, ADMIN, "a");
    const b = telegram.sendText(ADMIN.id, ADMIN, "b");
    const c = telegram.sendText(ADMIN.id, ADMIN, "c");

    expect((await bot.api.getUpdates({ limit: 2 })).map((u) => u.update_id)).toEqual([a.update_id, b.update_id]);
    // Unconfirmed updates come again; offset confirms everything below it.
    expect(await bot.api.getUpdates()).toHaveLength(3);
    expect((await bot.api.getUpdates({ offset: b.update_id })).map((u) => u.update_id)).toEqual([b.update_id, c.update_id]);
    expect(telegram.pendingUpdates).toBe(2);
    expect(await bot.api.getUpdates({ offset: c.update_id + 1 })).toEqual([]);
    expect(telegram.pendingUpdates).toBe(0);

    // A long poll returns as soon as an update arrives (its timeout is covered in the internals test).
    const waiting = bot.api.getUpdates({ offset: c.update_id + 1, timeout: 5 });
    await until(() => telegram.longPolling, "the long poll to wait");
    const d = telegram.sendText(ADMIN.id, ADMIN, "d");
    expect((await waiting).map((u) => u.update_id)).toEqual([d.update_id]);
  });

  it("answers the older of two concurrent long polls with 409", async () => {
    const { telegram, bot } = env;
    const older = bot.api.getUpdates({ timeout: 5 });
    await until(() => telegram.longPolling, "the older poll to wait");
    const newer = bot.api.getUpdates({ timeout: 5 });
    const conflict = await grammyError(older);
    expect(conflict.error_code).toBe(409);
    expect(conflict.description).toMatch(/^Conflict: terminated by other getUpdates request/);
    await telegram.stop(); // ends the newer poll with an empty result
    expect(await newer).toEqual([]);
  });

  it("expires callback queries after the configured time", async () => {
    let now = Date.parse("2030-01-01T00:00:00Z");
    const quick = await BotApiEmulator.start({ callbackQueryTtlMs: 30, now: () => now });
    try {
      const api = new Bot(quick.token, { client: { apiRoot: quick.apiRoot } }).api;
      const sent = await api.sendMessage(ADMIN.id, "Pick", { reply_markup: new InlineKeyboard().text("A", "a") });
      const inTime = quick.pressButton(ADMIN.id, ADMIN, sent.message_id, "a");
      const late = quick.pressButton(ADMIN.id, ADMIN, sent.message_id, "a");
      now += 30; // exactly the TTL: still answerable
      await expect(api.answerCallbackQuery(inTime.callback_query!.id)).resolves.toBe(true);
      now += 1;
      const tooOld = await grammyError(api.answerCallbackQuery(late.callback_query!.id));
      expect(tooOld.description).toMatch(/query is too old/);
    } finally {
      await quick.stop();
    }
  });

  it("pushes thousands of updates through a real bot quickly", async () => {
    const { telegram, bot } = env;
    let handled = 0;
    bot.on("message:text", () => {
      handled++;
    });
    env.startBot();
    for (let i = 0; i < 3000; i++) telegram.sendText(ADMIN.id, ADMIN, `m${i}`);
    // A generous bound: this proves throughput is not pathological, not a speed figure.
    await telegram.waitUntilIdle(30_000);
    expect(handled).toBe(3000);
  });
});
