import { bigint, bigserial, boolean, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Backup drills: a backup restored into a scratch database, when, how long, and whether it worked. */
export const backupDrills = pgTable(
  "backup_drills",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    target: text("target").notNull(),
    backupId: bigint("backup_id", { mode: "number" }),
    path: text("path"),
    ok: boolean("ok").notNull(),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
    durationMs: integer("duration_ms").notNull(),
    error: text("error"),
  },
  (t) => [index("backup_drills_target_id_idx").on(t.target, t.id.desc())],
);

export type BackupDrillRow = typeof backupDrills.$inferSelect;
