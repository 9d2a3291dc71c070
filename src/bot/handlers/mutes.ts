import type { Composer } from "grammy";
import type { AlertsControl } from "../../health/service.js";
import type { AuditLog } from "../../shared/ports.js";
import { formatMinutes, parseMuteDuration } from "../alerts/duration.js";
import type { BotContext, BotFeature } from "../context.js";

export interface MutesFeatureDeps {
  alerts: AlertsControl;
  audit: AuditLog;
}

const MAX_REASON = 200;
const USAGE_MUTE = "Usage: /mute <service|target> <duration> [reason], e.g. /mute web 4h deploy window (30m, 4h, 2d; at most 7d)";
const USAGE_UNMUTE = "Usage: /unmute <service|target>";

/** "prod:service:web" → "web on prod"; "prod" → "everything on prod". */
export function describeScope(scope: string): string {
  const parts = scope.split(":");
  if (parts.length === 1) return `everything on ${scope}`;
  return `${parts.slice(2).join(":")} on ${parts[0]}`;
}

/**
 * /mute and /unmute. The word names a target (all its alerts) or a service (its incident on each
 * target that has it, whatever the signal). Audited before acting; a refusal is audited too.
 */
export function createMutesFeature(deps: MutesFeatureDeps): BotFeature {
  return {
    name: "mutes",
    commands: [
      { command: "mute", description: "silence a service's or a target's alerts (at most 7 days): /mute <service|target> <30m|4h|2d> [reason]" },
      { command: "unmute", description: "lift a mute: /unmute <service|target>" },
    ],
    register(composer: Composer<BotContext>) {
      const audit = (ctx: BotContext, action: string, args: unknown, outcome: "confirmed" | "failed", detail: unknown) =>
        deps.audit.append({ chatId: ctx.actor.chatId, userId: ctx.actor.userId, username: ctx.actor.username, action, target: null, args, outcome, operationId: null, detail });

      composer.command("mute", async (ctx) => {
        const [word, length, ...rest] = (ctx.match ?? "").trim().split(/\s+/).filter(Boolean);
        if (!word || !length) return void (await ctx.reply(USAGE_MUTE));
        const duration = parseMuteDuration(length);
        const scopes = deps.alerts.scopesFor(word);
        const reason = rest.join(" ").slice(0, MAX_REASON) || null;
        const args = { name: word.slice(0, 64), duration: length.slice(0, 20), reason };
        const problem = "error" in duration ? duration.error : scopes.length === 0 ? unknownName(word, deps.alerts.knownNames()) : null;
        if (problem !== null || "error" in duration) {
          await audit(ctx, "alerts.mute", args, "failed", { reason: problem });
          return void (await ctx.reply(`⛔ ${problem}`));
        }
        // No audit, no action: the row is committed before the mute takes effect.
        await audit(ctx, "alerts.mute", { ...args, minutes: duration.minutes }, "confirmed", { scopes });
        const muted = await deps.alerts.muteScopes(scopes, duration.minutes, ctx.actor, reason);
        const until = muted[0]?.until.toISOString().slice(0, 16).replace("T", " ");
        await ctx.reply(`🔕 Muted ${scopes.map(describeScope).join(", ")} for ${formatMinutes(duration.minutes)} (until ${until} UTC)${reason ? `: ${reason}` : ""}.`);
      });

      composer.command("unmute", async (ctx) => {
        const [word] = (ctx.match ?? "").trim().split(/\s+/).filter(Boolean);
        if (!word) return void (await ctx.reply(USAGE_UNMUTE));
        const scopes = deps.alerts.scopesFor(word);
        const args = { name: word.slice(0, 64) };
        if (scopes.length === 0) {
          const problem = unknownName(word, deps.alerts.knownNames());
          await audit(ctx, "alerts.unmute", args, "failed", { reason: problem });
          return void (await ctx.reply(`⛔ ${problem}`));
        }
        await audit(ctx, "alerts.unmute", args, "confirmed", { scopes });
        const lifted = await deps.alerts.unmuteScopes(scopes);
        if (lifted.length === 0) return void (await ctx.reply(`Nothing was muted for ${scopes.map(describeScope).join(", ")}.`));
        await ctx.reply(`🔔 Unmuted ${lifted.map(describeScope).join(", ")}. Alerts about it are sent again.`);
      });
    },
  };
}

function unknownName(word: string, known: string[]): string {
  const shown = known.slice(0, 30).join(", ") || "none yet";
  return `"${word.slice(0, 64)}" is neither a target nor a known service. Known: ${shown}`;
}
