import { bigint, check, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { oneOf } from "./sql-helpers.js";

export const LOCK_KINDS = ["operation", "freeze"] as const;
export type LockKind = (typeof LOCK_KINDS)[number];

/**
 * One row per locked target: who holds it, why and since when (Shipit-style). A running operation
 * refreshes `heartbeat_at` (the database's now(), never the bot's clock) so a dead holder can be
 * told apart from a slow one; `freeze` is a lock a human put on purpose.
 */
export const locks = pgTable(
  "locks",
  {
    target: text("target").primaryKey(),
    kind: text("kind", { enum: LOCK_KINDS }).notNull(),
    operationId: text("operation_id"),
    holderUserId: bigint("holder_user_id", { mode: "number" }),
    holderName: text("holder_name"),
    reason: text("reason"),
    since: timestamp("since", { withTimezone: true }).notNull().defaultNow(),
    heartbeatAt: timestamp("heartbeat_at", { withTimezone: true }),
    /**
     * The fencing token: bumped by every change of hands (take-over, freeze, conversion). A holder
     * renews and checks its lease only while the version it took is still the row's.
     */
    version: bigint("version", { mode: "number" }).notNull().default(1),
  },
  () => [check("locks_kind_check", oneOf("kind", LOCK_KINDS))],
);

export type LockRow = typeof locks.$inferSelect;
export type NewLockRow = typeof locks.$inferInsert;
