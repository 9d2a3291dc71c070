import { composeProjectName } from "../commands/compose.js";
import { redactText } from "../shared/redact.js";
import { DEFAULT_LOG_LINES, MAX_LOG_LINES } from "../commands/validate.js";
import { checkLogsQuery, mergeLogLines, projectOf, replicasOf, splitTimestamped, tailFor, type LogLine } from "./logs.js";
import type { GitHead } from "../commands/git.js";
import type { TargetConfig } from "../config/file.js";
import type { OperationsDeps, TargetHandle } from "./context.js";
import { readHead, readHeadTag } from "./git-state.js";
import type { TargetLocks } from "./lock.js";
import type { DrillRecord, BackupRecord, DeploymentRecord, LockRecord, PayoutsState } from "./model.js";
import type { Actor, ContainerSummary } from "../shared/ports.js";
import type { LogsRequest, Refused, TargetRequest } from "./requests.js";
import type { OperationsService } from "./service.js";
import { lookupTarget } from "./targets.js";
import { withTimeout } from "./timeout.js";

export { DEFAULT_LOG_LINES, MAX_LOG_LINES };

/** /status answers within this, whatever the target does. */
export const STATUS_TIMEOUT_MS = 5_000;
/** Each part (git, docker, database) gets this long. */
export const STATUS_PART_TIMEOUT_MS = 3_500;
/** Each replica's log read gets this long. */
const LOGS_TIMEOUT_MS = 10_000;

/** One part of /status: its value, or why it could not be read (already masked). */
export type Part<T> = { ok: true; value: T } | { ok: false; error: string };

/** Everything /status shows about one target; each part may have failed on its own. */
export interface TargetStatus {
  target: string;
  /** The target's config: which services are expected, whether payouts and backups are set up. */
  config: TargetConfig;
  now: Date;
  head: Part<{ head: GitHead; tag: string | null }>;
  containers: Part<ContainerSummary[]>;
  lastDeploy: Part<DeploymentRecord | null>;
  lock: Part<LockRecord | null>;
  payouts: Part<PayoutsState | null>;
  lastBackup: Part<BackupRecord | null>;
  /** Replicas per service as /scale recorded them (optional: absent in older callers' data). */
  desired?: Part<Record<string, number>>;
  /** The last successful drill (undefined: the target has no backup.drill). */
  lastDrill?: Part<DrillRecord | null>;
}

/** The last lines of the replicas of one or more services, interleaved by time (already masked). */
export interface ServiceLogs {
  target: string;
  services: string[];
  lines: number;
  since: string | null;
  grep: string | null;
  replicas: { name: string; state: string }[];
  entries: LogLine[];
  /** Replicas whose log could not be read, and why. */
  errors: { replica: string; error: string }[];
}

export type StatusReply = { status: "ok"; value: TargetStatus } | Refused;
export type LogsReply = { status: "ok"; value: ServiceLogs } | Refused;

/**
 * `/status [target]` and `/logs <service> [lines] [target]` (issue 3): read-only, fast, and never
 * hanging — every part has its own timeout on the Clock, and an unreachable target is shown as such.
 */
export class StatusService {
  constructor(
    private readonly deps: OperationsDeps,
    private readonly locks: TargetLocks,
    private readonly refusals: Pick<OperationsService, "refuse">,
  ) {}

  async status(actor: Actor, request: TargetRequest): Promise<StatusReply> {
    const target = lookupTarget(this.deps, request.target);
    if (!target) return this.refusals.refuse(actor, "status", request, `Target ${request.target} is configured but not connected.`);
    return { status: "ok", value: await this.read(target) };
  }

  /** Reads all parts of a target's status in parallel, each bounded. */
  async read(target: TargetHandle): Promise<TargetStatus> {
    const { repos } = this.deps;
    const ms = Math.min(STATUS_PART_TIMEOUT_MS, STATUS_TIMEOUT_MS);
    const project = composeProjectName(target.config);
    const [head, containers, lastDeploy, lock, payouts, lastBackup, desired] = await Promise.all([
      this.part(Promise.all([readHead(target), readHeadTag(target)]).then(([head, tag]) => ({ head, tag })), ms, "git"),
      this.part(target.ports.docker.listContainers(project), ms, "docker"),
      this.part(repos.deployments.latest(target.name), ms, "deployments"),
      this.part(this.locks.current(target.name), ms, "locks"),
      this.part(repos.payouts.get(target.name), ms, "payouts"),
      this.part(repos.backups.lastSucceeded(target.name), ms, "backups"),
      this.part(repos.replicas.forTarget(target.name), ms, "replicas"),
    ]);
    const lastDrill = target.config.backup?.drill ? await this.part(repos.backups.lastDrill(target.name, true), ms, "drills") : undefined;
    return { target: target.name, config: target.config, now: this.deps.clock.now(), head, containers, lastDeploy, lock, payouts, lastBackup, desired, ...(lastDrill ? { lastDrill } : {}) };
  }

  /** `/logs <service[,service…]> [lines] [since=15m] [grep=<regex>] [target]`: lines of every replica, interleaved by time. */
  async logs(actor: Actor, request: LogsRequest): Promise<LogsReply> {
    const target = lookupTarget(this.deps, request.target);
    if (!target) return this.refusals.refuse(actor, "logs", request, `Target ${request.target} is configured but not connected.`);
    const listed = await this.part(target.ports.docker.listContainers(projectOf(target)), STATUS_PART_TIMEOUT_MS, "docker");
    if (!listed.ok) return { status: "refused", reason: `${target.name} is unreachable: ${listed.error}` };
    const known = [...new Set([...Object.keys(target.config.services), ...listed.value.map((c) => c.service)])].sort();
    const checked = checkLogsQuery(known, request);
    if (!checked.ok) return this.refusals.refuse(actor, "logs", request, checked.reason);
    const query = checked.value;
    const replicas = replicasOf(listed.value, query.services);
    // No audit, no action: who read which services' logs is on record before they are read.
    await this.deps.audit.append({
      chatId: actor.chatId,
      userId: actor.userId,
      username: actor.username,
      action: "logs",
      target: target.name,
      args: { services: query.services, lines: query.lines, since: request.since ?? null, grep: query.grep ? query.grep.source : null },
      outcome: "info",
      operationId: null,
      detail: { replicas: replicas.map((c) => c.name) },
    });
    // Container logs print whatever the app prints (DB_PASSWORD=…): masked always, whatever deps say.
    const redact = (t: string) => redactText(this.deps.redact ? this.deps.redact(t) : t);
    const options = { timestamps: true, ...(query.sinceSeconds !== null ? { sinceSeconds: query.sinceSeconds } : {}) };
    const read = await Promise.all(replicas.map((c) => this.part(target.ports.docker.logs(c.id, tailFor(query), options), LOGS_TIMEOUT_MS, "docker logs")));
    const errors = replicas.flatMap((c, i) => (read[i]!.ok ? [] : [{ replica: c.name, error: (read[i] as { error: string }).error }]));
    const lines = mergeLogLines(replicas.map((c, i) => (read[i]!.ok ? splitTimestamped(c.name, (read[i] as { value: string }).value) : [])), query).map((l) => ({ ...l, text: redact(l.text) }));
    return {
      status: "ok",
      value: { target: target.name, services: query.services, lines: query.lines, since: request.since ?? null, grep: query.grep ? query.grep.source : null, replicas: replicas.map((c) => ({ name: c.name, state: c.state })), entries: lines, errors },
    };
  }

  private async part<T>(promise: Promise<T>, ms: number, what: string): Promise<Part<T>> {
    try {
      return { ok: true, value: await withTimeout(promise, ms, what, this.deps.clock) };
    } catch (err) {
      // Error text from the target may quote a command line or a URL: mask it before it reaches chat.
      return { ok: false, error: redactText(err instanceof Error ? err.message : String(err)) };
    }
  }
}
