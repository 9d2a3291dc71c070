import { composeProjectName } from "../commands/compose.js";
import { redactText } from "../shared/redact.js";
import { DEFAULT_LOG_LINES, MAX_LOG_LINES, validateLogLines, validateServiceName } from "../commands/validate.js";
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
  /** The last successful drill (undefined: the target has no backup.drill). */
  lastDrill?: Part<DrillRecord | null>;
}

/** The last lines of each replica of a service (already masked). */
export interface ServiceLogs {
  target: string;
  service: string;
  lines: number;
  replicas: { name: string; state: string; text: Part<string> }[];
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
    const [head, containers, lastDeploy, lock, payouts, lastBackup] = await Promise.all([
      this.part(Promise.all([readHead(target), readHeadTag(target)]).then(([head, tag]) => ({ head, tag })), ms, "git"),
      this.part(target.ports.docker.listContainers(project), ms, "docker"),
      this.part(repos.deployments.latest(target.name), ms, "deployments"),
      this.part(this.locks.current(target.name), ms, "locks"),
      this.part(repos.payouts.get(target.name), ms, "payouts"),
      this.part(repos.backups.lastSucceeded(target.name), ms, "backups"),
    ]);
    const lastDrill = target.config.backup?.drill ? await this.part(repos.backups.lastDrill(target.name, true), ms, "drills") : undefined;
    return { target: target.name, config: target.config, now: this.deps.clock.now(), head, containers, lastDeploy, lock, payouts, lastBackup, ...(lastDrill ? { lastDrill } : {}) };
  }

  /** `/logs <service> [lines] [target]`: the last lines of each replica. */
  async logs(actor: Actor, request: LogsRequest): Promise<LogsReply> {
    const target = lookupTarget(this.deps, request.target);
    if (!target) return this.refusals.refuse(actor, "logs", request, `Target ${request.target} is configured but not connected.`);
    const listed = await this.part(target.ports.docker.listContainers(composeProjectName(target.config)), STATUS_PART_TIMEOUT_MS, "docker");
    if (!listed.ok) return { status: "refused", reason: `${target.name} is unreachable: ${listed.error}` };
    const known = [...new Set([...Object.keys(target.config.services), ...listed.value.map((c) => c.service)])].sort();
    const service = validateServiceName(request.service, known);
    if (!service.ok) return this.refusals.refuse(actor, "logs", request, service.reason);
    const lines = request.lines === undefined ? { ok: true as const, value: DEFAULT_LOG_LINES } : validateLogLines(request.lines, MAX_LOG_LINES);
    if (!lines.ok) return this.refusals.refuse(actor, "logs", request, lines.reason);
    const replicas = listed.value.filter((c) => c.service === service.value).sort((a, b) => a.number - b.number);
    const redact = this.deps.redact ?? ((t: string) => t);
    const read: ServiceLogs["replicas"] = [];
    for (const c of replicas) {
      const text = await this.part(target.ports.docker.logs(c.id, lines.value), LOGS_TIMEOUT_MS, "docker logs");
      read.push({ name: c.name, state: c.state, text: text.ok ? { ok: true, value: redact(text.value) } : text });
    }
    return { status: "ok", value: { target: target.name, service: service.value, lines: lines.value, replicas: read } };
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
