import { bigint, bigserial, boolean, check, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { oneOf } from "./sql-helpers.js";

export const BACKUP_STATUSES = ["succeeded", "failed", "pruned"] as const;
export type BackupStatus = (typeof BACKUP_STATUSES)[number];

/** Backups taken per target: what `/restore` offers and what the backup-age monitor checks. */
export const backups = pgTable(
  "backups",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    target: text("target").notNull(),
    operationId: text("operation_id"),
    path: text("path"),
    sizeBytes: bigint("size_bytes", { mode: "number" }),
    durationMs: integer("duration_ms"),
    status: text("status", { enum: BACKUP_STATUSES }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    prunedAt: timestamp("pruned_at", { withTimezone: true }),
    error: text("error"),
    /** Proven by content (closing line, pg_restore reading it whole, backup.verify); false = header only. */
    verified: boolean("verified").notNull().default(false),
    /** How it was checked, in words: "pg_restore read 12 entries", "PGDMP header only …". */
    verification: text("verification"),
    /** Set when deploy's backupFirst took it: "taken before deploy #12", and what a rollback restores. */
    deploymentId: bigint("deployment_id", { mode: "number" }),
    /** The last successful drill of this file (restored into a scratch database). */
    drilledAt: timestamp("drilled_at", { withTimezone: true }),
    /** backup.copy failed for this (verified, kept) backup: an alert until a later backup copies. */
    copyError: text("copy_error"),
  },
  (t) => [
    index("backups_target_id_idx").on(t.target, t.id.desc()),
    check("backups_status_check", oneOf("status", BACKUP_STATUSES)),
  ],
);

export type BackupRow = typeof backups.$inferSelect;
export type NewBackupRow = typeof backups.$inferInsert;
