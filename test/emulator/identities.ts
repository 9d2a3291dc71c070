import { randomBytes, randomInt } from "node:crypto";
import type { Chat, User, UserFromGetMe } from "grammy/types";
import { EmulatorUsageError } from "./errors.js";
import type { ChatRef, UserRef } from "./types.js";

/**
 * Who is who: bot tokens and the bot user they stand for, users as tests name them, and the chats
 * the emulator has met. Pure helpers plus one small directory; no HTTP, no messages.
 */

/**
 * Telegram's "GroupAnonymousBot": the `from` of every message an anonymous group admin writes
 * (the group itself is then the message's `sender_chat`).
 */
export const GROUP_ANONYMOUS_BOT: User = {
  id: 1087968824,
  is_bot: true,
  first_name: "Group",
  username: "GroupAnonymousBot",
};

/** A token shaped like BotFather's: `<bot id>:<35 chars of [A-Za-z0-9_-]>`, random per run. */
export function randomToken(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
  const secret = Array.from(randomBytes(35), (byte) => alphabet[byte & 63]).join("");
  return `${randomInt(1_000_000_000, 8_000_000_000)}:${secret}`;
}

export function botIdFromToken(token: string): number {
  const match = /^(\d+):[A-Za-z0-9_-]+$/.exec(token);
  if (match === null) throw new EmulatorUsageError("token must look like <bot id>:<secret>");
  return Number(match[1]);
}

/** What getMe answers for a bot. */
export function botUserFor(token: string, firstName: string, username: string): UserFromGetMe {
  return {
    id: botIdFromToken(token),
    is_bot: true,
    first_name: firstName,
    username,
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
    has_topics_enabled: false,
    allows_users_to_create_topics: false,
    can_manage_bots: false,
    supports_join_request_queries: false,
  };
}

export function userFrom(ref: UserRef): User {
  const fields = typeof ref === "number" ? { id: ref } : ref;
  const { id, username, first_name, is_bot = false } = fields as Exclude<UserRef, number>;
  if (!Number.isSafeInteger(id) || id <= 0) throw new EmulatorUsageError(`user ids are positive integers, got ${id}`);
  return {
    id,
    is_bot,
    first_name: first_name ?? (is_bot ? `Bot ${id}` : `User ${id}`),
    ...(username ? { username } : {}),
    // Telegram sends a language code for people only.
    ...(is_bot ? {} : { language_code: "en" }),
  };
}

export function chatIdOf(ref: ChatRef): number {
  const id = typeof ref === "number" ? ref : ref.id;
  if (!Number.isSafeInteger(id) || id === 0) throw new EmulatorUsageError(`chat ids are non-zero integers, got ${id}`);
  return id;
}

export function messageKey(chatId: number, messageId: number): string {
  return `${chatId}:${messageId}`;
}

export function unixTime(at: Date = new Date()): number {
  return Math.floor(at.getTime() / 1000);
}

/** The chats the emulator has met, their message-id counters and callback `chat_instance`s. */
export class ChatDirectory {
  private readonly chats = new Map<number, Chat>();
  private readonly lastMessageId = new Map<number, number>();
  private readonly chatInstances = new Map<number, string>();

  /** Records the chat as a test introduced it; a private chat takes its partner's name. */
  remember(ref: ChatRef, user?: User): Chat {
    const id = chatIdOf(ref);
    const type = (typeof ref === "object" ? ref.type : undefined) ?? (id > 0 ? "private" : "supergroup");
    if ((type === "private") !== id > 0) {
      throw new EmulatorUsageError(`chat ${id} cannot be ${type}: private chats have positive ids, groups negative ones`);
    }
    const known = this.chats.get(id);
    let chat: Chat;
    if (type === "private") {
      const partner = user?.id === id ? user : undefined;
      chat = {
        id,
        type,
        first_name: partner?.first_name ?? (known?.type === "private" ? known.first_name : `User ${id}`),
        ...(partner?.username ? { username: partner.username } : {}),
      };
    } else {
      const title = (typeof ref === "object" ? ref.title : undefined) ?? (known && "title" in known ? known.title : undefined);
      chat = { id, type, title: title ?? `Test ${type} ${id}` } as Chat;
    }
    this.chats.set(id, chat);
    return chat;
  }

  /** The chat the bot writes to: as a test introduced it, or a plausible one from the id alone. */
  get(id: number): Chat {
    return (
      this.chats.get(id) ??
      (id > 0 ? { id, type: "private", first_name: `User ${id}` } : { id, type: "supergroup", title: `Test supergroup ${id}` })
    );
  }

  /** Message ids count per chat and are shared by users and the bot, as in Telegram. */
  nextMessageId(chatId: number): number {
    const id = (this.lastMessageId.get(chatId) ?? 0) + 1;
    this.lastMessageId.set(chatId, id);
    return id;
  }

  /** Telegram's opaque per-chat `chat_instance` of callback queries. */
  chatInstance(chatId: number): string {
    let instance = this.chatInstances.get(chatId);
    if (instance === undefined) {
      instance = randomBytes(8).readBigInt64BE().toString();
      this.chatInstances.set(chatId, instance);
    }
    return instance;
  }
}
