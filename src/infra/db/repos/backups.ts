import { and, desc, eq } from "drizzle-orm";
import type { BackupRecord, BackupsRepo, NewBackup } from "../../../operations/model.js";
import type { Db } from "../client.js";
import { backups, type BackupRow } from "../schema/index.js";

function toRecord(row: BackupRow): BackupRecord {
  return { ...row };
}

/** The `backups` table: each backup taken (or failed), and which ones were pruned. */
export class DrizzleBackupsRepo implements BackupsRepo {
  constructor(private readonly db: Db) {}

  async insert(b: NewBackup): Promise<BackupRecord> {
    const [row] = await this.db.insert(backups).values(b).returning();
    return toRecord(row!);
  }

  async recent(target: string | null, limit: number): Promise<BackupRecord[]> {
    const query = this.db.select().from(backups);
    const rows = await (target === null ? query : query.where(eq(backups.target, target))).orderBy(desc(backups.id)).limit(limit);
    return rows.map(toRecord);
  }

  async lastSucceeded(target: string): Promise<BackupRecord | null> {
    const [row] = await this.db
      .select()
      .from(backups)
      .where(and(eq(backups.target, target), eq(backups.status, "succeeded")))
      .orderBy(desc(backups.id))
      .limit(1);
    return row ? toRecord(row) : null;
  }

  async kept(target: string): Promise<BackupRecord[]> {
    const rows = await this.db
      .select()
      .from(backups)
      .where(and(eq(backups.target, target), eq(backups.status, "succeeded")))
      .orderBy(desc(backups.id));
    return rows.map(toRecord);
  }

  async markPruned(id: number, at: Date): Promise<void> {
    await this.db.update(backups).set({ status: "pruned", prunedAt: at }).where(eq(backups.id, id));
  }
}
