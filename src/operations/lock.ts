import type { LockRecord, LocksRepo, NewLock, OpsLogger } from "./model.js";
import type { Actor, Clock } from "../shared/ports.js";

/** A lock whose heartbeat is older than this belongs to a holder that died. */
export const STALE_AFTER_MS = 120_000;

export type AcquireResult = { status: "acquired"; lock: LockRecord } | { status: "held"; lock: LockRecord };

/** What {@link TargetLocks.withLock} gives back: busy is an answer, not an exception. */
export type LockedResult<T> = { status: "held"; lock: LockRecord } | { status: "done"; value: T };

/** The operation no longer holds its target: it must not run another step. */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
  constructor(
    readonly target: string,
    /** What happened to the lease, in words: "its heartbeat went stale (database unreachable?)". */
    readonly why: string,
    /** The lock as it is now, when it could be read. */
    readonly now: LockRecord | null,
  ) {
    super(`lost the lock on ${target}: ${why}`);
  }
}

/** What a holder can do with its lock while it runs. */
export interface HeldLock {
  lock: LockRecord;
  /** Renews the lease (heartbeat at the database's now()); false once it is lost. */
  beat(): Promise<boolean>;
  /**
   * Renews the lease or throws {@link LeaseLostError}: called before every step, so an operation
   * that lost its lease stops before it changes anything more.
   */
  check(): Promise<void>;
  /** Turns this lock — at the version taken, never a successor's — into a freeze. */
  freeze(reason: string): Promise<LockRecord | null>;
}

export interface OperationLockRequest {
  target: string;
  operationId: string;
  holderUserId: number | null;
  holderName: string | null;
  /** What the holder does, as shown to others: "deploy v2". */
  reason: string;
}

export interface TargetLocksOptions {
  repo: LocksRepo;
  clock: Clock;
  staleAfterMs?: number;
  log: OpsLogger;
}

/** A lease check that cannot reach the database is tried again this often before it counts as lost. */
const CHECK_ATTEMPTS = 3;

/**
 * One mutating operation per target (Shipit/heaven): a row per locked target with holder, reason,
 * since, heartbeat and a version (the fencing token). Acquiring is one INSERT … ON CONFLICT DO
 * NOTHING; a holder is dead only when its heartbeat is stale by the database's clock, and its lock is
 * then taken over with an UPDATE conditioned on the version read. A holder renews its lease only at
 * its own version: once anyone else took the row, its next step is refused. A freeze (`/lock`, an
 * interrupted operation) is a lock only /unlock lifts.
 */
export class TargetLocks {
  readonly staleAfterMs: number;

  constructor(private readonly options: TargetLocksOptions) {
    this.staleAfterMs = options.staleAfterMs ?? STALE_AFTER_MS;
  }

  /** The lock that currently binds a target, or null when it is free or its holder is dead. */
  async current(target: string): Promise<LockRecord | null> {
    const lock = await this.options.repo.get(target);
    if (!lock) return null;
    return this.isDead(lock) ? null : lock;
  }

  async list(): Promise<LockRecord[]> {
    return this.options.repo.list();
  }

  /**
   * The one way an operation holds its target (Kamal's with_lock): one acquire, `fn`, one release
   * in a finally. Busy comes back as `{ status: "held" }` naming the holder. When `fn` fails and
   * the release fails too, the original error surfaces and the release error is logged; when only
   * the release fails, its error surfaces.
   */
  async withLock<T>(request: OperationLockRequest, fn: (held: HeldLock) => Promise<T>): Promise<LockedResult<T>> {
    const acquired = await this.take({
      target: request.target,
      kind: "operation",
      operationId: request.operationId,
      holderUserId: request.holderUserId,
      holderName: request.holderName,
      reason: request.reason,
    });
    if (acquired.status === "held") return acquired;
    let value: T;
    try {
      value = await fn(this.held(acquired.lock));
    } catch (err) {
      await this.options.repo.releaseOperation(request.target, request.operationId).catch((releaseErr: unknown) => {
        this.options.log.error({ err: releaseErr, target: request.target, operationId: request.operationId }, "releasing the lock failed");
      });
      throw err;
    }
    await this.options.repo.releaseOperation(request.target, request.operationId);
    return { status: "done", value };
  }

  /** The lease of `lock`, held by this process: renewal and the per-step check. */
  private held(lock: LockRecord): HeldLock {
    const { repo, clock, log } = this.options;
    const operationId = lock.operationId!;
    const beat = () => repo.renew(lock.target, operationId, lock.version, this.staleAfterMs);
    const check = async () => {
      let renewed = false;
      // A database blip is not a lost lease yet: a few quick tries, well inside the stale window.
      for (let attempt = 1; ; attempt++) {
        try {
          renewed = await beat();
          break;
        } catch (err) {
          if (attempt >= CHECK_ATTEMPTS) throw new LeaseLostError(lock.target, `the lock could not be checked (${err instanceof Error ? err.message : String(err)})`, null);
          log.warn({ err, target: lock.target, operationId, attempt }, "lease check failed; trying again");
          await clock.sleep(500 * attempt);
        }
      }
      if (renewed) return;
      const now = await repo.get(lock.target).catch(() => null);
      throw new LeaseLostError(lock.target, describeLoss(lock, now, this.staleAfterMs), now);
    };
    return { lock, beat, check, freeze: (reason) => repo.toFreeze(lock, reason) };
  }

  /**
   * Clears the lock of an operation that is gone (restart recovery, after re-reading the target),
   * and only once its heartbeat is stale by the database's clock.
   */
  async releaseDead(lock: LockRecord): Promise<boolean> {
    return this.options.repo.releaseStale(lock, this.staleAfterMs);
  }

  /** `/lock [reason]`: freezes mutating commands on a target until /unlock. */
  async freeze(target: string, actor: Actor, reason: string | null): Promise<AcquireResult> {
    return this.take({ target, kind: "freeze", operationId: null, holderUserId: actor.userId, holderName: actor.username, reason });
  }

  /**
   * `/unlock` and [Unlock]: lifts a freeze (the one at `version`, when given). An operation's lock
   * is never lifted while its heartbeat is fresh by the database's clock; a stale one is cleared
   * (that is the admins' "break lock").
   */
  async unfreeze(target: string, version?: number): Promise<{ status: "lifted"; lock: LockRecord } | { status: "free" } | { status: "held"; lock: LockRecord }> {
    const { repo } = this.options;
    // Bounded: a round only repeats when the lock changed hands between reading and deleting it.
    for (let attempt = 0; attempt < 5; attempt++) {
      const lock = await repo.get(target);
      if (!lock) return { status: "free" };
      if (version !== undefined && lock.version !== version) return { status: "held", lock };
      if (lock.kind === "freeze") {
        if (await repo.releaseFreeze(target, lock.version)) return { status: "lifted", lock };
        continue;
      }
      if (!this.isDead(lock)) return { status: "held", lock };
      if (await repo.releaseStale(lock, this.staleAfterMs)) return { status: "lifted", lock };
    }
    const lock = await repo.get(target);
    return lock ? { status: "held", lock } : { status: "free" };
  }

  /**
   * Turns the lock at its read version into a freeze (an interrupted operation, a failed rollback):
   * nobody deploys onto a half-finished target, and the old holder's lease ends with the version.
   */
  async convertToFreeze(lock: LockRecord, reason: string): Promise<LockRecord | null> {
    return this.options.repo.toFreeze(lock, reason);
  }

  /** An operation's lock is dead only when its heartbeat is stale by the database's clock. */
  isDead(lock: LockRecord): boolean {
    return lock.kind !== "freeze" && lock.ageMs > this.staleAfterMs;
  }

  private async take(lock: NewLock): Promise<AcquireResult> {
    const { repo, log } = this.options;
    // Bounded: each round either wins, reports a live holder, or lost a race to another taker.
    for (let attempt = 0; attempt < 5; attempt++) {
      const inserted = await repo.insertIfFree(lock);
      if (inserted) return { status: "acquired", lock: inserted };
      const existing = await repo.get(lock.target);
      if (!existing) continue;
      if (!this.isDead(existing)) return { status: "held", lock: existing };
      const taken = await repo.takeOverStale(existing, lock, this.staleAfterMs);
      if (taken) {
        log.warn({ target: lock.target, previous: existing }, "took over a lock whose holder stopped beating");
        return { status: "acquired", lock: taken };
      }
    }
    const existing = await repo.get(lock.target);
    if (existing) return { status: "held", lock: existing };
    throw new Error(`could not acquire the lock on ${lock.target}: it kept changing hands`);
  }
}

/** Why a renewal failed, from the lock as it is now. */
function describeLoss(mine: LockRecord, now: LockRecord | null, staleAfterMs: number): string {
  if (!now) return "the lock was cleared";
  if (now.version === mine.version && now.operationId === mine.operationId) {
    return `its heartbeat went stale (${Math.round(now.ageMs / 1000)} s by the database's clock, limit ${Math.round(staleAfterMs / 1000)} s)`;
  }
  if (now.kind === "freeze") return `the target was frozen${now.holderName ? ` by @${now.holderName}` : ""}${now.reason ? `: ${now.reason}` : ""}`;
  return `it was taken over${now.holderName ? ` by @${now.holderName}` : ""} (${now.reason ?? "another operation"}) after its heartbeat went stale`;
}
