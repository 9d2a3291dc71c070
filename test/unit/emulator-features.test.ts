import { Bot, InlineKeyboard, type Context } from "grammy";
import type { CallbackQuery, Message } from "grammy/types";
import { describe, expect, it } from "vitest";
import { EmulatorUsageError, GROUP_ANONYMOUS_BOT } from "../emulator/bot-api-emulator.js";
import { ADMIN, GROUP, grammyError, useEmulatorBot } from "../support/emulator-bot.js";

const APP_BOT_TOKEN = `7000000001:${"a".repeat(35)}`;
const OTHER_GROUP = { id: -1009999999999, type: "supergroup" as const, title: "other team" };

describe("BotApiEmulator: webhooks of this bot and of other bots", () => {
  const env = useEmulatorBot();

  it("answers getWebhookInfo per token, with what the test configured for the app's own bot", async () => {
    const { telegram, bot } = env;
    telegram.sendText(ADMIN.id, ADMIN, "queued");
    expect(await bot.api.getWebhookInfo()).toEqual({ url: "", has_custom_certificate: false, pending_update_count: 1 });

    const unknownApp = new Bot(APP_BOT_TOKEN, { client: { apiRoot: telegram.apiRoot } });
    expect((await grammyError(unknownApp.api.getWebhookInfo())).error_code).toBe(401); // not configured yet

    const failedAt = new Date("2030-03-04T05:06:07Z");
    telegram.setWebhookInfo(
      { url: "https://quiz.example/webhook/telegram", pending_update_count: 250, last_error_date: failedAt, last_error_message: "Wrong response from the webhook: 502 Bad Gateway" },
      APP_BOT_TOKEN,
    );
    const app = new Bot(APP_BOT_TOKEN, { client: { apiRoot: telegram.apiRoot } });
    expect(await app.api.getWebhookInfo()).toEqual({
      url: "https://quiz.example/webhook/telegram",
      has_custom_certificate: false,
      pending_update_count: 250,
      last_error_date: failedAt.getTime() / 1000,
      last_error_message: "Wrong response from the webhook: 502 Bad Gateway",
    });
    // The app's bot is a different bot, and the emulated one is unaffected.
    expect((await app.api.getMe()).id).toBe(7000000001);
    expect((await bot.api.getWebhookInfo()).url).toBe("");
    expect((await grammyError(app.api.sendMessage(ADMIN.id, "hi"))).error_code).toBe(404);

    // Later settings merge: the error clears, the rest stays.
    telegram.setWebhookInfo({ last_error_date: undefined, last_error_message: undefined, pending_update_count: 0 }, APP_BOT_TOKEN);
    expect(await app.api.getWebhookInfo()).toEqual({ url: "https://quiz.example/webhook/telegram", has_custom_certificate: false, pending_update_count: 0 });
  });

  it("scopes faults to one token: the app bot's can fail while this bot's calls go through", async () => {
    const { telegram, bot } = env;
    telegram.setWebhookInfo({ url: "https://quiz.example/hook" }, APP_BOT_TOKEN);
    const app = new Bot(APP_BOT_TOKEN, { client: { apiRoot: telegram.apiRoot } });
    telegram.failNext("*", { status: 401 }, 1, APP_BOT_TOKEN); // the app's token was revoked
    telegram.failNext("getWebhookInfo", { status: 502 }); // this bot's next call only

    expect((await grammyError(bot.api.getWebhookInfo())).error_code).toBe(502);
    expect((await grammyError(app.api.getWebhookInfo())).description).toBe("Unauthorized");
    expect((await app.api.getWebhookInfo()).url).toBe("https://quiz.example/hook");
    expect((await bot.api.getWebhookInfo()).url).toBe("");
  });

  it("sets and deletes a webhook, refuses getUpdates while one is set, validates the URL", async () => {
    const { telegram, bot } = env;
    const http = await grammyError(bot.api.setWebhook("http://example.org/hook"));
    expect(http.description).toBe("Bad Request: bad webhook: An HTTPS URL must be provided for webhook");
    const port = await grammyError(bot.api.setWebhook("https://example.org:9000/hook"));
    expect(port.description).toMatch(/only on ports 80, 88, 443 or 8443/);

    await expect(bot.api.setWebhook("https://example.org/hook")).resolves.toBe(true);
    expect(telegram.webhookInfo().url).toBe("https://example.org/hook");
    const refused = await grammyError(bot.api.getUpdates());
    expect(refused.error_code).toBe(409);
    expect(refused.description).toBe("Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");

    telegram.sendText(ADMIN.id, ADMIN, "one");
    await bot.api.deleteWebhook({ drop_pending_updates: true });
    expect(telegram.webhookInfo().url).toBe("");
    expect(await bot.api.getUpdates()).toEqual([]); // polling works again, and the queue was dropped
  });
});

describe("BotApiEmulator: what users send", () => {
  const env = useEmulatorBot();

  /** Starts the bot recording every message it receives. */
  function receivedMessages(): Message[] {
    const seen: Message[] = [];
    env.bot.on("message", (ctx) => {
      seen.push(ctx.msg);
    });
    env.startBot();
    return seen;
  }

  it("sends a message with an explicit date, as a backlog after downtime looks", async () => {
    const { telegram } = env;
    const seen = receivedMessages();
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
    const old = telegram.sendCommand(GROUP, ADMIN, "deploy main", { date: tenMinutesAgo });
    telegram.sendCommand(GROUP, ADMIN, "status", { date: 1_900_000_000 });
    telegram.sendCommand(GROUP, ADMIN, "help");
    await telegram.waitUntilIdle();

    expect(seen.map((message) => [message.text, message.date])).toEqual([
      ["/deploy main", Math.floor(tenMinutesAgo.getTime() / 1000)],
      ["/status", 1_900_000_000],
      ["/help", expect.any(Number)],
    ]);
    expect(old.message?.entities).toEqual([{ type: "bot_command", offset: 0, length: 7 }]);
    expect(Math.abs(seen[2]!.date - Date.now() / 1000)).toBeLessThan(60);
    expect(() => telegram.sendText(GROUP, ADMIN, "x", { date: -5 })).toThrow(EmulatorUsageError);
  });

  it("sends as an anonymous group admin: from GroupAnonymousBot, sender_chat the group", async () => {
    const { telegram } = env;
    const seen = receivedMessages();
    telegram.sendAnonymousAdmin(GROUP, "/deploy main");
    await telegram.waitUntilIdle();

    expect(seen[0]?.from).toEqual(GROUP_ANONYMOUS_BOT);
    expect(seen[0]?.sender_chat).toEqual({ id: GROUP.id, type: "supergroup", title: "ops" });
    expect(seen[0]?.chat.id).toBe(GROUP.id);
    expect(() => telegram.sendAnonymousAdmin(ADMIN.id, "/help")).toThrow(/groups only/);
  });

  it("sends a message from another bot, with is_bot set and no language", async () => {
    const { telegram } = env;
    const seen = receivedMessages();
    telegram.sendText(GROUP, { id: 555, username: "ci_bot", is_bot: true }, "/deploy main");
    telegram.sendText(GROUP, ADMIN, "/help");
    await telegram.waitUntilIdle();

    expect(seen[0]?.from).toEqual({ id: 555, is_bot: true, first_name: "Bot 555", username: "ci_bot" });
    expect(seen[1]?.from).toMatchObject({ id: ADMIN.id, is_bot: false, language_code: "en" });
  });
});

describe("BotApiEmulator: flood control on the Nth call, presses replayed elsewhere", () => {
  const env = useEmulatorBot();

  it("answers the Nth call of a method from now with 429 and retry_after, and only that one", async () => {
    const { telegram, bot } = env;
    telegram.rateLimitOnCall("sendMessage", 3, 7);
    telegram.failNext("sendMessage", { status: 502 }); // counts as call 1

    expect((await grammyError(bot.api.sendMessage(ADMIN.id, "1"))).error_code).toBe(502);
    await bot.api.getMe(); // other methods do not count
    await bot.api.sendMessage(ADMIN.id, "2");
    const limited = await grammyError(bot.api.sendMessage(ADMIN.id, "3"));
    expect(limited.error_code).toBe(429);
    expect(limited.parameters.retry_after).toBe(7);
    expect(limited.description).toBe("Too Many Requests: retry after 7");
    await bot.api.sendMessage(ADMIN.id, "4");

    expect(telegram.messages.map((message) => message.text)).toEqual(["2", "4"]);
    expect(telegram.calls.filter((call) => call.method === "sendMessage").map((call) => call.fault)).toEqual([
      { status: 502 },
      undefined,
      { status: 429, retryAfter: 7 },
      undefined,
    ]);
    expect(() => telegram.failOnCall("sendMessage", 0, { status: 502 })).toThrow(EmulatorUsageError);
  });

  it("fails `times` calls in a row from the Nth on", async () => {
    const { telegram, bot } = env;
    telegram.failOnCall("editMessageText", 2, { status: 429, retryAfter: 1 }, 2);
    const sent = await bot.api.sendMessage(ADMIN.id, "v0");
    const outcomes: (number | "ok")[] = [];
    for (const text of ["v1", "v2", "v3", "v4"]) {
      outcomes.push(await bot.api.editMessageText(ADMIN.id, sent.message_id, text).then(() => "ok" as const, (error: { error_code: number }) => error.error_code));
    }
    expect(outcomes).toEqual(["ok", 429, 429, "ok"]);
  });

  it("replays a press's data on the bot's message in another chat", async () => {
    const { telegram, bot } = env;
    const presses: { chat: number | undefined; message: number | undefined; data: string | undefined; query: CallbackQuery }[] = [];
    bot.on("callback_query:data", async (ctx: Context) => {
      const query = ctx.callbackQuery!;
      presses.push({ chat: ctx.chat?.id, message: query.message?.message_id, data: query.data, query });
      await ctx.answerCallbackQuery();
    });
    env.startBot();
    const confirm = new InlineKeyboard().text("Confirm", "op:c:42");
    const here = await bot.api.sendMessage(GROUP.id, "Deploy main?", { reply_markup: confirm });
    const there = await bot.api.sendMessage(OTHER_GROUP.id, "Alert: disk 91%");

    const original = telegram.pressButton(GROUP, ADMIN, here.message_id, "op:c:42");
    const replay = telegram.replayPress(original, OTHER_GROUP, { id: 777 }, there.message_id);
    const stale = telegram.pressButton(GROUP, ADMIN, here.message_id, "op:c:42", { inaccessible: true });
    await telegram.waitUntilIdle();

    expect(presses.map(({ chat, message, data }) => ({ chat, message, data }))).toEqual([
      { chat: GROUP.id, message: here.message_id, data: "op:c:42" },
      { chat: OTHER_GROUP.id, message: there.message_id, data: "op:c:42" },
      { chat: GROUP.id, message: here.message_id, data: "op:c:42" },
    ]);
    expect(replay.callback_query?.from.id).toBe(777);
    expect(replay.callback_query?.chat_instance).not.toBe(original.callback_query?.chat_instance);
    expect(stale.callback_query?.message).toEqual({ chat: here.chat, message_id: here.message_id, date: 0 });
    // Another chat's message ids are its own: the GROUP message's id names nothing in a fresh chat.
    expect(() => telegram.replayPress(original, { id: -100555, type: "supergroup" }, ADMIN, here.message_id)).toThrow(EmulatorUsageError);
    expect(() => telegram.replayPress(telegram.sendText(GROUP, ADMIN, "hi"), GROUP, ADMIN, here.message_id)).toThrow(/needs an update returned by pressButton/);
  });
});
