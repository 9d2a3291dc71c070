import type { BotCommand, BotCommandScope, InlineKeyboardMarkup, Message } from "grammy/types";
import type { RawParams } from "./request-body.js";

/** A chat as a test names it: just the id, or with type/title. Positive ids default to private. */
export type ChatRef = number | { id: number; type?: "private" | "group" | "supergroup"; title?: string };

/** A user as a test names it: just the id, or with a username / first name; `is_bot` for another bot. */
export type UserRef = number | { id: number; username?: string; first_name?: string; is_bot?: boolean };

/** How a user's message differs from a fresh one typed by a person in that chat. */
export interface UserMessageOptions {
  /**
   * When it was sent (a Date or unix seconds; default now). Older dates are what the bot sees
   * for commands queued while it was offline.
   */
  date?: Date | number;
  /** Sent on behalf of this chat (`sender_chat`): an anonymous group admin, or a channel. */
  senderChat?: ChatRef;
}

export interface PressOptions {
  /** The query carries an InaccessibleMessage (`date: 0`), as for messages older than 48 h. */
  inaccessible?: boolean;
}

/**
 * What getWebhookInfo reports for one bot token (field names as in the Bot API). Dates may be
 * given as Dates; they are reported in unix seconds.
 */
export interface WebhookState {
  /** "" when no webhook is set. */
  url: string;
  /** Default: the emulator's own queue length for its bot, 0 for other bots. */
  pending_update_count?: number;
  last_error_date?: Date | number;
  last_error_message?: string;
  max_connections?: number;
  ip_address?: string;
}

export interface BotApiEmulatorOptions {
  /** Bot token; a realistic random one (`<digits>:<35 chars>`) when omitted. */
  token?: string;
  /** The bot's username in getMe (default `opsgram_test_bot`). */
  username?: string;
  /** The bot's first name in getMe (default `opsgram test`). */
  firstName?: string;
  /**
   * How long a callback query can be answered (default 15 000 ms). Telegram's real limit is
   * unofficial, ~5–20 s; after it answerCallbackQuery fails with "query is too old".
   */
  callbackQueryTtlMs?: number;
  /** The clock callback-query expiry reads (ms since the epoch, default `Date.now`): a fake one spares real sleeps. */
  now?: () => number;
}

/**
 * A fault for `failNext`: an error response Telegram really sends (429 with `retry_after`, a 5xx),
 * or an answer that is merely slow (`delayMs`, then handled normally).
 */
export type Fault =
  | { status: 429; retryAfter: number }
  | { status: 500 | 502 | 503 }
  /** 409 on getUpdates: what Telegram answers when another process polls with the same token. */
  | { status: 409 }
  /** 401: the token was revoked. */
  | { status: 401 }
  | { delayMs: number };

/** One state of a bot message: as sent, or after an edit. */
export interface MessageVersion {
  /** Visible text (parse_mode applied, trimmed); the caption for documents ("" if none). */
  text: string;
  replyMarkup: InlineKeyboardMarkup | undefined;
  at: Date;
}

/**
 * A message the bot sent. Live: `text`, `replyMarkup` and `message` follow edits, `deleted` follows
 * deleteMessage; `history[0]` is the message as sent, the last entry its current state.
 */
export interface BotMessage {
  /** Position in `emulator.messages`. */
  index: number;
  kind: "text" | "document";
  chatId: number;
  messageId: number;
  /** Visible text (parse_mode applied, trimmed); for documents the caption, "" if none. */
  text: string;
  /** The text/caption exactly as the bot sent it (with its HTML). */
  rawText: string;
  parseMode: string | undefined;
  replyMarkup: InlineKeyboardMarkup | undefined;
  /** Set for `kind: "document"`. */
  document: SentDocument | undefined;
  sentAt: Date;
  editedAt: Date | undefined;
  deleted: boolean;
  history: MessageVersion[];
  /** The Bot API `Message` object as the bot last received it. */
  message: Message;
}

/** One successful editMessageText / editMessageReplyMarkup / editMessageCaption. */
export interface MessageEdit {
  /** Position in `emulator.edits`. */
  index: number;
  method: "editMessageText" | "editMessageReplyMarkup" | "editMessageCaption";
  chatId: number;
  messageId: number;
  /** After the edit. */
  text: string;
  replyMarkup: InlineKeyboardMarkup | undefined;
  /** Before the edit. */
  previousText: string;
  previousReplyMarkup: InlineKeyboardMarkup | undefined;
  at: Date;
  /** The live message (its current state may already be past this edit). */
  message: BotMessage;
}

/** One accepted answerCallbackQuery, with the press it answered. */
export interface CallbackAnswer {
  /** Position in `emulator.callbackAnswers`. */
  index: number;
  queryId: string;
  text: string | undefined;
  showAlert: boolean;
  url: string | undefined;
  cacheTime: number | undefined;
  at: Date;
  /** The press: who pressed what on which message. */
  query: { chatId: number; messageId: number; userId: number; data: string };
}

/** A document the bot uploaded with sendDocument. */
export interface SentDocument {
  /** Position in `emulator.documents`. */
  index: number;
  chatId: number;
  messageId: number;
  filename: string;
  mimeType: string;
  content: Buffer;
  /** Visible caption, `undefined` when none. */
  caption: string | undefined;
  fileId: string;
  at: Date;
  /** The message that carries it. */
  message: BotMessage;
}

/** One accepted setMyCommands. */
export interface CommandsUpdate {
  commands: BotCommand[];
  scope: BotCommandScope | undefined;
  languageCode: string | undefined;
  at: Date;
}

/** One HTTP call the bot made, in arrival order. */
export interface ApiCall {
  /** Position in `emulator.calls`. */
  index: number;
  /** As spelled in the URL (Telegram method names are case-insensitive). */
  method: string;
  /** Parameters as received; uploads appear as `{ filename, contentType, content }`. */
  params: RawParams;
  at: Date;
  /** The injected fault, if `failNext` hit this call. */
  fault: Fault | undefined;
  /** `undefined` while the call is still being answered (e.g. a long poll). */
  response: ApiResponse | undefined;
}

export type ApiResponse =
  | { ok: true; result: unknown }
  | { ok: false; error_code: number; description: string; parameters?: { retry_after?: number } };
