import { redactText } from "../shared/redact.js";
import { composeProjectName } from "../commands/compose.js";
import { validateLogLines, validateServiceName } from "../commands/validate.js";
import { escapeHtml, formatAgo, formatDuration } from "../shared/format.js";
import type { GitHead } from "../commands/git.js";
import { who } from "./approvals.js";
import type { OperationsDeps, TargetHandle } from "./context.js";
import { TimeoutError } from "./errors.js";
import { readHead, readHeadTag } from "./git-state.js";
import type { TargetLocks } from "./lock.js";
import type { BackupRecord, DeploymentRecord, LockRecord, PayoutsState } from "./model.js";
import { describePayouts } from "./payouts.js";
import { formatBytes, MAX_MESSAGE_CHARS } from "./progress.js";
import type { Actor, ContainerSummary } from "../shared/ports.js";
import { splitTarget } from "./target-args.js";

/** /status answers within this, whatever the target does. */
export const STATUS_TIMEOUT_MS = 5_000;
/** Each part (git, docker, database) gets this long. */
export const STATUS_PART_TIMEOUT_MS = 3_500;
export const DEFAULT_LOG_LINES = 50;
export const MAX_LOG_LINES = 500;

/** What a read-only command answers: text for the chat, or a refusal. */
export type ReadReply =
  | { status: "ok"; html: string }
  /** Too long for a message: send as a file (the caption is HTML). */
  | { status: "document"; filename: string; content: string; caption: string }
  | { status: "refused"; reason: string };

/** Settles with the value, or with a {@link TimeoutError} after `ms`; never hangs. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type Part<T> = { ok: true; value: T } | { ok: false; error: string };

async function part<T>(promise: Promise<T>, ms: number, what: string): Promise<Part<T>> {
  try {
    return { ok: true, value: await withTimeout(promise, ms, what) };
  } catch (err) {
    // Error text from the target may quote a command line or a URL: mask it before it reaches chat.
    return { ok: false, error: redactText(err instanceof Error ? err.message : String(err)) };
  }
}

/** Everything /status shows about one target; each part may have failed on its own. */
export interface TargetStatus {
  target: string;
  head: Part<{ head: GitHead; tag: string | null }>;
  containers: Part<ContainerSummary[]>;
  lastDeploy: Part<DeploymentRecord | null>;
  lock: Part<LockRecord | null>;
  payouts: Part<PayoutsState | null>;
  lastBackup: Part<BackupRecord | null>;
}

/**
 * `/status [target]` and `/logs <service> [lines] [target]` (issue 3): read-only, fast, and never
 * hanging — every part has its own timeout and an unreachable target is shown as such.
 */
export class StatusService {
  constructor(
    private readonly deps: OperationsDeps,
    private readonly locks: TargetLocks,
  ) {}

  async status(actor: Actor, words: readonly string[]): Promise<ReadReply> {
    const args = splitTarget(this.deps, words, { required: 0, optional: 0, usage: "/status [target]" });
    if (!args.ok) return this.refuse(actor, "status", words, args.reason);
    const status = await this.read(args.target);
    return { status: "ok", html: renderStatus(args.target, status, this.deps.clock.now()) };
  }

  /** Reads all parts of a target's status in parallel, each bounded. */
  async read(target: TargetHandle): Promise<TargetStatus> {
    const { repos } = this.deps;
    const ms = Math.min(STATUS_PART_TIMEOUT_MS, STATUS_TIMEOUT_MS);
    const project = composeProjectName(target.config);
    const [head, containers, lastDeploy, lock, payouts, lastBackup] = await Promise.all([
      part(Promise.all([readHead(target), readHeadTag(target)]).then(([head, tag]) => ({ head, tag })), ms, "git"),
      part(target.ports.docker.listContainers(project), ms, "docker"),
      part(repos.deployments.latest(target.name), ms, "deployments"),
      part(this.locks.current(target.name), ms, "locks"),
      part(repos.payouts.get(target.name), ms, "payouts"),
      part(repos.backups.lastSucceeded(target.name), ms, "backups"),
    ]);
    return { target: target.name, head, containers, lastDeploy, lock, payouts, lastBackup };
  }

  /** `/logs <service> [lines] [target]`: the last lines of each replica, as a file when too long. */
  async logs(actor: Actor, words: readonly string[]): Promise<ReadReply> {
    const usage = "/logs <service> [lines] [target]";
    const args = splitTarget(this.deps, words, { required: 1, optional: 1, usage });
    if (!args.ok) return this.refuse(actor, "logs", words, args.reason);
    const { target, rest } = args;
    const [serviceWord, linesWord] = rest;
    const project = composeProjectName(target.config);
    const listed = await part(target.ports.docker.listContainers(project), STATUS_PART_TIMEOUT_MS, "docker");
    if (!listed.ok) return { status: "refused", reason: `${target.name} is unreachable: ${listed.error}` };
    const known = [...new Set([...Object.keys(target.config.services), ...listed.value.map((c) => c.service)])].sort();
    const service = validateServiceName(serviceWord ?? "", known);
    if (!service.ok) return this.refuse(actor, "logs", words, service.reason);
    const lines = linesWord === undefined ? { ok: true as const, value: DEFAULT_LOG_LINES } : validateLogLines(linesWord, MAX_LOG_LINES);
    if (!lines.ok) return this.refuse(actor, "logs", words, lines.reason);
    const replicas = listed.value.filter((c) => c.service === service.value).sort((a, b) => a.number - b.number);
    if (replicas.length === 0) return { status: "ok", html: `${escapeHtml(service.value)} has no containers on ${escapeHtml(target.name)}.` };
    const redact = this.deps.redact ?? ((t: string) => t);
    const chunks: string[] = [];
    for (const c of replicas) {
      const text = await part(target.ports.docker.logs(c.id, lines.value), 10_000, "docker logs");
      const body = text.ok ? redact(text.value) : `(could not read: ${text.error})`;
      chunks.push(replicas.length > 1 ? `── ${c.name} (${c.state}) ──\n${body}` : body);
    }
    const content = chunks.join("\n").trimEnd() || "(no output)";
    const caption = `${escapeHtml(service.value)} on ${escapeHtml(target.name)}: last ${lines.value} lines${replicas.length > 1 ? ` of ${replicas.length} replicas` : ""}`;
    const html = `${caption}\n<pre>${escapeHtml(content)}</pre>`;
    if (html.length > MAX_MESSAGE_CHARS) {
      return { status: "document", filename: `${target.name}-${service.value}-${lines.value}.log`, content, caption };
    }
    return { status: "ok", html };
  }

  private async refuse(actor: Actor, action: string, words: readonly string[], reason: string): Promise<ReadReply> {
    await this.deps.audit.append({ ...who(actor), action, target: null, args: { words: clipWords(words) }, outcome: "denied", operationId: null, detail: { reason } });
    return { status: "refused", reason };
  }
}

/** Chat input as stored in the audit log: bounded, so a 10,000-character payload does not bloat it. */
export function clipWords(words: readonly string[]): string[] {
  return words.slice(0, 10).map((w) => (w.length > 200 ? `${w.slice(0, 200)}…(${w.length} chars)` : w));
}

/** Compact, phone-sized /status (HTML). */
export function renderStatus(target: TargetHandle, s: TargetStatus, now: Date): string {
  const lines: string[] = [];
  if (s.head.ok) {
    const { head, tag } = s.head.value;
    lines.push(`<b>${escapeHtml(target.name)}</b> · <code>${head.shortSha}</code>${tag ? ` ${escapeHtml(tag)}` : ""} — ${escapeHtml(head.subject)}`);
  } else {
    lines.push(`<b>${escapeHtml(target.name)}</b> · ⚠ unreachable: ${escapeHtml(s.head.error)}`);
  }
  if (s.containers.ok) lines.push(...renderServices(target, s.containers.value));
  else if (s.head.ok) lines.push(`⚠ docker: ${escapeHtml(s.containers.error)}`);

  if (!s.lastDeploy.ok) lines.push(`deploy: ⚠ ${escapeHtml(s.lastDeploy.error)}`);
  else if (s.lastDeploy.value) lines.push(`deploy: ${renderDeployment(s.lastDeploy.value, now)}`);
  else lines.push("deploy: none recorded");

  if (!s.lock.ok) lines.push(`lock: ⚠ ${escapeHtml(s.lock.error)}`);
  else if (!s.lock.value) lines.push("lock: free");
  else {
    const l = s.lock.value;
    const holder = l.holderName ? `@${escapeHtml(l.holderName)}` : "?";
    lines.push(
      l.kind === "freeze"
        ? `🧊 frozen by ${holder} ${formatAgo(l.since, now)}${l.reason ? `: ${escapeHtml(l.reason)}` : ""}`
        : `🔒 ${holder}: ${escapeHtml(l.reason ?? "operation")} since ${formatAgo(l.since, now)}`,
    );
  }
  if (target.config.payouts || (s.payouts.ok && s.payouts.value)) {
    lines.push(s.payouts.ok ? `${s.payouts.value?.paused ? "⏸ " : ""}${escapeHtml(describePayouts(s.payouts.value, now))}` : `payouts: ⚠ ${escapeHtml(s.payouts.error)}`);
  }
  if (target.config.backup || (s.lastBackup.ok && s.lastBackup.value)) {
    if (!s.lastBackup.ok) lines.push(`backup: ⚠ ${escapeHtml(s.lastBackup.error)}`);
    else if (!s.lastBackup.value) lines.push("backup: none yet");
    else {
      const b = s.lastBackup.value;
      lines.push(`backup: ${formatAgo(b.createdAt, now)} · ${b.sizeBytes !== null ? formatBytes(b.sizeBytes) : "?"}`);
    }
  }
  return lines.join("\n");
}

function renderServices(target: TargetHandle, containers: readonly ContainerSummary[]): string[] {
  const byService = new Map<string, ContainerSummary[]>();
  for (const c of containers) byService.set(c.service, [...(byService.get(c.service) ?? []), c]);
  for (const name of Object.keys(target.config.services)) if (!byService.has(name)) byService.set(name, []);
  const parts: string[] = [];
  for (const [service, list] of [...byService].sort(([a], [b]) => a.localeCompare(b))) {
    const running = list.filter((c) => c.state === "running");
    const bounds = target.config.services[service];
    const expected = list.length;
    const unhealthy = running.filter((c) => c.health === "unhealthy").length;
    const starting = running.filter((c) => c.health === "starting").length;
    const healthy = running.filter((c) => c.health === "healthy").length;
    const down = list.filter((c) => c.state !== "running").map((c) => c.state);
    let mark = running.length === expected && unhealthy === 0 && expected > 0 ? "✓" : "⚠";
    const notes: string[] = [];
    if (healthy > 0 && unhealthy === 0 && starting === 0) notes.push("healthy");
    if (unhealthy > 0) notes.push(`${unhealthy} unhealthy`);
    if (starting > 0) notes.push(`${starting} starting`);
    if (down.length > 0) notes.push(down.join(", "));
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
  return `${icon} #${d.id} ${escapeHtml(what)} <code>${(d.sha ?? "").slice(0, 7)}</code> by ${d.requestedByName ? `@${escapeHtml(d.requestedByName)}` : "?"} ${formatAgo(d.startedAt, now)}${took}`;
}
