import type { Context } from "grammy";
import type { Logger } from "pino";
import type { Actor } from "../shared/ports.js";
import type { AccessGate } from "./access-gate.js";
import type { Role, RoleCap } from "./roles.js";

/**
 * The context every handler sees. By the time a handler runs, the access guard has passed: the
 * chat is an admin chat, the sender (including the person pressing a button) has a role, and that
 * role is at least the command's minimum (bot/roles.ts). Handlers that need more call
 * `requireRole(ctx, role)` (bot/access-gate.ts). `actor` is who sent the update.
 */
export type BotContext = Context & {
  /** Child logger carrying update_id, chat_id and user_id. */
  log: Logger;
  actor: Actor;
  /** The sender's role in this chat (roles.ts). */
  role: Role;
  /** Why the role is lower than the sender's id would give, if it is. */
  roleCap?: RoleCap;
  /** Refuses and audits; used by requireRole. */
  access: AccessGate;
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
