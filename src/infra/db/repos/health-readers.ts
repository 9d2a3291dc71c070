import { and, desc, eq, inArray } from "drizzle-orm";
import type { BackupAges, HealthStores, PayoutsPause, PayoutsStates } from "../../../health/ports.js";
import type { Db } from "../client.js";
import { AlertOutboxRepo } from "./alert-outbox.js";
import { IncidentsRepo } from "./incidents.js";
import { MutesRepo } from "./mutes.js";
import { backups, healthWatch, payoutsState } from "../schema/index.js";

/**
 * Read-only views the health monitors need of tables the operations write (backups,
 * payouts_state). The operations' own repos have the same shape and may be passed instead.
 */
export class HealthReaders implements BackupAges, PayoutsStates {
  constructor(private readonly db: Db) {}

  /** Newest backup that succeeded (a pruned one succeeded too, before it was deleted). */
  async lastSucceeded(target: string): Promise<{ createdAt: Date } | null> {
    const [row] = await this.db
      .select({ createdAt: backups.createdAt })
      .from(backups)
      .where(and(eq(backups.target, target), inArray(backups.status, ["succeeded", "pruned"])))
      .orderBy(desc(backups.createdAt))
      .limit(1);
    return row ?? null;
  }

  /** When backups of the target were first watched (recorded on the first call; later calls read it). */
  async watchingSince(target: string, now: Date): Promise<Date> {
    await this.db.insert(healthWatch).values({ target, check: "backup", since: now }).onConflictDoNothing();
    const [row] = await this.db
      .select({ since: healthWatch.since })
      .from(healthWatch)
      .where(and(eq(healthWatch.target, target), eq(healthWatch.check, "backup")));
    return row?.since ?? now;
  }

  async get(target: string): Promise<PayoutsPause | null> {
    const [row] = await this.db.select().from(payoutsState).where(eq(payoutsState.target, target));
    return row ? { paused: row.paused, since: row.since, byName: row.byName, reason: row.reason } : null;
  }
}

/** The health stores over one database, as app.ts hands them to health/. */
export function createHealthStores(db: Db): HealthStores {
  return { incidents: new IncidentsRepo(db), mutes: new MutesRepo(db), outbox: new AlertOutboxRepo(db) };
}
