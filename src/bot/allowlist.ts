import { resolveRole, type AccessRules } from "./roles.js";

/**
 * Who may talk to the bot at all: the chat must be an admin chat, and the sender must have a role
 * there (roles.ts decides; strangers get nothing). Kept as the yes/no view of that decision.
 */
export type AllowlistRules = AccessRules;

export type AllowDecision = { allowed: true } | { allowed: false; reason: "unknown_chat" | "unknown_user" | "no_sender" | "anonymous" };

export function decideAccess(rules: AllowlistRules, chatId: number | undefined, userId: number | undefined): AllowDecision {
  const decision = resolveRole(rules, { chatId, userId });
  return decision.allowed ? { allowed: true } : decision;
}
