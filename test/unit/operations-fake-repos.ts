/**
 * In-memory repositories operations depend on, for unit tests only. The real ones (drizzle over
 * Postgres) are tested in test/integration.
 */
import type {
  BackupRecord,
  BackupsRepo,
  ClaimRequest,
  DeploymentRecord,
  DeploymentsRepo,
  DeploymentStatus,
  DrillRecord,
  LockRecord,
  LocksRepo,
  LockVersion,
  NewLock,
  NewBackup,
  NewDeployment,
  NewOperation,
  OperationPatch,
  OperationRecord,
  OperationRepositories,
  OperationsRepo,
  ReplicaRecord,
  ReplicasRepo,
  OperationStatus,
  PayoutsRepo,
  PayoutsState,
} from "../../src/operations/model.js";

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
    if (row.chatId !== r.on.chatId || (row.messageId !== null && row.messageId !== r.on.messageId)) return null;
    Object.assign(row, { status: "confirmed", confirmedBy: r.userId, confirmedAt: r.now, messageId: r.on.messageId });
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

/** Stored lock rows; `ageMs` is computed on read from `dbNow`, the stand-in for the database's clock. */
type StoredLock = Omit<LockRecord, "ageMs">;

export class MemoryLocks implements LocksRepo {
  rows = new Map<string, StoredLock>();
  /** The database's clock (tests move it to make heartbeats stale). */
  constructor(public dbNow: () => Date = () => new Date()) {}
  private read(l: StoredLock): LockRecord {
    return { ...l, ageMs: this.dbNow().getTime() - (l.heartbeatAt ?? l.since).getTime() };
  }
  private write(lock: NewLock, version: number): StoredLock {
    const now = this.dbNow();
    return { ...lock, since: lock.since ?? now, heartbeatAt: lock.heartbeatAt !== undefined ? lock.heartbeatAt : lock.kind === "operation" ? now : null, version };
  }
  private isStale(l: StoredLock, staleAfterMs: number) {
    return l.kind === "operation" && this.read(l).ageMs > staleAfterMs;
  }
  async get(target: string) {
    const l = this.rows.get(target);
    return l ? this.read(l) : null;
  }
  async list() {
    return [...this.rows.values()].map((l) => this.read(l));
  }
  async insertIfFree(lock: NewLock) {
    if (this.rows.has(lock.target)) return null;
    const row = this.write(lock, 1);
    this.rows.set(lock.target, row);
    return this.read(row);
  }
  async takeOverStale(expected: LockVersion, lock: NewLock, staleAfterMs: number) {
    const l = this.rows.get(expected.target);
    if (!l || l.version !== expected.version || !this.isStale(l, staleAfterMs)) return null;
    const row = this.write(lock, l.version + 1);
    this.rows.set(expected.target, row);
    return this.read(row);
  }
  async renew(target: string, operationId: string, version: number, staleAfterMs: number) {
    const l = this.rows.get(target);
    if (!l || l.kind !== "operation" || l.operationId !== operationId || l.version !== version || this.isStale(l, staleAfterMs)) return false;
    l.heartbeatAt = this.dbNow();
    return true;
  }
  async toFreeze(expected: LockVersion, reason: string) {
    const l = this.rows.get(expected.target);
    if (!l || l.version !== expected.version) return null;
    Object.assign(l, { kind: "freeze", operationId: null, reason, heartbeatAt: null, version: l.version + 1 });
    return this.read(l);
  }
  async releaseOperation(target: string, operationId: string) {
    const l = this.rows.get(target);
    if (!l || l.kind !== "operation" || l.operationId !== operationId) return false;
    this.rows.delete(target);
    return true;
  }
  async releaseStale(expected: LockVersion, staleAfterMs: number) {
    const l = this.rows.get(expected.target);
    if (!l || l.version !== expected.version || !this.isStale(l, staleAfterMs)) return false;
    this.rows.delete(expected.target);
    return true;
  }
  async releaseFreeze(target: string, version?: number) {
    const l = this.rows.get(target);
    if (!l || l.kind !== "freeze" || (version !== undefined && l.version !== version)) return false;
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
  drills: DrillRecord[] = [];
  async insert(b: NewBackup) {
    const row = { ...b, id: this.rows.length + 1, prunedAt: null, drilledAt: null, copyError: null };
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
  async get(id: number) {
    return this.rows.find((r) => r.id === id) ?? null;
  }
  async byDeployment(deploymentId: number) {
    return [...this.rows].reverse().find((r) => r.deploymentId === deploymentId && r.status === "succeeded") ?? null;
  }
  async recordDrill(d: Omit<DrillRecord, "id">) {
    const row = { ...d, id: this.drills.length + 1 };
    this.drills.push(row);
    const b = this.rows.find((r) => r.id === d.backupId);
    if (d.ok && b) b.drilledAt = d.startedAt;
    return { ...row };
  }
  async setCopyError(id: number, error: string) {
    const r = this.rows.find((x) => x.id === id);
    if (r) r.copyError = error;
  }
  async lastAttempt(target: string) {
    return [...this.rows].reverse().find((r) => r.target === target && r.status !== "pruned") ?? null;
  }
  async lastDrill(target: string, ok?: boolean) {
    return [...this.drills].reverse().find((d) => d.target === target && (ok === undefined || d.ok === ok)) ?? null;
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

export class MemoryReplicas implements ReplicasRepo {
  rows = new Map<string, Record<string, number>>();
  async forTarget(target: string) {
    return { ...(this.rows.get(target) ?? {}) };
  }
  async set(records: readonly ReplicaRecord[]) {
    for (const r of records) this.rows.set(r.target, { ...(this.rows.get(r.target) ?? {}), [r.service]: r.replicas });
  }
}

export function memoryRepos(dbNow?: () => Date): OperationRepositories & {
  operations: MemoryOperations;
  locks: MemoryLocks;
  deployments: MemoryDeployments;
  backups: MemoryBackups;
  payouts: MemoryPayouts;
  replicas: MemoryReplicas;
} {
  return {
    operations: new MemoryOperations(),
    locks: new MemoryLocks(dbNow),
    deployments: new MemoryDeployments(),
    backups: new MemoryBackups(),
    payouts: new MemoryPayouts(),
    replicas: new MemoryReplicas(),
  };
}

