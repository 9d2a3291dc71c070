/**
 * Who may talk to the bot. A pure predicate so the rule is tested without grammY:
 * the chat must be an admin chat, and when ADMIN_USER_IDS is set the user must be on it too —
 * in a group, the person pressing a button must be allowed, not just the chat.
 */
export interface AllowlistRules {
  adminChatIds: readonly number[];
  adminUserIds: readonly number[] | undefined;
}

export type AllowDecision = { allowed: true } | { allowed: false; reason: "unknown_chat" | "unknown_user" | "no_sender" };

export function decideAccess(rules: AllowlistRules, chatId: number | undefined, userId: number | undefined): AllowDecision {
  if (chatId === undefined || !rules.adminChatIds.includes(chatId)) return { allowed: false, reason: "unknown_chat" };
  if (rules.adminUserIds) {
    if (userId === undefined) return { allowed: false, reason: "no_sender" };
    if (!rules.adminUserIds.includes(userId)) return { allowed: false, reason: "unknown_user" };
  }
  return { allowed: true };
}
