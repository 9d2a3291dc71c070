import type { InlineKeyboardButton, InlineKeyboardMarkup } from "grammy/types";
import { badRequest } from "./errors.js";
import { visibleText } from "./formatting.js";

/** Limits from the Bot API docs (see /work/shared/PITFALLS.md). */
export const LIMITS = {
  /** sendMessage / editMessageText `text`, in characters after entity parsing. */
  textLength: 4096,
  /** Captions of documents. */
  captionLength: 1024,
  /** `callback_data` of an inline button, in bytes. */
  callbackDataBytes: 64,
  /** Buttons in one inline keyboard. */
  inlineButtons: 100,
  /** setMyCommands. */
  commands: 100,
  commandLength: 32,
  commandDescriptionLength: 256,
} as const;

/**
 * The text the user will see for sendMessage, or the Bad Request Telegram answers with.
 * Telegram trims surrounding whitespace before checking the length.
 */
export function messageText(
  text: string | undefined,
  parseMode: string | undefined,
  method: "sendMessage" | "editMessageText",
): string {
  const visible = visibleText(text ?? "", parseMode).trim();
  if (visible.length === 0) throw badRequest("message text is empty");
  if (visible.length > LIMITS.textLength) {
    // Telegram words this differently for sends and edits.
    throw badRequest(method === "sendMessage" ? "message is too long" : "MESSAGE_TOO_LONG");
  }
  return visible;
}

/** A caption as the user sees it (`undefined` when there is none), or the Bad Request. */
export function captionText(caption: string | undefined, parseMode: string | undefined): string | undefined {
  if (caption === undefined) return undefined;
  const visible = visibleText(caption, parseMode).trim();
  if (visible.length > LIMITS.captionLength) throw badRequest("message caption is too long");
  return visible.length === 0 ? undefined : visible;
}

/**
 * Validates `reply_markup`. Returns the inline keyboard that becomes part of the message
 * (`undefined` for none or an empty one: Telegram drops it), and ignores reply keyboards,
 * ForceReply and ReplyKeyboardRemove, which never appear on the message itself.
 */
export function inlineKeyboard(markup: unknown): InlineKeyboardMarkup | undefined {
  if (markup === undefined || markup === null) return undefined;
  if (typeof markup !== "object" || Array.isArray(markup)) {
    throw badRequest("can't parse reply keyboard markup JSON object");
  }
  if (!("inline_keyboard" in markup)) return undefined;
  const rows = (markup as { inline_keyboard: unknown }).inline_keyboard;
  if (!Array.isArray(rows) || !rows.every((row) => Array.isArray(row))) {
    throw badRequest("can't parse inline keyboard button: field \"inline_keyboard\" must be an Array of Arrays");
  }
  const buttons = (rows as unknown[][]).flat();
  if (buttons.length > LIMITS.inlineButtons) throw badRequest("reply markup is too long");
  buttons.forEach(validateButton);
  const nonEmptyRows = (rows as InlineKeyboardButton[][]).filter((row) => row.length > 0);
  return nonEmptyRows.length === 0 ? undefined : { inline_keyboard: nonEmptyRows };
}

const BUTTON_ACTIONS = [
  "callback_data", "url", "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
  "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay",
] as const;

function validateButton(button: unknown): void {
  if (typeof button !== "object" || button === null) {
    throw badRequest("can't parse inline keyboard button: InlineKeyboardButton must be an Object");
  }
  const fields = button as Record<string, unknown>;
  if (typeof fields.text !== "string") {
    throw badRequest("can't parse inline keyboard button: Field \"text\" must be of type String");
  }
  if (!BUTTON_ACTIONS.some((action) => fields[action] !== undefined)) {
    throw badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
  }
  if (fields.callback_data !== undefined) {
    const data = fields.callback_data;
    const bytes = typeof data === "string" ? Buffer.byteLength(data, "utf8") : 0;
    if (bytes < 1 || bytes > LIMITS.callbackDataBytes) throw badRequest("BUTTON_DATA_INVALID");
  }
  if (fields.url !== undefined && !isButtonUrl(fields.url)) throw badRequest("BUTTON_URL_INVALID");
}

function isButtonUrl(value: unknown): boolean {
  if (typeof value !== "string") return false;
  try {
    return ["http:", "https:", "tg:"].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** JSON with sorted keys, so two markups compare equal regardless of key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  ) ?? "undefined";
}
