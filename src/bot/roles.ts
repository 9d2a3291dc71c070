import { DEFAULT_MIN_ROLE, ROLES, type Role } from "../config/access.js";

export type { Role };

/**
 * Who may do what (issue 12), as pure functions so the rules are tested without grammY.
 * Roles rank viewer < operator < admin and belong to a Telegram user id, in every admin chat.
 */
export interface AccessRules {
  adminChatIds: readonly number[];
  /** ADMIN_USER_IDS: each of them is an admin (unless access.roles names them otherwise). */
  adminUserIds: readonly number[] | undefined;
  /** access.roles: user id → role. */
  roles?: Readonly<Record<string, Role>>;
  /** access.commands: overrides of the default minimum role per command. */
  commands?: Readonly<Partial<Record<string, Role>>>;
}

/** Who sent an update, as far as access is concerned. */
export interface Sender {
  chatId: number | undefined;
  /** "private" | "group" | "supergroup" | "channel"; unknown → judged by the ids alone. */
  chatType?: string;
  userId: number | undefined;
  isBot?: boolean;
  /** Set when the message was sent on behalf of a chat (an anonymous group admin, a linked channel). */
  senderChatId?: number;
}

/** Why a sender was capped below what their id would give. */
export type RoleCap = "anonymous" | "bot" | "unnamed_group";

export type RoleDecision =
  | { allowed: true; role: Role; cap?: RoleCap }
  | { allowed: false; reason: "unknown_chat" | "unknown_user" | "no_sender" | "anonymous" };

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function roleAtLeast(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

function lower(a: Role, b: Role): Role {
  return RANK[a] <= RANK[b] ? a : b;
}

/** True once ADMIN_USER_IDS or access.roles names anyone: from then on unnamed people are strangers. */
export function namesAnyone(rules: AccessRules): boolean {
  return (rules.adminUserIds?.length ?? 0) > 0 || Object.keys(rules.roles ?? {}).length > 0;
}

/** The role a user id is given by name (access.roles first, then ADMIN_USER_IDS), or null. */
function namedRole(rules: AccessRules, userId: number): Role | null {
  const key = String(userId);
  // Own properties only: a user id never resolves through Object.prototype.
  if (rules.roles && Object.hasOwn(rules.roles, key)) {
    const role = rules.roles[key];
    if (role && (ROLES as readonly string[]).includes(role)) return role;
  }
  return rules.adminUserIds?.includes(userId) ? "admin" : null;
}

/**
 * The sender's role, or why they are a stranger.
 * - Only admin chats are served.
 * - Once anyone is named, an unnamed person is a stranger everywhere.
 * - While nobody is named, a private admin chat's own user is an admin and group members are viewers.
 * - Anonymous admins (sender_chat) and bots are never more than viewers; with names configured an
 *   anonymous sender is nobody in particular, hence a stranger.
 */
export function resolveRole(rules: AccessRules, sender: Sender): RoleDecision {
  const { chatId, userId } = sender;
  if (chatId === undefined || !rules.adminChatIds.includes(chatId)) return { allowed: false, reason: "unknown_chat" };
  const anonymous = sender.senderChatId !== undefined;
  const named = namesAnyone(rules);
  if (anonymous && named) return { allowed: false, reason: "anonymous" };
  if (userId === undefined) return named ? { allowed: false, reason: "no_sender" } : { allowed: true, role: "viewer", cap: "unnamed_group" };
  let role: Role;
  let cap: RoleCap | undefined;
  if (named) {
    const byName = namedRole(rules, userId);
    if (!byName) return { allowed: false, reason: "unknown_user" };
    role = byName;
  } else {
    // Telegram gives a private chat the id of its user; the type is checked when it is known.
    const privateChat = chatId === userId && (sender.chatType === undefined || sender.chatType === "private");
    role = privateChat ? "admin" : "viewer";
    if (!privateChat) cap = "unnamed_group";
  }
  if (anonymous) return { allowed: true, role: "viewer", cap: "anonymous" };
  if (sender.isBot && role !== "viewer") return { allowed: true, role: lower(role, "viewer"), cap: "bot" };
  return cap ? { allowed: true, role, cap } : { allowed: true, role };
}

/** Words after /audit that make it an admin's command. */
const ADMIN_AUDIT_WORDS = /^\s*(verify|digest)\b/i;

/**
 * The minimum role for `/command [args]`: access.commands, else the default table; `/audit verify`
 * and `/audit digest` are admin's. /start is /help. A command missing from the table needs an
 * operator: a new command that acts must not slip through as a viewer's (least privilege).
 */
export function minimumRole(rules: AccessRules, command: string, args = ""): Role {
  const name = command.toLowerCase();
  if (name === "audit" && ADMIN_AUDIT_WORDS.test(args)) return "admin";
  const overrides = rules.commands ?? {};
  if (Object.hasOwn(overrides, name) && overrides[name]) return overrides[name];
  if (Object.hasOwn(DEFAULT_MIN_ROLE, name)) return DEFAULT_MIN_ROLE[name as keyof typeof DEFAULT_MIN_ROLE];
  return name === "start" ? "viewer" : "operator";
}

/** Buttons act (confirm, cancel, ack, mute): at least an operator, stricter where a handler says so. */
export const MINIMUM_BUTTON_ROLE: Role = "operator";

/** The hint a group gets, once, while nobody is named. */
export const UNNAMED_GROUP_HINT = "set ADMIN_USER_IDS or access.roles to allow actions in a group";

/** "⛔ /deploy needs the operator role; you are a viewer." (plain text) */
export function refusalText(what: string, need: Role, have: Role, cap: RoleCap | undefined): string {
  const because =
    cap === "anonymous"
      ? "anonymous admins are viewers at most: send it as yourself"
      : cap === "bot"
        ? "bots are viewers at most"
        : `you are ${have === "viewer" ? "a" : "an"} ${have}`;
  return `⛔ ${what} needs the ${need} role; ${because}.`;
}
