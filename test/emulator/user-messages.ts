import type { Chat, Message, Update, User } from "grammy/types";
import { EmulatorUsageError } from "./errors.js";
import { unixTime } from "./identities.js";
import type { UserMessageOptions } from "./types.js";

/**
 * A message as a user's client sends it to the bot. Text starting with "/" gets a `bot_command`
 * entity for the command part (including an `@botusername` suffix), as Telegram adds one, so
 * grammY's `bot.command()` matches.
 */
export function userMessage(
  chat: Chat,
  from: User,
  messageId: number,
  text: string,
  options: { date: UserMessageOptions["date"]; senderChat: Chat | undefined },
): Message & Update.NonChannel {
  const command = /^\/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?/.exec(text);
  return {
    message_id: messageId,
    from,
    ...(options.senderChat === undefined ? {} : { sender_chat: options.senderChat }),
    chat,
    date: messageDate(options.date),
    text,
    ...(command ? { entities: [{ type: "bot_command" as const, offset: 0, length: command[0].length }] } : {}),
  } as Message & Update.NonChannel;
}

/** `date` as Telegram sends it (unix seconds): now, or what the test gave (a Date or unix seconds). */
function messageDate(date: Date | number | undefined): number {
  if (date === undefined) return unixTime();
  const seconds = typeof date === "number" ? date : unixTime(date);
  if (!Number.isSafeInteger(seconds) || seconds <= 0) throw new EmulatorUsageError(`date must be a positive unix time, got ${String(date)}`);
  return seconds;
}
