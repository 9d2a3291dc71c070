import type { Context } from "grammy";
import type { Logger } from "pino";
import type { Actor } from "../shared/ports.js";

/**
 * The context every handler sees. By the time a handler runs, the allowlist guard has passed:
 * the chat is an admin chat and (when ADMIN_USER_IDS is set) the user — including the person
 * pressing a button — is allowed. `actor` is who sent the update.
 */
export type BotContext = Context & {
  /** Child logger carrying update_id, chat_id and user_id. */
  log: Logger;
  actor: Actor;
  /**
   * Set when the database did not answer for this update (the durable de-dup could not be
   * written): only the payouts kill switch runs then; every other mutating command refuses.
   */
  databaseDown?: boolean;
};

/** One line of /help and setMyCommands. */
export interface CommandInfo {
  command: string;
  /** Shown in /help and the Telegram command menu (≤ 256 chars). */
  description: string;
}

/**
 * A group of commands and button handlers that plugs into the bot. Features are registered after
 * the guards and before the error boundary, in the order given to createBot.
 */
export interface BotFeature {
  name: string;
  commands: CommandInfo[];
  register(composer: import("grammy").Composer<BotContext>): void;
}
