import { randomBytes } from "node:crypto";
import type { CallbackQuery, User } from "grammy/types";
import { badRequest } from "./errors.js";
import type { Params } from "./params.js";
import { RecordStream } from "./record-stream.js";
import type { BotMessage, CallbackAnswer } from "./types.js";

interface PendingCallbackQuery {
  createdAt: number;
  answered: boolean;
  chatId: number;
  messageId: number;
  userId: number;
  data: string;
}

/**
 * Button presses: each press is a callback query with a fresh id that the bot may answer once,
 * within the TTL, as Telegram allows; accepted answers are recorded.
 */
export class CallbackQueries {
  readonly answers = new RecordStream<CallbackAnswer>();
  private readonly pending = new Map<string, PendingCallbackQuery>();

  constructor(
    private readonly ttlMs: number,
    /** Milliseconds since the epoch; tests of expiry pass a fake clock instead of sleeping. */
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A press of `data` by `from` under `record`. With `inaccessible`, the query carries what
   * Telegram sends for a message the bot can no longer read (older than 48 h): chat, id, date 0.
   */
  press(record: BotMessage, from: User, chatInstance: string, data: string, inaccessible = false): CallbackQuery {
    const id = randomBytes(8).readBigUInt64BE().toString();
    const { chatId, messageId } = record;
    this.pending.set(id, { createdAt: this.now(), answered: false, chatId, messageId, userId: from.id, data });
    const message = inaccessible
      ? { chat: structuredClone(record.message.chat), message_id: messageId, date: 0 as const }
      : structuredClone(record.message);
    return { id, from, message, chat_instance: chatInstance, data };
  }

  /** answerCallbackQuery. */
  answer(params: Params): true {
    const queryId = params.string("callback_query_id") ?? "";
    const query = this.pending.get(queryId);
    if (query === undefined || query.answered || this.now() - query.createdAt > this.ttlMs) {
      throw badRequest("query is too old and response timeout expired or query ID is invalid");
    }
    query.answered = true;
    this.answers.push({
      index: this.answers.items.length,
      queryId,
      text: params.string("text"),
      showAlert: params.boolean("show_alert") ?? false,
      url: params.string("url"),
      cacheTime: params.integer("cache_time"),
      at: new Date(),
      query: { chatId: query.chatId, messageId: query.messageId, userId: query.userId, data: query.data },
    });
    return true;
  }
}
