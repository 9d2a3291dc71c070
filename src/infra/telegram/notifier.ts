import { GrammyError, HttpError, InputFile, type Api, type RawApi } from "grammy";
import type { InlineKeyboardMarkup } from "grammy/types";
import type { MessageOptions, Notifier, SentMessage } from "../../shared/ports.js";
import type { Logger } from "../logger.js";
import { TelegramSendError } from "./errors.js";

export interface TelegramNotifierOptions {
  /** Attempts per call, the first included. Default 4. */
  maxAttempts?: number;
  /**
   * Longest `retry_after` waited for inside one call (seconds). Longer ones are handed to the
   * caller as TelegramSendError.retryAfterMs (the alert outbox waits them out). Default 30.
   */
  maxRetryAfterSeconds?: number;
  /** Minimum gap between two requests to the same chat (ms): Telegram allows ~1 msg/s per chat. Default 1000. */
  perChatIntervalMs?: number;
  /** First backoff after a 5xx or network error (ms), doubled per attempt. Default 1000. */
  backoffMs?: number;
  /** Injected in unit tests. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  log?: Logger;
}

const NOT_MODIFIED = /message is not modified/i;
/** Network failures where the request certainly never reached Telegram: safe to repeat a send. */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The Notifier port over grammY's `Api`: bounded retries that honour `retry_after`, requests to one
 * chat paced (~1/s) and kept in order, "message is not modified" treated as success (an edit that
 * changes nothing changed nothing). A send is repeated after a network error only when it
 * certainly did not reach Telegram, so a flaky link does not post an alert twice.
 *
 * Give it an `Api` without @grammyjs/auto-retry (e.g. `new Api(token, { apiRoot })`): it does its
 * own retrying, and stacking both multiplies the waits.
 */
export class TelegramNotifier implements Notifier {
  private readonly maxAttempts: number;
  private readonly maxRetryAfterMs: number;
  private readonly perChatIntervalMs: number;
  private readonly backoffMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  /** Per chat: the tail of its request chain and when the next request may start. */
  private readonly lanes = new Map<number, { tail: Promise<unknown>; nextAt: number }>();

  constructor(
    private readonly api: Api<RawApi>,
    options: TelegramNotifierOptions = {},
  ) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 4);
    this.maxRetryAfterMs = (options.maxRetryAfterSeconds ?? 30) * 1000;
    this.perChatIntervalMs = options.perChatIntervalMs ?? 1000;
    this.backoffMs = options.backoffMs ?? 1000;
    this.sleep = options.sleep ?? defaultSleep;
    this.now = options.now ?? Date.now;
    this.log = options.log;
  }

  send(chatId: number, text: string, options: MessageOptions = {}): Promise<SentMessage> {
    return this.inLane(chatId, "sendMessage", false, options, async () => {
      const m = await this.api.sendMessage(chatId, text, {
        ...(options.html ? { parse_mode: "HTML" as const } : {}),
        ...(options.buttons ? { reply_markup: keyboard(options.buttons) } : {}),
        link_preview_options: { is_disabled: true },
      });
      return { chatId: m.chat.id, messageId: m.message_id };
    });
  }

  edit(message: SentMessage, text: string, options: MessageOptions = {}): Promise<void> {
    return this.inLane(message.chatId, "editMessageText", true, options, async () => {
      try {
        await this.api.editMessageText(message.chatId, message.messageId, text, {
          ...(options.html ? { parse_mode: "HTML" as const } : {}),
          ...(options.buttons ? { reply_markup: keyboard(options.buttons) } : {}),
          link_preview_options: { is_disabled: true },
        });
      } catch (err) {
        if (err instanceof GrammyError && err.error_code === 400 && NOT_MODIFIED.test(err.description)) return;
        throw err;
      }
    });
  }

  sendDocument(chatId: number, filename: string, content: string | Buffer, caption?: string): Promise<SentMessage> {
    const data = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    return this.inLane(chatId, "sendDocument", false, {}, async () => {
      const m = await this.api.sendDocument(chatId, new InputFile(data, filename), caption ? { caption } : {});
      return { chatId: m.chat.id, messageId: m.message_id };
    });
  }

  /** Runs `call` after the chat's previous request and its pacing gap, with bounded retries. */
  private inLane<T>(chatId: number, method: string, idempotent: boolean, options: MessageOptions, call: () => Promise<T>): Promise<T> {
    const lane = this.lanes.get(chatId) ?? { tail: Promise.resolve(), nextAt: 0 };
    this.lanes.set(chatId, lane);
    // Lanes are kept (alert and admin chats are few): pacing needs the last request's time.
    const run = lane.tail.then(() =>
      this.withRetries(method, idempotent, async () => {
        const wait = options.unpaced ? 0 : lane.nextAt - this.now();
        if (wait > 0) await this.sleep(wait);
        try {
          return await call();
        } finally {
          lane.nextAt = this.now() + this.perChatIntervalMs;
        }
      }),
    );
    lane.tail = run.catch(() => {});
    return run;
  }

  private async withRetries<T>(method: string, idempotent: boolean, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        const decision = this.classify(err, method, idempotent, attempt);
        if (decision.kind === "throw") throw decision.error;
        this.log?.warn({ method, attempt, waitMs: decision.waitMs, err }, "Bot API call failed; retrying");
        await this.sleep(decision.waitMs);
      }
    }
  }

  private classify(err: unknown, method: string, idempotent: boolean, attempt: number): { kind: "retry"; waitMs: number } | { kind: "throw"; error: TelegramSendError } {
    const last = attempt >= this.maxAttempts;
    const backoff = this.backoffMs * 2 ** (attempt - 1);
    if (err instanceof GrammyError) {
      const retryAfter = err.parameters?.retry_after;
      if (err.error_code === 429 && typeof retryAfter === "number") {
        const ms = retryAfter * 1000;
        if (!last && ms <= this.maxRetryAfterMs) return { kind: "retry", waitMs: ms };
        return { kind: "throw", error: new TelegramSendError(`${method}: rate limited, retry after ${retryAfter} s`, method, 429, ms, false, attempt, { cause: err }) };
      }
      if (err.error_code >= 500 || err.error_code === 429) {
        if (!last) return { kind: "retry", waitMs: backoff };
        return { kind: "throw", error: new TelegramSendError(`${method}: ${err.error_code} ${err.description}`, method, err.error_code, null, false, attempt, { cause: err }) };
      }
      // 400 (bad request, message to edit not found), 401, 403 (blocked, kicked), 404: repeating cannot help.
      return { kind: "throw", error: new TelegramSendError(`${method}: ${err.error_code} ${err.description}`, method, err.error_code, null, true, attempt, { cause: err }) };
    }
    if (err instanceof HttpError) {
      const code = networkCode(err.error);
      const safe = idempotent || (code !== null && NOT_SENT_CODES.has(code));
      if (safe && !last) return { kind: "retry", waitMs: backoff };
      return { kind: "throw", error: new TelegramSendError(`${method}: network error${code ? ` (${code})` : ""}`, method, null, null, false, attempt, { cause: err }) };
    }
    const message = err instanceof Error ? err.message : String(err);
    return { kind: "throw", error: new TelegramSendError(`${method}: ${message}`, method, null, null, false, attempt, { cause: err }) };
  }
}

function keyboard(rows: NonNullable<MessageOptions["buttons"]>): InlineKeyboardMarkup {
  return { inline_keyboard: rows.map((row) => row.map((b) => ({ text: b.text, callback_data: b.data }))) };
}

function networkCode(error: unknown): string | null {
  const e = error as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === "string" ? code : null;
}
