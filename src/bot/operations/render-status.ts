import { escapeHtml, formatAgo, formatBytes, formatDuration, personName } from "../../shared/format.js";
import { redactText } from "../../shared/redact.js";
import type { BackupRecord, DeploymentRecord, PayoutsState } from "../../operations/model.js";
import type { ServiceLogs, TargetStatus } from "../../operations/status.js";
import { isHealthy } from "../../shared/containers.js";
import type { ContainerSummary } from "../../shared/ports.js";
import { MAX_MESSAGE_CHARS } from "./progress-message.js";

/** What a read-only command sends: a message, or a file when it would not fit in one. */
export type ReadReply =
  | { status: "ok"; html: string }
  /** Too long for a message: send as a file (the caption is HTML). */
  | { status: "document"; filename: string; content: string; caption: string }
  | { status: "refused"; reason: string };

/** Compact, phone-sized /status (HTML). */
export function renderStatus(s: TargetStatus): string {
  const { now, config } = s;
  const lines: string[] = [];
  const name = `<b>${escapeHtml(s.target)}</b>`;
  if (s.head.ok) {
    const { head, tag } = s.head.value;
    lines.push(`${name} · <code>${head.shortSha}</code>${tag ? ` ${escapeHtml(tag)}` : ""} — ${escapeHtml(head.subject)}`);
  } else {
    lines.push(`${name} · ⚠ unreachable: ${escapeHtml(s.head.error)}`);
  }
  if (s.containers.ok) lines.push(...renderServices(config.services, s.containers.value, s.desired?.ok ? s.desired.value : {}));
  else if (s.head.ok) lines.push(`⚠ docker: ${escapeHtml(s.containers.error)}`);

  if (!s.lastDeploy.ok) lines.push(`deploy: ⚠ ${escapeHtml(s.lastDeploy.error)}`);
  else if (s.lastDeploy.value) lines.push(`deploy: ${renderDeployment(s.lastDeploy.value, now)}`);
  else lines.push("deploy: none recorded");

  if (!s.lock.ok) lines.push(`lock: ⚠ ${escapeHtml(s.lock.error)}`);
  else if (!s.lock.value) lines.push("lock: free");
  else {
    const l = s.lock.value;
    const holder = escapeHtml(personName({ userId: l.holderUserId, username: l.holderName }));
    lines.push(
      l.kind === "freeze"
        ? `🧊 frozen by ${holder} ${formatAgo(l.since, now)}${l.reason ? `: ${escapeHtml(l.reason)}` : ""}`
        : `🔒 ${holder}: ${escapeHtml(l.reason ?? "operation")} since ${formatAgo(l.since, now)}`,
    );
  }
  if (config.payouts || (s.payouts.ok && s.payouts.value)) {
    lines.push(s.payouts.ok ? `${s.payouts.value?.paused ? "⏸ " : ""}${escapeHtml(describePayouts(s.payouts.value, now))}` : `payouts: ⚠ ${escapeHtml(s.payouts.error)}`);
  }
  if (config.backup || (s.lastBackup.ok && s.lastBackup.value)) {
    if (!s.lastBackup.ok) lines.push(`backup: ⚠ ${escapeHtml(s.lastBackup.error)}`);
    else if (!s.lastBackup.value) lines.push("backup: none yet");
    else {
      const b = s.lastBackup.value;
      lines.push(`backup: ${formatAgo(b.createdAt, now)} · ${b.sizeBytes !== null ? formatBytes(b.sizeBytes) : "?"}${b.verified ? "" : " · ⚠ unverified"}`);
    }
  }
  if (s.lastDrill) {
    const d = s.lastDrill;
    if (!d.ok) lines.push(`drill: ⚠ ${escapeHtml(d.error)}`);
    else if (!d.value) lines.push("drill: none succeeded yet (/backup drill)");
    else lines.push(`🧪 last good drill: ${formatAgo(d.value.startedAt, now)} · ${escapeHtml(d.value.path?.split("/").at(-1) ?? "?")} restored in ${formatDuration(d.value.durationMs)}`);
  }
  return lines.join("\n");
}

/** "payouts PAUSED by @operator 2h ago: <reason>" / "payouts running" — one /status line (plain text). */
export function describePayouts(state: PayoutsState | null, now: Date): string {
  if (!state || !state.paused) return "payouts running";
  const who = personName({ userId: state.byUserId, username: state.byName });
  return `payouts PAUSED by ${who} ${formatAgo(state.since, now)}${state.reason ? `: ${state.reason}` : ""}`;
}

/** `service running/desired`: desired is the count /scale recorded, else the containers compose made. */
function renderServices(services: Readonly<Record<string, { min: number; max: number }>>, containers: readonly ContainerSummary[], desired: Readonly<Record<string, number>>): string[] {
  const byService = new Map<string, ContainerSummary[]>();
  for (const c of containers) byService.set(c.service, [...(byService.get(c.service) ?? []), c]);
  for (const name of Object.keys(services)) if (!byService.has(name)) byService.set(name, []);
  const parts: string[] = [];
  for (const [service, list] of [...byService].sort(([a], [b]) => a.localeCompare(b))) {
    const running = list.filter((c) => c.state === "running");
    const bounds = Object.hasOwn(services, service) ? services[service] : undefined;
    const expected = Object.hasOwn(desired, service) ? desired[service]! : list.length;
    const unhealthy = running.filter((c) => c.health === "unhealthy").length;
    const starting = running.filter((c) => c.health === "starting").length;
    const healthy = running.filter((c) => c.health === "healthy").length;
    const down = list.filter((c) => c.state !== "running").map((c) => c.state);
    let mark = expected > 0 && list.every(isHealthy) ? "✓" : "⚠";
    const notes: string[] = [];
    if (healthy > 0 && unhealthy === 0 && starting === 0) notes.push("healthy");
    if (unhealthy > 0) notes.push(`${unhealthy} unhealthy`);
    if (starting > 0) notes.push(`${starting} starting`);
    if (down.length > 0) notes.push(down.join(", "));
    if (running.length !== expected) mark = "⚠";
    if (bounds && (running.length < bounds.min || running.length > bounds.max)) {
      mark = "⚠";
      notes.push(`allowed ${bounds.min}–${bounds.max}`);
    }
    parts.push(`${mark} ${escapeHtml(service)} ${running.length}/${expected}${notes.length ? ` ${escapeHtml(notes.join(", "))}` : ""}`);
  }
  if (parts.length === 0) return ["no containers"];
  // Two services per line keeps it short on a phone.
  const rows: string[] = [];
  for (let i = 0; i < parts.length; i += 2) rows.push(parts.slice(i, i + 2).join(" · "));
  return rows;
}

function renderDeployment(d: DeploymentRecord, now: Date): string {
  const icon = { running: "⏳", succeeded: "✅", failed: "❌", rolled_back: "↩", interrupted: "⚠" }[d.status];
  const what = d.kind === "rollback" ? `rollback ${d.ref ?? ""}` : (d.ref ?? "");
  const took = d.finishedAt ? ` in ${formatDuration(d.finishedAt.getTime() - d.startedAt.getTime())}` : "";
  return `${icon} #${d.id} ${escapeHtml(what)} <code>${(d.sha ?? "").slice(0, 7)}</code> by ${escapeHtml(personName({ userId: d.requestedBy, username: d.requestedByName }))} ${formatAgo(d.startedAt, now)}${took}`;
}

/** /logs: in the message when it fits, else as a file with the caption. Several replicas: each line names its replica. */
export function renderLogs(logs: ServiceLogs): ReadReply {
  const services = escapeHtml(logs.services.join(", "));
  const target = escapeHtml(logs.target);
  if (logs.replicas.length === 0) return { status: "ok", html: `${services} ${logs.services.length > 1 ? "have" : "has"} no containers on ${target}.` };
  const prefix = logs.replicas.length > 1;
  const body = logs.entries.map((l) => (prefix ? `${l.replica} | ${l.text}` : l.text));
  const failed = logs.errors.map((e) => `(${e.replica}: could not read: ${e.error})`);
  // operations/ masked it already; masking again here costs nothing and keeps bot/'s promise.
  const content = redactText([...failed, ...body].join("\n").trimEnd()) || (logs.grep ? "(no matching lines)" : "(no output)");
  const filters = [logs.since ? `since ${logs.since}` : "", logs.grep ? `matching /${logs.grep}/i` : ""].filter(Boolean).join(", ");
  const caption = `${logs.services.join(", ")} on ${logs.target}: last ${logs.lines} lines${filters ? ` ${filters}` : ""}${logs.replicas.length > 1 ? ` of ${logs.replicas.length} replicas` : ""}`;
  const html = `${escapeHtml(caption)}\n<pre>${escapeHtml(content)}</pre>`;
  if (html.length > MAX_MESSAGE_CHARS) return { status: "document", filename: `${logs.target}-${logs.services.join("+")}-${logs.lines}.log`, content, caption: escapeHtml(caption) };
  return { status: "ok", html };
}

/** How far a backup is proven: 🧪 restored in a drill, ✓ verified by content, ⚠ header only. */
export function backupMark(b: Pick<BackupRecord, "status" | "verified" | "drilledAt">): string {
  if (b.status === "pruned") return "– (pruned)";
  if (b.drilledAt) return "🧪 drilled";
  return b.verified ? "✓ verified" : "⚠ unverified";
}

/** The `/backups` list: newest first, compact for a phone (plain text). */
export function renderBackups(target: string, backups: readonly BackupRecord[], now: Date): string {
  if (backups.length === 0) return `No backups recorded for ${target} yet. /backup takes one.`;
  const lines = backups.map((b) => {
    const when = `${b.createdAt.toISOString().slice(0, 16).replace("T", " ")} UTC (${formatAgo(b.createdAt, now)})`;
    if (b.status === "failed") return `✗ ${when} — failed: ${b.error ?? "unknown error"}`;
    const size = b.sizeBytes !== null ? formatBytes(b.sizeBytes) : "?";
    const took = b.durationMs !== null ? ` in ${formatDuration(b.durationMs)}` : "";
    const deploy = b.deploymentId !== null ? ` · taken before deploy #${b.deploymentId}` : "";
    return `${backupMark(b)} ${when} · ${size}${took}${deploy}\n   ${b.path ?? ""}`;
  });
  return `Backups of ${target}, newest first:\n${lines.join("\n")}`;
}
