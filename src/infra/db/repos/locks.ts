import { and, eq, isNull } from "drizzle-orm";
import type { LockRecord, LocksRepo } from "../../../operations/model.js";
import type { Db } from "../client.js";
import { locks, type LockRow } from "../schema/index.js";

function toRecord(row: LockRow): LockRecord {
  return {
    target: row.target,
    kind: row.kind,
    operationId: row.operationId,
    holderUserId: row.holderUserId,
    holderName: row.holderName,
    reason: row.reason,
    since: row.since,
    heartbeatAt: row.heartbeatAt,
  };
}

/**
 * The `locks` table: one row per locked target. Taking a free target is INSERT … ON CONFLICT DO
 * NOTHING; taking over a dead holder's lock is an UPDATE that only matches the exact lock that
 * was judged dead (same operation, same since), so two takers cannot both win.
 */
export class DrizzleLocksRepo implements LocksRepo {
  constructor(private readonly db: Db) {}

  async get(target: string): Promise<LockRecord | null> {
    const [row] = await this.db.select().from(locks).where(eq(locks.target, target));
    return row ? toRecord(row) : null;
  }

  async list(): Promise<LockRecord[]> {
    return (await this.db.select().from(locks)).map(toRecord);
  }

  async insertIfFree(lock: LockRecord): Promise<boolean> {
    const rows = await this.db.insert(locks).values(lock).onConflictDoNothing({ target: locks.target }).returning({ target: locks.target });
    return rows.length === 1;
  }

  async replace(expected: Pick<LockRecord, "target" | "operationId" | "since">, lock: LockRecord): Promise<boolean> {
    const rows = await this.db
      .update(locks)
      .set({ ...lock, target: expected.target })
      .where(
        and(
          eq(locks.target, expected.target),
          expected.operationId === null ? isNull(locks.operationId) : eq(locks.operationId, expected.operationId),
          eq(locks.since, expected.since),
        ),
      )
      .returning({ target: locks.target });
    return rows.length === 1;
  }

  async heartbeat(target: string, operationId: string, at: Date): Promise<boolean> {
    const rows = await this.db
      .update(locks)
      .set({ heartbeatAt: at })
      .where(and(eq(locks.target, target), eq(locks.operationId, operationId)))
      .returning({ target: locks.target });
    return rows.length === 1;
  }

  async releaseOperation(target: string, operationId: string): Promise<boolean> {
    const rows = await this.db
      .delete(locks)
      .where(and(eq(locks.target, target), eq(locks.operationId, operationId), eq(locks.kind, "operation")))
      .returning({ target: locks.target });
    return rows.length === 1;
  }

  async releaseFreeze(target: string): Promise<boolean> {
    const rows = await this.db
      .delete(locks)
      .where(and(eq(locks.target, target), eq(locks.kind, "freeze")))
      .returning({ target: locks.target });
    return rows.length === 1;
  }
}
