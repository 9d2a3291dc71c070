/**
 * The records operations keep and the repositories that store them. Operations depend on these
 * small interfaces only; infra/db/repos implements them over drizzle, unit tests over a Map.
 *
 * The status and kind lists are the source of infra/db/schema's CHECK constraints.
 */

export const OPERATION_KINDS = ["deploy", "rollback", "scale", "backup", "pause_payouts", "resume_payouts", "restart", "run", "restore"] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

/**
 * The lifecycle (DESIGN.md): requested → awaiting_confirmation → confirmed → running →
 * succeeded | failed | rolled_back, and the side exits cancelled, expired, denied, interrupted.
 */
export const OPERATION_STATUSES = [
  "requested",
  "awaiting_confirmation",
  "confirmed",
  "running",
  "succeeded",
  "failed",
  "rolled_back",
  "cancelled",
  "expired",
  "denied",
  "interrupted",
] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

/** Statuses of an operation that can still move on; every other status is final. */
const LIVE_STATUSES: readonly OperationStatus[] = ["requested", "awaiting_confirmation", "confirmed", "running"];

/** Statuses after which nothing more happens to an operation. */
export const TERMINAL_STATUSES: readonly OperationStatus[] = OPERATION_STATUSES.filter((s) => !LIVE_STATUSES.includes(s));

export function isTerminal(status: OperationStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** One guarded operation, as stored. `args` and `plan` are the operation's own JSON. */
export interface OperationRecord {
  id: string;
  kind: OperationKind;
  target: string;
  status: OperationStatus;
  args: unknown;
  plan: unknown;
  result: unknown;
  chatId: number | null;
  messageId: number | null;
  requestedBy: number | null;
  requestedByName: string | null;
  confirmedBy: number | null;
  createdAt: Date;
  expiresAt: Date | null;
  confirmedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  heartbeatAt: Date | null;
  error: string | null;
}

export interface NewOperation {
  id: string;
  kind: OperationKind;
  target: string;
  status: OperationStatus;
  args: unknown;
  chatId: number;
  requestedBy: number;
  requestedByName: string | null;
  createdAt: Date;
}

/** Columns a transition may set along with the status. */
export interface OperationPatch {
  plan?: unknown;
  result?: unknown;
  expiresAt?: Date | null;
  confirmedBy?: number | null;
  confirmedAt?: Date | null;
  startedAt?: Date | null;
  finishedAt?: Date | null;
  heartbeatAt?: Date | null;
  error?: string | null;
}

export interface ClaimRequest {
  userId: number;
  now: Date;
  /** Four eyes: the presser must not be the requester. */
  excludeRequester: boolean;
  /**
   * The message the button sat on. Only a press on the plan's own message, in its chat, claims; a
   * plan whose message id is not recorded yet (the press overtook that write) is bound to it here.
   */
  on: { chatId: number; messageId: number };
}

export interface OperationsRepo {
  insert(op: NewOperation): Promise<OperationRecord>;
  get(id: string): Promise<OperationRecord | null>;
  /**
   * Moves the row to `to` only when its status is one of `from` — one conditional UPDATE, so two
   * racing callers cannot both win. Null when the row was elsewhere (or does not exist).
   */
  transition(id: string, from: readonly OperationStatus[], to: OperationStatus, patch?: OperationPatch): Promise<OperationRecord | null>;
  /**
   * awaiting_confirmation → confirmed, only while `expires_at > now` (and, with four eyes, only for
   * someone other than the requester). The one atomic step that makes a double press run once.
   */
  claim(id: string, request: ClaimRequest): Promise<OperationRecord | null>;
  setMessage(id: string, chatId: number, messageId: number): Promise<void>;
  heartbeat(id: string, at: Date): Promise<void>;
  /** awaiting_confirmation rows whose expiry has passed become expired; returns them. */
  expireDue(now: Date): Promise<OperationRecord[]>;
  listByStatus(statuses: readonly OperationStatus[]): Promise<OperationRecord[]>;
}

export type LockKind = "operation" | "freeze";

/** Who holds a target: a running operation, or a human freeze (`/lock`). */
export interface LockRecord {
  target: string;
  kind: LockKind;
  operationId: string | null;
  holderUserId: number | null;
  holderName: string | null;
  /** What the holder is doing ("deploy v2") or why it froze the target. */
  reason: string | null;
  since: Date;
  heartbeatAt: Date | null;
  /** Fencing token: changes whenever the lock changes hands; a holder's lease is this number. */
  version: number;
  /**
   * How old the heartbeat (or, without one, `since`) is by the database's clock when the row was
   * read: staleness is never judged by the bot's own clock (a suspended VM, clock skew).
   */
  ageMs: number;
}

/** A lock to write: times default to the database's now(). */
export type NewLock = Omit<LockRecord, "version" | "ageMs" | "since" | "heartbeatAt"> & { since?: Date; heartbeatAt?: Date | null };

/** Which lock a conditional change applies to: the row as it was read. */
export type LockVersion = Pick<LockRecord, "target" | "version">;

export interface LocksRepo {
  get(target: string): Promise<LockRecord | null>;
  list(): Promise<LockRecord[]>;
  /** INSERT … ON CONFLICT DO NOTHING: the new lock when this call created it. */
  insertIfFree(lock: NewLock): Promise<LockRecord | null>;
  /**
   * Takes over an operation lock only when it is still exactly `expected` (same version) and its
   * heartbeat is older than `staleAfterMs` by the database's clock; bumps the version.
   */
  takeOverStale(expected: LockVersion, lock: NewLock, staleAfterMs: number): Promise<LockRecord | null>;
  /**
   * Renews an operation's lease: heartbeat_at = now() only while `operationId` holds the target at
   * `version` and the heartbeat is not yet stale. False: the lease is lost.
   */
  renew(target: string, operationId: string, version: number, staleAfterMs: number): Promise<boolean>;
  /** Turns the lock at `expected` into a freeze (bumps the version, so its old holder's lease ends). */
  toFreeze(expected: LockVersion, reason: string): Promise<LockRecord | null>;
  /** Deletes the lock when it is held by `operationId` (an operation lock). */
  releaseOperation(target: string, operationId: string): Promise<boolean>;
  /** Deletes an operation lock at `expected` whose heartbeat is stale by the database's clock. */
  releaseStale(expected: LockVersion, staleAfterMs: number): Promise<boolean>;
  /** Deletes the lock when it is a freeze (and, given a version, still that freeze). */
  releaseFreeze(target: string, version?: number): Promise<boolean>;
}

export type DeploymentKind = "deploy" | "rollback";
export type DeploymentStatus = "running" | "succeeded" | "failed" | "rolled_back" | "interrupted";

export interface DeploymentRecord {
  id: number;
  operationId: string | null;
  target: string;
  kind: DeploymentKind;
  ref: string | null;
  sha: string | null;
  previousSha: string | null;
  status: DeploymentStatus;
  requestedBy: number | null;
  requestedByName: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

export type NewDeployment = Omit<DeploymentRecord, "id" | "finishedAt">;

export interface DeploymentsRepo {
  insert(d: NewDeployment): Promise<DeploymentRecord>;
  get(id: number): Promise<DeploymentRecord | null>;
  finish(id: number, status: DeploymentStatus, at: Date): Promise<void>;
  /** The newest deployment of a target, whatever its status. */
  latest(target: string): Promise<DeploymentRecord | null>;
  lastSucceeded(target: string): Promise<DeploymentRecord | null>;
  byOperation(operationId: string): Promise<DeploymentRecord | null>;
  recent(target: string, limit: number): Promise<DeploymentRecord[]>;
}

export type BackupStatus = "succeeded" | "failed" | "pruned";

export interface BackupRecord {
  id: number;
  target: string;
  operationId: string | null;
  path: string | null;
  sizeBytes: number | null;
  durationMs: number | null;
  status: BackupStatus;
  createdAt: Date;
  prunedAt: Date | null;
  error: string | null;
  /** Proven by content; false when only the header could be checked (shown ⚠ unverified). */
  verified: boolean;
  verification: string | null;
  /** Taken by deploy's backupFirst for this deployment. */
  deploymentId: number | null;
  /** Last successful drill of this file. */
  drilledAt: Date | null;
  /** backup.copy failed for this backup (the local file stays). */
  copyError: string | null;
}

export type NewBackup = Omit<BackupRecord, "id" | "prunedAt" | "drilledAt" | "copyError">;

/** One drill: a backup restored into a scratch database. */
export interface DrillRecord {
  id: number;
  target: string;
  backupId: number | null;
  path: string | null;
  ok: boolean;
  startedAt: Date;
  durationMs: number;
  error: string | null;
}

export interface BackupsRepo {
  insert(b: NewBackup): Promise<BackupRecord>;
  /** Newest first; all targets when `target` is null. */
  recent(target: string | null, limit: number): Promise<BackupRecord[]>;
  lastSucceeded(target: string): Promise<BackupRecord | null>;
  /** Succeeded (not yet pruned) backups of a target, newest first: what pruning works on. */
  kept(target: string): Promise<BackupRecord[]>;
  markPruned(id: number, at: Date): Promise<void>;
  get(id: number): Promise<BackupRecord | null>;
  /** The backup deploy's backupFirst took for a deployment, if any. */
  byDeployment(deploymentId: number): Promise<BackupRecord | null>;
  recordDrill(d: Omit<DrillRecord, "id">): Promise<DrillRecord>;
  lastDrill(target: string, ok?: boolean): Promise<DrillRecord | null>;
  setCopyError(id: number, error: string): Promise<void>;
  /** The newest backup attempt that is not pruned (failed or kept): what the last-backup alert reads. */
  lastAttempt(target: string): Promise<BackupRecord | null>;
}

export interface PayoutsState {
  target: string;
  paused: boolean;
  byUserId: number | null;
  byName: string | null;
  reason: string | null;
  since: Date;
}

export interface PayoutsRepo {
  get(target: string): Promise<PayoutsState | null>;
  /** Upserts the state (and clears the reminder clock, since the state changed). */
  set(state: PayoutsState): Promise<void>;
}

/** One desired replica count, as /scale recorded it. */
export interface ReplicaRecord {
  target: string;
  service: string;
  replicas: number;
  byUserId: number | null;
  operationId: string | null;
  at: Date;
}

export interface ReplicasRepo {
  /** service → desired replicas, for the services /scale ever set on `target`. */
  forTarget(target: string): Promise<Record<string, number>>;
  set(records: readonly ReplicaRecord[]): Promise<void>;
}

/** Everything operations store, in one bag for wiring. */
export interface OperationRepositories {
  operations: OperationsRepo;
  locks: LocksRepo;
  deployments: DeploymentsRepo;
  backups: BackupsRepo;
  payouts: PayoutsRepo;
  replicas: ReplicasRepo;
}

/** The minimal logger operations use (pino's Logger satisfies it). */
export interface OpsLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: OpsLogger = { debug() {}, info() {}, warn() {}, error() {} };
