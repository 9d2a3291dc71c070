import type { AuditLog } from "../shared/ports.js";
import type { BotContext } from "./context.js";
import { RateWindow } from "./rate-window.js";
import { minimumRole, MINIMUM_BUTTON_ROLE, refusalText, resolveRole, roleAtLeast, UNNAMED_GROUP_HINT, type AccessRules, type Role, type RoleDecision } from "./roles.js";

const ONE_MINUTE = 60_000; // ms

/**
 * The command of a message (`/deploy@opsgram_bot main` → deploy), lower-cased, the rest, and the
 * bot it is addressed to when it names one.
 */
export function commandOf(text: string | undefined): { command: string; args: string; bot?: string } | undefined {
  const match = /^\/([A-Za-z0-9_]{1,32})(?:@(\w+))?(?:\s+([\s\S]*))?$/.exec(text ?? "");
  if (!match?.[1]) return undefined;
  return { command: match[1].toLowerCase(), args: match[3] ?? "", ...(match[2] ? { bot: match[2] } : {}) };
}

/**
 * Applies roles.ts to updates: decides who a sender is, and refuses what their role does not
 * allow — with a reply naming the role needed and a `denied` audit row, both rate-limited per
 * person and action like the stranger refusals (a viewer hammering /deploy writes one row a minute).
 */
export class AccessGate {
  private readonly audits = new RateWindow(ONE_MINUTE);
  private readonly replies = new RateWindow(ONE_MINUTE);
  /** Groups already told how to allow actions while nobody is named ("says once"). */
  private readonly hinted = new Set<number>();

  constructor(
    readonly rules: AccessRules,
    private readonly audit: AuditLog,
    private readonly now: () => number,
  ) {}

  decide(ctx: BotContext): RoleDecision {
    const senderChat = ctx.message?.sender_chat;
    return resolveRole(this.rules, {
      chatId: ctx.chat?.id,
      chatType: ctx.chat?.type,
      userId: ctx.from?.id,
      isBot: ctx.from?.is_bot,
      ...(senderChat ? { senderChatId: senderChat.id } : {}),
    });
  }

  /** The minimum role for a command message, or for a button press. */
  needFor(ctx: BotContext): { what: string; action: string; need: Role } | null {
    if (ctx.callbackQuery) return { what: "This button", action: "button", need: MINIMUM_BUTTON_ROLE };
    const parsed = commandOf(ctx.message?.text ?? ctx.message?.caption);
    // `/deploy@other_bot` in a shared group is another bot's business (grammY ignores it too).
    if (!parsed || (parsed.bot !== undefined && parsed.bot.toLowerCase() !== ctx.me.username.toLowerCase())) return null;
    const need = minimumRole(this.rules, parsed.command, parsed.args);
    const admin = parsed.command === "audit" && need === "admin" ? ` ${parsed.args.trim().split(/\s+/)[0]?.toLowerCase()}` : "";
    return { what: `/${parsed.command}${admin}`, action: `${parsed.command}${admin.replace(" ", ".")}`, need };
  }

  /** Tells the sender (rate-limited; a button is always answered) and audits the refusal as denied. */
  async refuse(ctx: BotContext, what: string, action: string, need: Role): Promise<void> {
    const t = this.now();
    const key = `${ctx.chat?.id}:${ctx.from?.id}:${action}`;
    ctx.log.info({ need, role: ctx.role, action }, "denied: role");
    if (this.audits.tryPass(key, t)) {
      await this.audit.append({
        chatId: ctx.chat?.id ?? null,
        userId: ctx.from?.id ?? null,
        username: ctx.from?.username ?? null,
        action,
        target: null,
        args: null,
        outcome: "denied",
        operationId: null,
        detail: { reason: "role", need, role: ctx.role, ...(ctx.roleCap ? { cap: ctx.roleCap } : {}) },
      });
    }
    let text = refusalText(what, need, ctx.role, ctx.roleCap);
    const chatId = ctx.chat?.id;
    if (ctx.roleCap === "unnamed_group" && chatId !== undefined && !this.hinted.has(chatId)) {
      this.hinted.add(chatId);
      text = `${text}\n${UNNAMED_GROUP_HINT}`;
      // The hint is the point of this reply: let it through whatever the window says.
      this.replies.tryPass(key, t);
      return this.tell(ctx, text, true);
    }
    return this.tell(ctx, text, this.replies.tryPass(key, t));
  }

  private async tell(ctx: BotContext, text: string, speak: boolean): Promise<void> {
    if (ctx.callbackQuery) {
      // A button must always be answered or its spinner keeps turning; Telegram shows ≤ 200 chars.
      await ctx.answerCallbackQuery(speak ? { text: text.slice(0, 200), show_alert: true } : {});
    } else if (speak && ctx.chat) {
      await ctx.reply(text);
    }
  }
}

/**
 * The role check every command, button and conversation step makes. True when the sender has at
 * least `need`; otherwise the sender is told which role is needed, the refusal is audited as
 * denied, and the caller stops. `what` names the action in the reply ("/restore", "This button").
 */
export async function requireRole(ctx: BotContext, need: Role, what?: string): Promise<boolean> {
  if (roleAtLeast(ctx.role, need)) return true;
  const asked = ctx.access.needFor(ctx);
  const label = what ?? asked?.what ?? "This";
  const action = asked?.action ?? (label.startsWith("/") ? label.slice(1).replace(" ", ".") : "step");
  await ctx.access.refuse(ctx, label, action, need);
  return false;
}

/** The sender's role (the guard has already turned strangers away). */
export function roleOf(ctx: BotContext): Role {
  return ctx.role;
}
