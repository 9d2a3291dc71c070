import { and, desc, eq, ne } from "drizzle-orm";
import type { BackupRecord, BackupsRepo, DrillRecord, NewBackup } from "../../../operations/model.js";
import type { Db } from "../client.js";
import { backupDrills, backups, type BackupRow } from "../schema/index.js";

function toRecord(row: BackupRow): BackupRecord {
  return { ...row };
}

/** The `backups` table (each backup taken, failed or pruned) and `backup_drills`. */
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

  async get(id: number): Promise<BackupRecord | null> {
    const [row] = await this.db.select().from(backups).where(eq(backups.id, id)).limit(1);
    return row ? toRecord(row) : null;
  }

  async byDeployment(deploymentId: number): Promise<BackupRecord | null> {
    const [row] = await this.db
      .select()
      .from(backups)
      .where(and(eq(backups.deploymentId, deploymentId), eq(backups.status, "succeeded")))
      .orderBy(desc(backups.id))
      .limit(1);
    return row ? toRecord(row) : null;
  }

  async recordDrill(d: Omit<DrillRecord, "id">): Promise<DrillRecord> {
    const [row] = await this.db.insert(backupDrills).values(d).returning();
    if (d.ok && d.backupId !== null) await this.db.update(backups).set({ drilledAt: d.startedAt }).where(eq(backups.id, d.backupId));
    return { ...row! };
  }

  async lastDrill(target: string, ok?: boolean): Promise<DrillRecord | null> {
    const where = ok === undefined ? eq(backupDrills.target, target) : and(eq(backupDrills.target, target), eq(backupDrills.ok, ok));
    const [row] = await this.db.select().from(backupDrills).where(where).orderBy(desc(backupDrills.id)).limit(1);
    return row ? { ...row } : null;
  }

  async setCopyError(id: number, error: string): Promise<void> {
    await this.db.update(backups).set({ copyError: error }).where(eq(backups.id, id));
  }

  async lastAttempt(target: string): Promise<BackupRecord | null> {
    const [row] = await this.db
      .select()
      .from(backups)
      .where(and(eq(backups.target, target), ne(backups.status, "pruned")))
      .orderBy(desc(backups.id))
      .limit(1);
    return row ? toRecord(row) : null;
  }
}
