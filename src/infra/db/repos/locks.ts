import { and, eq, getTableColumns, sql, type SQL } from "drizzle-orm";
import type { LockRecord, LocksRepo, LockVersion, NewLock } from "../../../operations/model.js";
import type { Db } from "../client.js";
import { locks, type LockRow } from "../schema/index.js";

/** The heartbeat's age by the database's clock, in ms (a freeze without heartbeat ages from `since`). */
const AGE_MS = sql<number>`(extract(epoch from (now() - coalesce(${locks.heartbeatAt}, ${locks.since}))) * 1000)::float8`;
const WITH_AGE = { ...getTableColumns(locks), ageMs: AGE_MS };

/** `heartbeat older than staleAfterMs`, judged by the database. */
const stale = (staleAfterMs: number): SQL => sql`coalesce(${locks.heartbeatAt}, ${locks.since}) < now() - make_interval(secs => ${staleAfterMs / 1000})`;
const fresh = (staleAfterMs: number): SQL => sql`coalesce(${locks.heartbeatAt}, ${locks.since}) >= now() - make_interval(secs => ${staleAfterMs / 1000})`;

function toRecord(row: LockRow & { ageMs: number }): LockRecord {
  return {
    target: row.target,
    kind: row.kind,
    operationId: row.operationId,
    holderUserId: row.holderUserId,
    holderName: row.holderName,
    reason: row.reason,
    since: row.since,
    heartbeatAt: row.heartbeatAt,
    version: row.version,
    ageMs: Number(row.ageMs),
  };
}

/** Column values of a new lock: times are the database's now() unless given (tests plant old locks). */
function values(lock: NewLock) {
  return {
    kind: lock.kind,
    operationId: lock.operationId,
    holderUserId: lock.holderUserId,
    holderName: lock.holderName,
    reason: lock.reason,
    since: lock.since ?? sql`now()`,
    heartbeatAt: lock.heartbeatAt !== undefined ? lock.heartbeatAt : lock.kind === "operation" ? sql`now()` : null,
  };
}

/**
 * The `locks` table: one row per locked target. Taking a free target is INSERT … ON CONFLICT DO
 * NOTHING; every other change is an UPDATE or DELETE conditioned on the version that was read (the
 * fencing token) and, where a holder's death is the reason, on its heartbeat being stale by the
 * database's now(). Two takers cannot both win, and a live holder is never displaced.
 */
export class DrizzleLocksRepo implements LocksRepo {
  constructor(private readonly db: Db) {}

  async get(target: string): Promise<LockRecord | null> {
    const [row] = await this.db.select(WITH_AGE).from(locks).where(eq(locks.target, target));
    return row ? toRecord(row) : null;
  }

  async list(): Promise<LockRecord[]> {
    return (await this.db.select(WITH_AGE).from(locks)).map(toRecord);
  }

  async insertIfFree(lock: NewLock): Promise<LockRecord | null> {
    const [row] = await this.db
      .insert(locks)
      .values({ target: lock.target, ...values(lock), version: 1 })
      .onConflictDoNothing({ target: locks.target })
      .returning(WITH_AGE);
    return row ? toRecord(row) : null;
  }

  async takeOverStale(expected: LockVersion, lock: NewLock, staleAfterMs: number): Promise<LockRecord | null> {
    const [row] = await this.db
      .update(locks)
      .set({ ...values(lock), version: sql`${locks.version} + 1` })
      .where(and(eq(locks.target, expected.target), eq(locks.version, expected.version), eq(locks.kind, "operation"), stale(staleAfterMs)))
      .returning(WITH_AGE);
    return row ? toRecord(row) : null;
  }

  async renew(target: string, operationId: string, version: number, staleAfterMs: number): Promise<boolean> {
    const rows = await this.db
      .update(locks)
      .set({ heartbeatAt: sql`now()` })
      .where(
        and(eq(locks.target, target), eq(locks.operationId, operationId), eq(locks.version, version), eq(locks.kind, "operation"), fresh(staleAfterMs)),
      )
      .returning({ target: locks.target });
    return rows.length === 1;
  }

  async toFreeze(expected: LockVersion, reason: string): Promise<LockRecord | null> {
    const [row] = await this.db
      .update(locks)
      .set({ kind: "freeze", operationId: null, reason, heartbeatAt: null, version: sql`${locks.version} + 1` })
      .where(and(eq(locks.target, expected.target), eq(locks.version, expected.version)))
      .returning(WITH_AGE);
    return row ? toRecord(row) : null;
  }

  async releaseOperation(target: string, operationId: string): Promise<boolean> {
    const rows = await this.db
      .delete(locks)
      .where(and(eq(locks.target, target), eq(locks.operationId, operationId), eq(locks.kind, "operation")))
      .returning({ target: locks.target });
    return rows.length === 1;
  }

  async releaseStale(expected: LockVersion, staleAfterMs: number): Promise<boolean> {
    const rows = await this.db
      .delete(locks)
      .where(and(eq(locks.target, expected.target), eq(locks.version, expected.version), eq(locks.kind, "operation"), stale(staleAfterMs)))
      .returning({ target: locks.target });
    return rows.length === 1;
  }

  async releaseFreeze(target: string, version?: number): Promise<boolean> {
    const rows = await this.db
      .delete(locks)
      .where(and(eq(locks.target, target), eq(locks.kind, "freeze"), version === undefined ? undefined : eq(locks.version, version)))
      .returning({ target: locks.target });
    return rows.length === 1;
  }
}
