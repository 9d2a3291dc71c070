import type { AlertRenderer } from "../../health/ports.js";
import type { Incident } from "../../health/types.js";
import { formatDuration } from "../../shared/format.js";
import type { InlineButton } from "../../shared/ports.js";
import { ackData, MUTE_CHOICES_MINUTES, muteData } from "./callback-data.js";

/**
 * Alert texts. Plain text (no parse mode), so nothing from a container name or an error message
 * can break the markup. Kept within Telegram's 4096 characters: long lists are cut with a count.
 */

const TELEGRAM_TEXT_LIMIT = 4096;
const MAX_LINES = 30;

function hhmm(d: Date): string {
  return `${d.toISOString().slice(11, 19)} UTC`;
}

function icon(incident: Incident): string {
  if (incident.state === "resolved") return "🟢";
  if (incident.state === "muted") return "🔕";
  return "🔴";
}

/** "🔴 prod: web exited (code 137, OOM)"; a flapping one says so first. */
export function alertLine(incident: Incident): string {
  const flapping = incident.flaps > 0 ? `${subjectLabel(incident)} is flapping (${incident.flaps} outages within 1 h) — ` : "";
  return `${icon(incident)} ${incident.key.target}: ${flapping}${incident.lastError}`;
}

/** The first line of a one-incident message: the alert line, or a count when several signals are listed. */
function headline(incident: Incident): string {
  if (incident.signals.length < 2) return alertLine(incident);
  const failing = incident.signals.filter((s) => s.failing).length;
  const flapping = incident.flaps > 0 ? ` is flapping (${incident.flaps} outages within 1 h)` : "";
  return `${icon(incident)} ${incident.key.target}: ${subjectLabel(incident)}${flapping} — ${failing} of ${incident.signals.length} signals failing`;
}

/** Under the headline of an incident with several signals: each one, recovered ones ticked. */
function signalLines(incident: Incident): string[] {
  if (incident.signals.length < 2) return [];
  return incident.signals.map((s) => (s.failing ? `• ${s.error}` : `✓ ${s.error} (recovered)`));
}

/** What the state adds under the headline: since when, acked by whom, muted, resolved after… */
function stateNote(incident: Incident, mutedUntil: Date | null): string {
  if (incident.state === "resolved" && incident.resolvedAt) {
    return `resolved after ${formatDuration(incident.resolvedAt.getTime() - incident.openedAt.getTime())}`;
  }
  const parts = [`since ${hhmm(incident.openedAt)}`];
  if (incident.ackedAt) parts.push(`acked by ${who(incident.ackedByName, incident.ackedBy)}`);
  if (incident.state === "muted" && mutedUntil) parts.push(`muted until ${hhmm(mutedUntil)}`);
  return parts.join(" · ");
}

function who(name: string | null, id: number | null): string {
  if (name) return `@${name}`;
  return id === null ? "someone" : `user ${id}`;
}

/**
 * The alert message for one incident or a coalesced burst (several incidents sharing one message),
 * re-rendered from current state on every edit.
 */
export function renderAlertMessage(incidents: readonly Incident[], mutedUntil: (i: Incident) => Date | null = () => null): string {
  const sorted = [...incidents].sort((a, b) => a.id - b.id);
  const only = sorted.length === 1 ? sorted[0] : undefined;
  if (only) return clamp([headline(only), ...signalLines(only), stateNote(only, mutedUntil(only))].join("\n"));
  const down = sorted.filter((i) => i.state !== "resolved").length;
  const head = down > 0 ? `🔴 ${down} of ${sorted.length} problems open` : `🟢 all ${sorted.length} problems resolved`;
  const lines = sorted.map((i) => `${alertLine(i)} — ${stateNote(i, mutedUntil(i))}`);
  return clamp([head, ...capLines(lines)].join("\n"));
}

/** [Ack] [Mute 1h] [Mute 24h] while anything on the message is unresolved; no buttons once all is resolved. */
export function alertButtons(incidents: readonly Incident[]): InlineButton[][] {
  const open = incidents.filter((i) => i.state !== "resolved");
  const first = open.reduce<Incident | undefined>((a, b) => (a && a.id < b.id ? a : b), undefined);
  if (!first) return [];
  const row: InlineButton[] = [];
  if (open.some((i) => !i.ackedAt)) row.push({ text: "Ack", data: ackData(first.id) });
  for (const minutes of MUTE_CHOICES_MINUTES) {
    row.push({ text: `Mute ${minutes % 60 === 0 ? `${minutes / 60}h` : `${minutes}m`}`, data: muteData(first.id, minutes) });
  }
  return [row];
}

/** "🟢 prod: web recovered after 3 min 12 s" */
export function recoveryLine(incident: Incident): string {
  const took = formatDuration((incident.resolvedAt ?? incident.lastSeenAt).getTime() - incident.openedAt.getTime());
  const target = incident.key.target;
  if (incident.key.source === "payouts") return `🟢 ${target}: payouts resumed (paused alert open for ${took})`;
  if (incident.key.source === "backup") return `🟢 ${target}: backups are fresh again after ${took}`;
  return `🟢 ${target}: ${subjectLabel(incident)} recovered after ${took}`;
}

/** Recoveries coalesced into one message. */
export function renderRecoveryMessage(lines: readonly string[]): string {
  if (lines.length === 1) return clamp(lines[0] ?? "");
  return clamp([`🟢 ${lines.length} recovered`, ...capLines([...lines])].join("\n"));
}

/** "⏰ prod: web still down after 1 h 5 min — web exited (code 137)" */
export function reminderLine(incident: Incident, now: Date): string {
  const open = formatDuration(now.getTime() - incident.openedAt.getTime());
  if (incident.key.source === "payouts") return `⏰ ${incident.key.target}: ${incident.lastError} — reminder, open for ${open}`;
  return `⏰ ${incident.key.target}: still down after ${open} — ${incident.lastError}`;
}

export function renderReminderMessage(lines: readonly string[]): string {
  if (lines.length === 1) return clamp(lines[0] ?? "");
  return clamp([`⏰ ${lines.length} problems still open`, ...capLines([...lines])].join("\n"));
}

/** What recovered: the service, the check's name… (the subject, with the source when it helps). */
export function subjectLabel(incident: Incident): string {
  const { source, subject } = incident.key;
  switch (source) {
    case "service":
    case "docker":
      return subject;
    case "http":
      return `HTTP check ${subject}`;
    case "disk":
      return `disk ${subject}`;
    case "backup":
      return "backups";
    case "payouts":
      return "payouts";
    case "reachability":
      return "SSH reachability";
  }
}

function capLines(lines: string[]): string[] {
  if (lines.length <= MAX_LINES) return lines;
  return [...lines.slice(0, MAX_LINES - 1), `… and ${lines.length - (MAX_LINES - 1)} more`];
}

function clamp(text: string): string {
  if (text.length <= TELEGRAM_TEXT_LIMIT) return text;
  return `${text.slice(0, TELEGRAM_TEXT_LIMIT - 2)} …`;
}

/** The renderer health/ is given by app.ts. */
export const alertRenderer: AlertRenderer = {
  alertLine,
  recoveryLine,
  reminderLine,
  alertMessage: (incidents, mutedUntil) => ({ text: renderAlertMessage(incidents, mutedUntil), buttons: alertButtons(incidents) }),
  recoveryMessage: renderRecoveryMessage,
  reminderMessage: (lines, only) => ({ text: renderReminderMessage(lines), buttons: only ? alertButtons([only]) : [] }),
};
