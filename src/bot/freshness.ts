import { sequentialize } from "@grammyjs/runner";
import type { MiddlewareFn } from "grammy";
import type { AuditLog } from "../shared/ports.js";
import type { BotContext } from "./context.js";
import { RateWindow } from "./rate-window.js";

const ONE_MINUTE = 60_000; // ms

/** Default age (s) after which a command is not run: opsgram.yml `staleCommandSeconds`. */
export const DEFAULT_STALE_COMMAND_SECONDS = 120;

/** Longest command text echoed back in the "ignored …" reply. */
const MAX_ECHO = 80;

/**
 * Each chat's updates one at a time, in update order; different chats stay parallel. The runner
 * otherwise handles updates concurrently, so `/unlock` then `/lock incident` could overtake each
 * other. Must be the first middleware, before anything awaits.
 */
export function inOrderPerChat(): MiddlewareFn<BotContext> {
  return sequentialize<BotContext>((ctx) => (ctx.chat ? String(ctx.chat.id) : undefined));
}

export interface FreshCommandsOptions {
  /** Commands older than this (judged from message.date) are not run. */
  staleSeconds: number;
  audit: AuditLog;
  now: () => number;
}

/**
 * Refuses commands that waited too long: after downtime Telegram hands over up to 24 h of backlog,
 * and an hour-old `/backup` or `/deploy` must not run with nobody watching. The chat is told what
 * was ignored and why (one reply per chat per minute, one `denied` audit row per chat and user per
 * minute, like other refusals). Only messages are judged: a button press is judged by its
 * operation row's expiry, so pressing Confirm on an older plan message still works.
 */
export function freshCommandsOnly(options: FreshCommandsOptions): MiddlewareFn<BotContext> {
  const replies = new RateWindow(ONE_MINUTE);
  const audits = new RateWindow(ONE_MINUTE);
  return async (ctx, next) => {
    const message = ctx.message;
    const text = message?.text;
    if (!message || !text?.startsWith("/")) return next();
    const now = options.now();
    const ageMs = now - message.date * 1000;
    if (ageMs <= options.staleSeconds * 1000) return next();
    const command = echo(text);
    ctx.log.info({ age_s: Math.round(ageMs / 1000), command: command.split(" ")[0] }, "stale command ignored");
    if (audits.tryPass(`${ctx.chat?.id}:${ctx.from?.id}`, now)) {
      await options.audit.append({
        chatId: ctx.chat?.id ?? null,
        userId: ctx.from?.id ?? null,
        username: ctx.from?.username ?? null,
        action: commandName(text),
        target: null,
        args: null,
        outcome: "denied",
        operationId: null,
        detail: { reason: "stale", ageSeconds: Math.round(ageMs / 1000), maxAgeSeconds: options.staleSeconds },
      });
    }
    if (replies.tryPass(String(ctx.chat?.id), now)) {
      await ctx.reply(staleText(command, ageMs));
    }
  };
}

/** "ignored /deploy main, sent 14 min ago while opsgram was offline; send it again" */
export function staleText(command: string, ageMs: number): string {
  return `ignored ${command}, sent ${formatAge(ageMs)} ago while opsgram was offline; send it again`;
}

/** "45 s", "14 min", "3 h", "2 d": a backlog's age, to the unit a person cares about. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

/** The command as typed, one line, without the @botname suffix, cut to a readable length. */
function echo(text: string): string {
  const line = (text.split("\n")[0] ?? "").replace(/^(\/\w+)@\w+/, "$1").trim();
  return line.length > MAX_ECHO ? `${line.slice(0, MAX_ECHO - 1)}…` : line;
}

function commandName(text: string): string {
  return /^\/([A-Za-z0-9_]{1,32})/.exec(text)?.[1]?.toLowerCase() ?? "message";
}
