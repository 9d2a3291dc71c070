import type { Composer } from "grammy";
import { formatMinutes } from "../alerts/duration.js";
import { ALERT_CALLBACK_PREFIX, parseAlertData } from "../alerts/callback-data.js";
import { alertLine } from "../alerts/render.js";
import type { AlertsControl } from "../../health/service.js";
import type { Incident, Mute } from "../../health/types.js";
import type { AuditLog } from "../../shared/ports.js";
import { formatAgo } from "../../shared/format.js";
import type { BotContext, BotFeature } from "../context.js";
import { describeScope } from "./mutes.js";

export interface AlertsFeatureDeps {
  /** The health service (startHealth().alerts). */
  alerts: AlertsControl;
  audit: AuditLog;
  now?: () => Date;
}

const MAX_LINES = 40;

function listLine(i: Incident, now: Date): string {
  const notes = [`since ${formatAgo(i.openedAt, now)}`];
  if (i.ackedAt) notes.push(`acked by ${i.ackedByName ? `@${i.ackedByName}` : `user ${i.ackedBy}`}`);
  if (i.state === "muted") notes.push("muted");
  return `${alertLine(i)} — ${notes.join(", ")}`;
}

/** "🔕 web on prod until 14:00 UTC, by @alice: deploy window" */
function muteLine(m: Mute): string {
  const by = m.byName ? `@${m.byName}` : m.byUserId !== null ? `user ${m.byUserId}` : "someone";
  const until = m.until.toISOString().slice(0, 16).replace("T", " ");
  return `🔕 ${describeScope(m.key)} until ${until} UTC, by ${by}${m.reason ? `: ${m.reason}` : ""}`;
}

/**
 * /alerts (what is open, and what is muted) and the [Ack] / [Mute 1h] buttons on alert messages. Every press is
 * audited before it takes effect; the alert message itself is edited by the alert outbox, so the
 * handler only answers the button.
 */
export function createAlertsFeature(deps: AlertsFeatureDeps): BotFeature {
  const now = deps.now ?? (() => new Date());
  return {
    name: "alerts",
    commands: [{ command: "alerts", description: "open health incidents and mutes (Ack and Mute are buttons on each alert)" }],
    register(composer: Composer<BotContext>) {
      composer.command("alerts", async (ctx) => {
        const open = deps.alerts.openIncidents();
        const mutes = deps.alerts.activeMutes();
        if (open.length === 0 && mutes.length === 0) {
          await ctx.reply("✅ No open incidents.");
          return;
        }
        const t = now();
        const lines = open.map((i) => listLine(i, t));
        const shown = lines.length > MAX_LINES ? [...lines.slice(0, MAX_LINES), `… and ${lines.length - MAX_LINES} more`] : lines;
        const head = open.length === 0 ? "✅ No open incidents." : `${open.length} open incident${open.length === 1 ? "" : "s"}:`;
        const muted = mutes.length === 0 ? [] : ["", `${mutes.length} mute${mutes.length === 1 ? "" : "s"} in force:`, ...mutes.slice(0, MAX_LINES).map(muteLine)];
        await ctx.reply([head, ...shown, ...muted].join("\n").slice(0, 4096));
      });

      composer.callbackQuery(new RegExp(`^${ALERT_CALLBACK_PREFIX}`), async (ctx) => {
        const parsed = parseAlertData(ctx.callbackQuery.data);
        if (!parsed) {
          await ctx.answerCallbackQuery({ text: "This button is not valid any more." });
          return;
        }
        const m = ctx.callbackQuery.message;
        const message = m ? { chatId: m.chat.id, messageId: m.message_id } : null;
        const affected = await deps.alerts.incidentsFor(parsed.incidentId, message);
        const action = parsed.action === "ack" ? "alerts.ack" : "alerts.mute";
        const who = { chatId: ctx.actor.chatId, userId: ctx.actor.userId, username: ctx.actor.username };
        // No audit, no action: the row is committed before the ack/mute takes effect.
        await deps.audit.append({
          ...who,
          action,
          target: affected[0]?.key.target ?? null,
          args: parsed.action === "mute" ? { incidentId: parsed.incidentId, minutes: parsed.minutes } : { incidentId: parsed.incidentId },
          outcome: "confirmed",
          operationId: null,
          detail: { incidents: affected.map((i) => ({ id: i.id, key: `${i.key.target}:${i.key.source}:${i.key.subject}` })) },
        });
        const result =
          parsed.action === "ack"
            ? await deps.alerts.ack(parsed.incidentId, message, ctx.actor)
            : await deps.alerts.mute(parsed.incidentId, message, parsed.minutes, ctx.actor);
        let text: string;
        if (result.status === "nothing") text = parsed.action === "ack" ? "Already acknowledged or resolved." : "Nothing to mute.";
        else if (parsed.action === "ack") text = `Acknowledged (${result.incidents.length}). No more reminders for it.`;
        else text = `Muted for ${formatMinutes(parsed.minutes)}.`;
        await ctx.answerCallbackQuery({ text });
      });
    },
  };
}
