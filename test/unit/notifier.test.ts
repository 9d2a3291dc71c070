import { Api, HttpError } from "grammy";
import { describe, expect, it } from "vitest";
import { configureApi } from "../../src/infra/telegram/configure-api.js";
import { TelegramSendError } from "../../src/infra/telegram/errors.js";
import { TelegramNotifier } from "../../src/infra/telegram/notifier.js";

type Reply = { ok: true; result: unknown } | { ok: false; error_code: number; description: string; parameters?: { retry_after?: number } } | Error;

/**
 * A tiny fake Bot API: grammY's real `Api` with a transformer answering from a script, so the
 * real GrammyError/HttpError paths are exercised without a network.
 */
function fakeApi(script: Reply[]) {
  const api = new Api("123:fake");
  const calls: { method: string; payload: Record<string, unknown> }[] = [];
  let nextId = 1;
  api.config.use(async (_prev, method, payload) => {
    calls.push({ method, payload: payload as Record<string, unknown> });
    const reply = script.shift() ?? { ok: true, result: null };
    if (reply instanceof Error) throw reply;
    if (reply.ok && reply.result === null) {
      const p = payload as { chat_id: number; text?: string };
      return { ok: true, result: { message_id: nextId++, date: 0, chat: { id: p.chat_id, type: "group", title: "t" }, text: p.text ?? "" } } as never;
    }
    return reply as never;
  });
  return { api, calls };
}

/** Fake time: sleeps advance it instantly and are recorded. */
function fakeTime() {
  let t = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
  };
}

const rateLimited = (s: number): Reply => ({ ok: false, error_code: 429, description: `Too Many Requests: retry after ${s}`, parameters: { retry_after: s } });
const networkError = (code: string) => new HttpError("Network request failed", Object.assign(new Error(code), { code }));

describe("TelegramNotifier", () => {
  it("waits retry_after and retries once: one message, not two", async () => {
    const { api, calls } = fakeApi([rateLimited(3)]);
    const time = fakeTime();
    const notifier = new TelegramNotifier(api, { ...time });
    const sent = await notifier.send(-100, "🔴 prod: web exited (code 137)", { buttons: [[{ text: "Ack", data: "alerts:ack:1" }]] });
    expect(sent).toEqual({ chatId: -100, messageId: 1 });
    expect(calls.map((c) => c.method)).toEqual(["sendMessage", "sendMessage"]);
    expect(time.sleeps).toEqual([3000]);
    expect(calls[1]!.payload.reply_markup).toEqual({ inline_keyboard: [[{ text: "Ack", callback_data: "alerts:ack:1" }]] });
  });

  it("hands a retry_after beyond its bound to the caller instead of sleeping", async () => {
    const { api, calls } = fakeApi([rateLimited(120)]);
    const time = fakeTime();
    const notifier = new TelegramNotifier(api, { ...time, maxRetryAfterSeconds: 30 });
    const err = await notifier.send(-100, "x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TelegramSendError);
    expect(err).toMatchObject({ name: "TelegramSendError", retryAfterMs: 120_000, permanent: false, errorCode: 429 });
    expect(calls).toHaveLength(1);
    expect(time.sleeps).toEqual([]);
  });

  it("bounds retries of 5xx with a doubling backoff", async () => {
    const bad: Reply = { ok: false, error_code: 502, description: "Bad Gateway" };
    const { api, calls } = fakeApi([bad, bad, bad, bad, bad]);
    const time = fakeTime();
    const notifier = new TelegramNotifier(api, { ...time, maxAttempts: 4, backoffMs: 500, perChatIntervalMs: 0 });
    const err = await notifier.send(-100, "x").catch((e: unknown) => e);
    expect(err).toMatchObject({ permanent: false, errorCode: 502, attempts: 4 });
    expect(calls).toHaveLength(4);
    expect(time.sleeps).toEqual([500, 1000, 2000]);
  });

  it("does not retry a permanent refusal", async () => {
    const { api, calls } = fakeApi([{ ok: false, error_code: 403, description: "Forbidden: bot was blocked by the user" }]);
    const notifier = new TelegramNotifier(api, { ...fakeTime() });
    await expect(notifier.send(-100, "x")).rejects.toMatchObject({ permanent: true, errorCode: 403 });
    expect(calls).toHaveLength(1);
  });

  it("treats 'message is not modified' as success", async () => {
    const { api, calls } = fakeApi([{ ok: false, error_code: 400, description: "Bad Request: message is not modified: specified new message content and reply markup are exactly the same" }]);
    const notifier = new TelegramNotifier(api, { ...fakeTime() });
    await expect(notifier.edit({ chatId: -100, messageId: 5 }, "same")).resolves.toBeUndefined();
    expect(calls).toHaveLength(1);
  });

  it("repeats a send after a network error only when it surely never reached Telegram; edits always", async () => {
    const reset = fakeApi([networkError("ECONNRESET")]);
    await expect(new TelegramNotifier(reset.api, { ...fakeTime() }).send(-100, "x")).rejects.toMatchObject({ permanent: false, errorCode: null });
    expect(reset.calls).toHaveLength(1); // may have been posted: no second copy

    const refused = fakeApi([networkError("ECONNREFUSED")]);
    await expect(new TelegramNotifier(refused.api, { ...fakeTime() }).send(-100, "x")).resolves.toMatchObject({ messageId: 1 });
    expect(refused.calls).toHaveLength(2);

    const editReset = fakeApi([networkError("ECONNRESET")]);
    await new TelegramNotifier(editReset.api, { ...fakeTime() }).edit({ chatId: -100, messageId: 1 }, "x");
    expect(editReset.calls).toHaveLength(2);
  });

  it("paces requests to one chat (~1/s) and keeps their order; other chats do not wait", async () => {
    const { api, calls } = fakeApi([]);
    const time = fakeTime();
    const notifier = new TelegramNotifier(api, { ...time, perChatIntervalMs: 1000 });
    await Promise.all([notifier.send(-1, "a"), notifier.send(-1, "b"), notifier.send(-2, "c"), notifier.edit({ chatId: -1, messageId: 1 }, "a2")]);
    expect(calls.map((c) => `${c.payload.chat_id}:${c.payload.text}`)).toEqual(["-1:a", "-2:c", "-1:b", "-1:a2"]);
    expect(time.sleeps).toEqual([1000, 1000]);
  });
});

describe("configureApi (auto-retry with bounds)", () => {
  it("retries a rate limit at most 3 times and never waits beyond 30 s", async () => {
    const { api, calls } = fakeApi([rateLimited(0), rateLimited(0), rateLimited(0), rateLimited(0), rateLimited(0)]);
    configureApi(api);
    await expect(api.sendMessage(-100, "x")).rejects.toMatchObject({ error_code: 429 });
    expect(calls).toHaveLength(4);

    const long = fakeApi([rateLimited(31)]);
    configureApi(long.api);
    await expect(long.api.sendMessage(-100, "x")).rejects.toMatchObject({ error_code: 429 });
    expect(long.calls).toHaveLength(1);
  });

  it("does not loop on network errors (the plugin's default retries them forever)", async () => {
    const { api, calls } = fakeApi([networkError("ECONNRESET"), networkError("ECONNRESET")]);
    configureApi(api);
    await expect(api.sendMessage(-100, "x")).rejects.toBeInstanceOf(HttpError);
    expect(calls).toHaveLength(1);
  });

  it("an unpaced edit skips the per-chat gap but keeps the chat's order", async () => {
    const { api, calls } = fakeApi([]);
    const time = fakeTime();
    const notifier = new TelegramNotifier(api, { ...time, perChatIntervalMs: 1000 });
    const sent = await notifier.send(1, "plan");
    await notifier.edit(sent, "paced");
    expect(time.sleeps).toEqual([1000]);
    await notifier.edit(sent, "✅ final", { unpaced: true });
    expect(time.sleeps).toEqual([1000]);
    expect(calls.map((c) => c.payload.text)).toEqual(["plan", "paced", "✅ final"]);
  });
});
