/**
 * Small in-memory fakes of the ports and repositories operations depend on, for unit tests only.
 * Every behaviour they stand in for is also tested against the real thing (test/integration).
 */
import { fileSchema, type OpsFile } from "../../src/config/file.js";
import type { OperationsDeps, TargetPorts } from "../../src/operations/context.js";
import type {
  BackupRecord,
  BackupsRepo,
  ClaimRequest,
  DeploymentRecord,
  DeploymentsRepo,
  DeploymentStatus,
  LockRecord,
  LocksRepo,
  NewBackup,
  NewDeployment,
  NewOperation,
  OperationPatch,
  OperationRecord,
  OperationRepositories,
  OperationsRepo,
  OperationStatus,
  PayoutsRepo,
  PayoutsState,
} from "../../src/operations/model.js";
import { silentLogger } from "../../src/operations/model.js";
import type {
  AuditEvent,
  AuditEventInput,
  AuditLog,
  Clock,
  ContainerSummary,
  DockerApi,
  ExecOptions,
  ExecResult,
  MessageOptions,
  Notifier,
  RemoteShell,
  SentMessage,
} from "../../src/shared/ports.js";

/** A clock that only moves when told to; sleeps resolve as time passes them. */
export class ManualClock implements Clock {
  private t: number;
  private sleepers: { until: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  constructor(start = Date.parse("2026-11-22T03:00:00Z")) {
    this.t = start;
  }
  now(): Date {
    return new Date(this.t);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const entry = { until: this.t + ms, resolve, reject };
      this.sleepers.push(entry);
      signal?.addEventListener("abort", () => {
        this.sleepers = this.sleepers.filter((s) => s !== entry);
        reject(signal.reason);
      });
    });
  }
  /** Moves time forward, waking sleepers in order and letting their continuations run. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const next = this.sleepers.filter((s) => s.until <= end).sort((a, b) => a.until - b.until)[0];
      if (!next) break;
      this.t = Math.max(this.t, next.until);
      this.sleepers = this.sleepers.filter((s) => s !== next);
      next.resolve();
    }
    this.t = end;
    await flush();
  }
  get pendingSleeps(): number {
    return this.sleepers.length;
  }
}

/** A clock whose sleeps pass at once (time jumps): loops with waits run instantly. */
export class JumpClock implements Clock {
  constructor(public t = Date.parse("2026-11-22T03:00:00Z")) {}
  now(): Date {
    return new Date(this.t);
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.t += ms;
    await Promise.resolve();
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

export class MemoryOperations implements OperationsRepo {
  rows = new Map<string, OperationRecord>();
  async insert(op: NewOperation): Promise<OperationRecord> {
    const row: OperationRecord = {
      ...op,
      plan: null,
      result: null,
      messageId: null,
      confirmedBy: null,
      expiresAt: null,
      confirmedAt: null,
      startedAt: null,
      finishedAt: null,
      heartbeatAt: null,
      error: null,
    };
    this.rows.set(op.id, row);
    return { ...row };
  }
  async get(id: string) {
    const row = this.rows.get(id);
    return row ? { ...row } : null;
  }
  async transition(id: string, from: readonly OperationStatus[], to: OperationStatus, patch: OperationPatch = {}) {
    const row = this.rows.get(id);
    if (!row || !from.includes(row.status)) return null;
    const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    Object.assign(row, defined, { status: to });
    return { ...row };
  }
  async claim(id: string, r: ClaimRequest) {
    const row = this.rows.get(id);
    if (!row || row.status !== "awaiting_confirmation" || !row.expiresAt || row.expiresAt <= r.now) return null;
    if (r.excludeRequester && row.requestedBy === r.userId) return null;
    Object.assign(row, { status: "confirmed", confirmedBy: r.userId, confirmedAt: r.now });
    return { ...row };
  }
  async setMessage(id: string, chatId: number, messageId: number) {
    const row = this.rows.get(id);
    if (row) Object.assign(row, { chatId, messageId });
  }
  async heartbeat(id: string, at: Date) {
    const row = this.rows.get(id);
    if (row && row.status === "running") row.heartbeatAt = at;
  }
  async expireDue(now: Date) {
    const out: OperationRecord[] = [];
    for (const row of this.rows.values()) {
      if (row.status === "awaiting_confirmation" && row.expiresAt && row.expiresAt <= now) {
        Object.assign(row, { status: "expired", finishedAt: now });
        out.push({ ...row });
      }
    }
    return out;
  }
  async listByStatus(statuses: readonly OperationStatus[]) {
    return [...this.rows.values()].filter((r) => statuses.includes(r.status)).map((r) => ({ ...r }));
  }
}

export class MemoryLocks implements LocksRepo {
  rows = new Map<string, LockRecord>();
  async get(target: string) {
    const l = this.rows.get(target);
    return l ? { ...l } : null;
  }
  async list() {
    return [...this.rows.values()];
  }
  async insertIfFree(lock: LockRecord) {
    if (this.rows.has(lock.target)) return false;
    this.rows.set(lock.target, { ...lock });
    return true;
  }
  async replace(expected: Pick<LockRecord, "target" | "operationId" | "since">, lock: LockRecord) {
    const l = this.rows.get(expected.target);
    if (!l || l.operationId !== expected.operationId || l.since.getTime() !== expected.since.getTime()) return false;
    this.rows.set(expected.target, { ...lock });
    return true;
  }
  async heartbeat(target: string, operationId: string, at: Date) {
    const l = this.rows.get(target);
    if (!l || l.operationId !== operationId) return false;
    l.heartbeatAt = at;
    return true;
  }
  async releaseOperation(target: string, operationId: string) {
    const l = this.rows.get(target);
    if (!l || l.kind !== "operation" || l.operationId !== operationId) return false;
    this.rows.delete(target);
    return true;
  }
  async releaseFreeze(target: string) {
    const l = this.rows.get(target);
    if (!l || l.kind !== "freeze") return false;
    this.rows.delete(target);
    return true;
  }
}

export class MemoryDeployments implements DeploymentsRepo {
  rows: DeploymentRecord[] = [];
  async insert(d: NewDeployment) {
    const row = { ...d, id: this.rows.length + 1, finishedAt: null };
    this.rows.push(row);
    return { ...row };
  }
  async get(id: number) {
    return this.rows.find((r) => r.id === id) ?? null;
  }
  async finish(id: number, status: DeploymentStatus, at: Date) {
    const r = this.rows.find((x) => x.id === id);
    if (r) Object.assign(r, { status, finishedAt: at });
  }
  async latest(target: string) {
    return [...this.rows].reverse().find((r) => r.target === target) ?? null;
  }
  async lastSucceeded(target: string) {
    return [...this.rows].reverse().find((r) => r.target === target && r.status === "succeeded") ?? null;
  }
  async byOperation(operationId: string) {
    return [...this.rows].reverse().find((r) => r.operationId === operationId) ?? null;
  }
  async recent(target: string, limit: number) {
    return [...this.rows].reverse().filter((r) => r.target === target).slice(0, limit);
  }
}

export class MemoryBackups implements BackupsRepo {
  rows: BackupRecord[] = [];
  async insert(b: NewBackup) {
    const row = { ...b, id: this.rows.length + 1, prunedAt: null };
    this.rows.push(row);
    return { ...row };
  }
  async recent(target: string | null, limit: number) {
    return [...this.rows].reverse().filter((r) => target === null || r.target === target).slice(0, limit);
  }
  async lastSucceeded(target: string) {
    return [...this.rows].reverse().find((r) => r.target === target && r.status === "succeeded") ?? null;
  }
  async kept(target: string) {
    return [...this.rows].reverse().filter((r) => r.target === target && r.status === "succeeded");
  }
  async markPruned(id: number, at: Date) {
    const r = this.rows.find((x) => x.id === id);
    if (r) Object.assign(r, { status: "pruned", prunedAt: at });
  }
}

export class MemoryPayouts implements PayoutsRepo {
  rows = new Map<string, PayoutsState>();
  async get(target: string) {
    return this.rows.get(target) ?? null;
  }
  async set(state: PayoutsState) {
    this.rows.set(state.target, { ...state });
  }
}

export function memoryRepos(): OperationRepositories & {
  operations: MemoryOperations;
  locks: MemoryLocks;
  deployments: MemoryDeployments;
  backups: MemoryBackups;
  payouts: MemoryPayouts;
} {
  return {
    operations: new MemoryOperations(),
    locks: new MemoryLocks(),
    deployments: new MemoryDeployments(),
    backups: new MemoryBackups(),
    payouts: new MemoryPayouts(),
  };
}

export class MemoryAudit implements AuditLog {
  events: AuditEvent[] = [];
  async append(e: AuditEventInput): Promise<AuditEvent> {
    const event = { ...e, id: this.events.length + 1, createdAt: new Date(), prevHash: "", hash: String(this.events.length + 1) };
    this.events.push(event);
    return event;
  }
  async recent(limit: number) {
    return this.events.slice(-limit).reverse();
  }
  outcomes(operationId: string | null = null): string[] {
    return this.events.filter((e) => operationId === null || e.operationId === operationId).map((e) => e.outcome);
  }
}

export interface RecordedMessage {
  chatId: number;
  messageId: number;
  texts: string[];
  options: (MessageOptions | undefined)[];
}

/** Records every message and edit, like a chat would show them. */
export class RecordingNotifier implements Notifier {
  messages: RecordedMessage[] = [];
  documents: { chatId: number; filename: string; content: string; caption?: string | undefined }[] = [];
  edits = 0;
  failSends = false;
  async send(chatId: number, text: string, options?: MessageOptions): Promise<SentMessage> {
    if (this.failSends) throw new Error("chat down");
    const m = { chatId, messageId: this.messages.length + 1, texts: [text], options: [options] };
    this.messages.push(m);
    return { chatId, messageId: m.messageId };
  }
  async edit(message: SentMessage, text: string, options?: MessageOptions): Promise<void> {
    const m = this.messages.find((x) => x.messageId === message.messageId && x.chatId === message.chatId);
    if (!m) throw new Error("message not found");
    this.edits++;
    m.texts.push(text);
    m.options.push(options);
  }
  async sendDocument(chatId: number, filename: string, content: string | Buffer, caption?: string): Promise<SentMessage> {
    this.documents.push({ chatId, filename, content: content.toString(), caption });
    return { chatId, messageId: 10_000 + this.documents.length };
  }
  last(messageId: number): string {
    return this.messages.find((m) => m.messageId === messageId)?.texts.at(-1) ?? "";
  }
}

export type ShellScript = (argv: readonly string[] | string, options: ExecOptions) => Partial<ExecResult> | Promise<Partial<ExecResult>>;

/** A shell that answers from a script and records every command. */
export class FakeShell implements RemoteShell {
  calls: { argv: readonly string[] | null; line: string | null; cwd: string | undefined }[] = [];
  constructor(private readonly script: ShellScript = () => ({})) {}
  async exec(argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    this.calls.push({ argv, line: null, cwd: options.cwd });
    return result(await this.script(argv, options));
  }
  async execTrusted(line: string, options: ExecOptions): Promise<ExecResult> {
    this.calls.push({ argv: null, line, cwd: options.cwd });
    return result(await this.script(line, options));
  }
  async close() {}
  /** Commands as one line each, for asserting order. */
  get lines(): string[] {
    return this.calls.map((c) => (c.argv ? c.argv.join(" ") : `TRUSTED ${c.line}`));
  }
}

function result(partial: Partial<ExecResult>): ExecResult {
  return { code: 0, stdout: "", stderr: "", timedOut: false, truncated: false, durationMs: 1, ...partial };
}

export class FakeDocker implements DockerApi {
  containers: ContainerSummary[] = [];
  listCalls = 0;
  async listContainers(): Promise<ContainerSummary[]> {
    this.listCalls++;
    return this.containers.map((c) => ({ ...c }));
  }
  async inspect(id: string) {
    const c = this.containers.find((x) => x.id === id);
    if (!c) throw new Error("no such container");
    return c;
  }
  events() {
    return { stop() {} };
  }
  async logs(id: string, tail: number) {
    return `logs of ${id} (${tail})\n`;
  }
  async close() {}
}

export function container(service: string, number: number, patch: Partial<ContainerSummary> = {}): ContainerSummary {
  return {
    id: `${service}-${number}`,
    name: `app_${service}_${number}`,
    service,
    number,
    state: "running",
    health: "none",
    image: "app",
    startedAt: new Date(0),
    exitCode: null,
    oomKilled: false,
    ...patch,
  };
}

export const alice = { chatId: -100, userId: 1, username: "alice" };
export const bob = { chatId: -100, userId: 2, username: "bob" };

/** opsgram.yml for one target `prod`, parsed by the real schema. */
export function opsConfig(target: Record<string, unknown> = {}, top: Record<string, unknown> = {}): OpsFile {
  return fileSchema.parse({
    targets: {
      prod: {
        host: "local",
        appDir: "/srv/app",
        compose: { command: "docker-compose", project: "app" },
        services: { worker: { min: 1, max: 3 } },
        ...target,
      },
    },
    ...top,
  });
}

export function makeDeps(options: { config?: OpsFile; shell?: FakeShell; docker?: FakeDocker; clock?: Clock } = {}) {
  const repos = memoryRepos();
  const audit = new MemoryAudit();
  const notifier = new RecordingNotifier();
  const shell = options.shell ?? new FakeShell();
  const docker = options.docker ?? new FakeDocker();
  const clock = options.clock ?? new JumpClock();
  const config = options.config ?? opsConfig();
  const targets: Record<string, TargetPorts> = { prod: { shell, docker } };
  const deps: OperationsDeps = { repos, audit, notifier, targets, config, clock, log: silentLogger };
  return { deps, repos, audit, notifier, shell, docker, clock, config };
}
