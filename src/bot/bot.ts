import { Bot, Composer, GrammyError, HttpError, InputFile, type Api, type RawApi } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import type { Logger } from "pino";
import type { AuditLog } from "../shared/ports.js";
import { AccessGate, commandOf as parseCommand, requireRole } from "./access-gate.js";
import type { AccessRules } from "./roles.js";
import type { BotContext, BotFeature, CommandInfo } from "./context.js";
import { personName } from "../shared/format.js";
import { RateWindow } from "./rate-window.js";
import { SeenUpdates } from "./seen-updates.js";
import { DEFAULT_STALE_COMMAND_SECONDS, freshCommandsOnly, inOrderPerChat } from "./freshness.js";

const ONE_MINUTE = 60_000; // ms

/** How long the durable de-dup may take before the database counts as unreachable for an update. */
const DATABASE_PROBE_MS = 3_000;

/** `promise`, or a rejection after `ms` (the database may hang rather than refuse). */
function boundedMs<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the database within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The durable de-duplication store (processed_updates). */
export interface ProcessedUpdatesStore {
  /** True the first time an update id is recorded. */
  markProcessed(updateId: number): Promise<boolean>;
}

export interface CreateBotOptions {
  token: string;
  /** Self-hosted Bot API server, or the emulator in tests. */
  apiRoot?: string;
  /** Admin chats, ADMIN_USER_IDS, access.roles and access.commands (bot/roles.ts). */
  rules: AccessRules;
  audit: AuditLog;
  processedUpdates: ProcessedUpdatesStore;
  /** Registered after the guard, in this order. */
  features: BotFeature[];
  log: Logger;
  /** Installs API transformers (bounded auto-retry) before anything is sent. */
  configureApi: (api: Api<RawApi>) => void;
  /** The bot's own user, from getMe at start (so the bot needs no init call of its own). */
  botInfo: UserFromGetMe;
  /** Seconds before a Bot API call is abandoned (grammY's default is 500). */
  timeoutSeconds?: number;
  /** Commands older than this are not run (opsgram.yml staleCommandSeconds). Default 120. */
  staleCommandSeconds?: number;
  now?: () => number;
}

/** Commands shown in /help and the Telegram menu, core first. */
export function commandList(features: readonly BotFeature[]): CommandInfo[] {
  return [...CORE_COMMANDS, ...features.flatMap((f) => f.commands)];
}

const CORE_COMMANDS: CommandInfo[] = [
  { command: "help", description: "this list" },
  { command: "whoami", description: "your user id and this chat's id" },
  { command: "audit", description: "last audit events: /audit [n], default 10, max 50" },
];

function commandOf(text: string | undefined): string | undefined {
  return parseCommand(text)?.command;
}

/** What an update was, for the audit `action` column: the command, or the kind of update. */
function actionOf(ctx: BotContext): string {
  if (ctx.callbackQuery) return "button";
  return commandOf(ctx.message?.text) ?? "message";
}

/**
 * Builds the grammY bot. Middleware order: per-chat ordering → request logging → update
 * de-duplication → /whoami (answers anyone, rate-limited) → access guard (strangers) → role gate
 * (each command's minimum role; buttons need an operator) → durable de-duplication → stale-command
 * refusal → features → error boundary (bot.catch).
 */
export function createBot(options: CreateBotOptions): Bot<BotContext> {
  const now = options.now ?? Date.now;
  const bot = new Bot<BotContext>(options.token, {
    botInfo: options.botInfo,
    client: { timeoutSeconds: options.timeoutSeconds, ...(options.apiRoot ? { apiRoot: options.apiRoot } : {}) },
  });
  options.configureApi(bot.api);

  const seen = new SeenUpdates();
  const gate = new AccessGate(options.rules, options.audit, now);
  const deniedAudit = new RateWindow(ONE_MINUTE);
  const refusalReply = new RateWindow(ONE_MINUTE);
  const whoamiReply = new RateWindow(ONE_MINUTE);

  // 0. One chat's updates in order (freshness.ts); must come before anything that awaits.
  bot.use(inOrderPerChat());

  // 1. Request logging: a child logger per update.
  bot.use(async (ctx, next) => {
    const started = now();
    ctx.actor = {
      chatId: ctx.chat?.id ?? 0,
      userId: ctx.from?.id ?? 0,
      // Never the first name: someone named "alice" without a username must not appear as @alice.
      username: ctx.from?.username ?? null,
    };
    ctx.log = options.log.child({ update_id: ctx.update.update_id, chat_id: ctx.chat?.id, user_id: ctx.from?.id });
    await next();
    ctx.log.debug({ ms: now() - started }, "update handled");
  });

  // 2. In-memory de-duplication: free, catches redeliveries within this process.
  bot.use(async (ctx, next) => {
    if (!seen.firstTime(ctx.update.update_id)) {
      ctx.log.info("duplicate update dropped");
      return;
    }
    await next();
  });

  // 3. /whoami works in any chat, so a newcomer can find the ids for ADMIN_CHAT_IDS.
  bot.command("whoami", async (ctx) => {
    const key = `${ctx.actor.chatId}:${ctx.actor.userId}`;
    if (!whoamiReply.tryPass(key, now())) return;
    await options.audit.append({ ...auditWho(ctx), action: "whoami", target: null, args: null, outcome: "info", operationId: null, detail: null });
    // The role line answers "why was I refused?" and gives the id to put in access.roles.
    const decision = gate.decide(ctx);
    const role = decision.allowed ? `Your role here: ${decision.role}` : "You have no role here.";
    await ctx.reply(`Your user id: ${ctx.actor.userId}\nThis chat id: ${ctx.actor.chatId}\n${role}`);
  });

  // 4. Access guard: strangers get one short refusal per chat per minute, one audit row per
  //    (chat, user) per minute, and nothing else. Everyone else gets their role on the context.
  bot.use(async (ctx, next) => {
    const decision = gate.decide(ctx);
    if (decision.allowed) {
      ctx.role = decision.role;
      if (decision.cap) ctx.roleCap = decision.cap;
      ctx.access = gate;
      return next();
    }
    const t = now();
    ctx.log.info({ reason: decision.reason }, "denied");
    if (deniedAudit.tryPass(`${ctx.chat?.id}:${ctx.from?.id}`, t)) {
      await options.audit.append({
        ...auditWho(ctx),
        action: actionOf(ctx),
        target: null,
        args: null,
        outcome: "denied",
        operationId: null,
        detail: { reason: decision.reason },
      });
    }
    const replyAllowed = refusalReply.tryPass(String(ctx.chat?.id), t);
    if (ctx.callbackQuery) {
      // A button must always be answered or its spinner keeps turning; the text is rate-limited.
      await ctx.answerCallbackQuery(replyAllowed ? { text: "⛔ You are not allowed to do that.", show_alert: true } : {});
    } else if (replyAllowed && ctx.chat) {
      await ctx.reply(
        decision.reason === "anonymous"
          ? "⛔ Anonymous admins cannot use this bot here: turn off “Remain anonymous” and send it as yourself."
          : "⛔ Not allowed. This bot only serves its admin chats. Send /whoami to see your ids.",
      );
    }
  });

  // 4b. Role gate: a command below its minimum role, or a button pressed by a viewer, is refused
  //     here with the role it needs. Handlers check more where the action decides (requireRole).
  bot.use(async (ctx, next) => {
    const asked = gate.needFor(ctx);
    if (asked && !(await requireRole(ctx, asked.need, asked.what))) return;
    return next();
  });

  // 5. Durable de-duplication, for allowed updates only: survives restarts.
  //    When the database does not answer within DATABASE_PROBE_MS, the update goes on marked
  //    `databaseDown` (the in-memory de-dup above still holds): the kill switch must still work.
  bot.use(async (ctx, next) => {
    let fresh: boolean;
    try {
      fresh = await boundedMs(options.processedUpdates.markProcessed(ctx.update.update_id), DATABASE_PROBE_MS);
    } catch (err) {
      ctx.log.warn({ err }, "database unreachable: only the payouts kill switch runs");
      ctx.databaseDown = true;
      fresh = true;
    }
    if (!fresh) {
      ctx.log.info("update already processed before (durable)");
      return;
    }
    await next();
  });

  // 5b. Backlog after downtime: commands older than staleCommandSeconds are not run (freshness.ts).
  bot.use(freshCommandsOnly({ staleSeconds: options.staleCommandSeconds ?? DEFAULT_STALE_COMMAND_SECONDS, audit: options.audit, now }));

  const core = new Composer<BotContext>();
  registerCoreCommands(core, options);
  bot.use(core);
  for (const feature of options.features) {
    const composer = new Composer<BotContext>();
    feature.register(composer);
    bot.use(composer);
  }

  // 6. Error boundary: log everything, tell the chat briefly, never crash the loop.
  bot.catch(async (error) => {
    const { ctx, error: err } = error;
    const log = ctx.log ?? options.log;
    if (err instanceof GrammyError) log.error({ err, method: err.method, code: err.error_code }, "Bot API error");
    else if (err instanceof HttpError) log.error({ err }, "could not reach the Bot API");
    else log.error({ err }, "handler failed");
    try {
      if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: "⚠️ Something went wrong; see the bot's log." });
      else if (ctx.chat && gate.decide(ctx).allowed) {
        await ctx.reply("⚠️ Something went wrong handling that; the error is in the bot's log.");
      }
    } catch {
      // The chat may be unreachable too; the log has the error.
    }
  });
  return bot;
}

function auditWho(ctx: BotContext) {
  return {
    chatId: ctx.chat?.id ?? null,
    userId: ctx.from?.id ?? null,
    username: ctx.from?.username ?? null,
  };
}

const AUDIT_DEFAULT = 10;
const AUDIT_MAX = 50;
const MAX_MESSAGE = 4096; // Telegram: characters per message

function registerCoreCommands(composer: Composer<BotContext>, options: CreateBotOptions): void {
  const help = async (ctx: BotContext) => {
    await options.audit.append({ ...auditWho(ctx), action: "help", target: null, args: null, outcome: "info", operationId: null, detail: null });
    await ctx.reply(
      ["opsgram — run this VPS from chat. Commands:", ...commandList(options.features).map((c) => `/${c.command} — ${c.description}`)].join("\n"),
    );
  };
  composer.command("start", help);
  composer.command("help", help);

  composer.command("audit", async (ctx, next) => {
    const arg = ctx.match.trim();
    if (/^(verify|digest)$/i.test(arg)) return next(); // handlers/audit.ts
    if (arg !== "" && !/^\d{1,3}$/.test(arg)) {
      await ctx.reply(`Usage: /audit [n] — n is a number from 1 to ${AUDIT_MAX}.`);
      return;
    }
    const n = Math.min(Math.max(arg === "" ? AUDIT_DEFAULT : Number(arg), 1), AUDIT_MAX);
    const events = await options.audit.recent(n);
    await options.audit.append({ ...auditWho(ctx), action: "audit", target: null, args: { n }, outcome: "info", operationId: null, detail: null });
    if (events.length === 0) {
      await ctx.reply("The audit log is empty.");
      return;
    }
    const lines = events.map((e) => {
      const who = e.userId === null ? "opsgram" : personName(e);
      const time = e.createdAt.toISOString().replace("T", " ").slice(0, 19);
      const op = e.operationId ? ` op ${e.operationId}` : "";
      return `#${e.id} ${time} ${who} ${e.action}${e.target ? ` ${e.target}` : ""} → ${e.outcome}${op}`;
    });
    const text = [`Last ${events.length} audit events (newest first, UTC):`, ...lines].join("\n");
    if (text.length <= MAX_MESSAGE) await ctx.reply(text);
    else await ctx.replyWithDocument(new InputFile(Buffer.from(text, "utf8"), "audit.txt"), { caption: `Last ${events.length} audit events` });
  });
}
