import { isTerminal, type LockRecord, type LocksRepo, type OperationsRepo, type OpsLogger } from "./model.js";
import type { Actor, Clock } from "../shared/ports.js";

/** A lock whose heartbeat is older than this belongs to a holder that died. */
export const STALE_AFTER_MS = 120_000;

export type AcquireResult = { status: "acquired"; lock: LockRecord } | { status: "held"; lock: LockRecord };

/** What {@link TargetLocks.withLock} gives back: busy is an answer, not an exception. */
export type LockedResult<T> = { status: "held"; lock: LockRecord } | { status: "done"; value: T };

/** What a holder can do with its lock while it runs. */
export interface HeldLock {
  lock: LockRecord;
  /** Refreshes the heartbeat, so nobody takes the lock over as dead. */
  beat(): Promise<boolean>;
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
  operations: OperationsRepo;
  clock: Clock;
  staleAfterMs?: number;
  log: OpsLogger;
}

/**
 * One mutating operation per target (Shipit/heaven): a row per locked target with holder, reason,
 * since and heartbeat. Acquiring is one INSERT … ON CONFLICT DO NOTHING; a lock whose holder is
 * finished or has stopped beating is taken over with a conditional UPDATE, so a dead bot never
 * keeps a target locked forever. A freeze (`/lock`) is a lock a human placed and only /unlock lifts.
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
    return (await this.isDead(lock)) ? null : lock;
  }

  async list(): Promise<LockRecord[]> {
    return this.options.repo.list();
  }

  /** Takes the target for an operation, taking over a dead holder's lock. Only withLock calls it. */
  private async acquire(request: OperationLockRequest): Promise<AcquireResult> {
    const now = this.options.clock.now();
    const lock: LockRecord = {
      target: request.target,
      kind: "operation",
      operationId: request.operationId,
      holderUserId: request.holderUserId,
      holderName: request.holderName,
      reason: request.reason,
      since: now,
      heartbeatAt: now,
    };
    return this.take(lock);
  }

  /**
   * The one way an operation holds its target (Kamal's with_lock): one acquire, `fn`, one release
   * in a finally. Busy comes back as `{ status: "held" }` naming the holder. When `fn` fails and
   * the release fails too, the original error surfaces and the release error is logged; when only
   * the release fails, its error surfaces.
   */
  async withLock<T>(request: OperationLockRequest, fn: (held: HeldLock) => Promise<T>): Promise<LockedResult<T>> {
    const acquired = await this.acquire(request);
    if (acquired.status === "held") return acquired;
    const beat = () => this.options.repo.heartbeat(request.target, request.operationId, this.options.clock.now());
    let value: T;
    try {
      value = await fn({ lock: acquired.lock, beat });
    } catch (err) {
      await this.options.repo.releaseOperation(request.target, request.operationId).catch((releaseErr: unknown) => {
        this.options.log.error({ err: releaseErr, target: request.target, operationId: request.operationId }, "releasing the lock failed");
      });
      throw err;
    }
    await this.options.repo.releaseOperation(request.target, request.operationId);
    return { status: "done", value };
  }

  /**
   * Clears the lock of an operation that is gone (restart recovery, after re-reading the target).
   * Never the path of a live operation: those release through withLock.
   */
  async releaseDead(target: string, operationId: string): Promise<boolean> {
    return this.options.repo.releaseOperation(target, operationId);
  }

  /** `/lock [reason]`: freezes mutating commands on a target until /unlock. */
  async freeze(target: string, actor: Actor, reason: string | null): Promise<AcquireResult> {
    const now = this.options.clock.now();
    return this.take({
      target,
      kind: "freeze",
      operationId: null,
      holderUserId: actor.userId,
      holderName: actor.username,
      reason,
      since: now,
      heartbeatAt: null,
    });
  }

  /**
   * `/unlock`: lifts a freeze. An operation's lock is never lifted while its holder lives; a dead
   * holder's lock is cleared (that is the admins' "break lock").
   */
  async unfreeze(target: string): Promise<{ status: "lifted"; lock: LockRecord } | { status: "free" } | { status: "held"; lock: LockRecord }> {
    const { repo } = this.options;
    // Bounded: a round only repeats when the lock changed hands between reading and deleting it.
    for (let attempt = 0; attempt < 5; attempt++) {
      const lock = await repo.get(target);
      if (!lock) return { status: "free" };
      if (lock.kind === "freeze") {
        if (await repo.releaseFreeze(target)) return { status: "lifted", lock };
        continue;
      }
      if (!(await this.isDead(lock))) return { status: "held", lock };
      if (lock.operationId && (await repo.releaseOperation(target, lock.operationId))) return { status: "lifted", lock };
      if (!lock.operationId && (await repo.replace(lock, { ...lock, kind: "freeze" })) && (await repo.releaseFreeze(target))) {
        return { status: "lifted", lock };
      }
    }
    const lock = await repo.get(target);
    return lock ? { status: "held", lock } : { status: "free" };
  }

  /** Turns an operation's lock into a freeze, e.g. when recovery could not re-read the target. */
  async convertToFreeze(lock: LockRecord, reason: string): Promise<boolean> {
    return this.options.repo.replace(lock, { ...lock, kind: "freeze", operationId: null, reason, heartbeatAt: null });
  }

  /** A lock is dead when its operation finished (or never existed) or its heartbeat went stale. */
  async isDead(lock: LockRecord): Promise<boolean> {
    if (lock.kind === "freeze") return false;
    const beat = (lock.heartbeatAt ?? lock.since).getTime();
    if (this.options.clock.now().getTime() - beat > this.staleAfterMs) return true;
    if (!lock.operationId) return true;
    const op = await this.options.operations.get(lock.operationId);
    return !op || isTerminal(op.status);
  }

  private async take(lock: LockRecord): Promise<AcquireResult> {
    const { repo, log } = this.options;
    // Bounded: each round either wins, reports a live holder, or lost a race to another taker.
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await repo.insertIfFree(lock)) return { status: "acquired", lock };
      const existing = await repo.get(lock.target);
      if (!existing) continue;
      if (!(await this.isDead(existing))) return { status: "held", lock: existing };
      if (await repo.replace(existing, lock)) {
        log.warn({ target: lock.target, previous: existing }, "took over a lock whose holder was dead");
        return { status: "acquired", lock };
      }
    }
    const existing = await repo.get(lock.target);
    if (existing) return { status: "held", lock: existing };
    throw new Error(`could not acquire the lock on ${lock.target}: it kept changing hands`);
  }
}
