import { bigint, pgTable, timestamp } from "drizzle-orm/pg-core";

/** Telegram update ids already handled, so a re-delivered update is dropped (pruned after ~48 h). */
export const processedUpdates = pgTable("processed_updates", {
  updateId: bigint("update_id", { mode: "number" }).primaryKey(),
  receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
});

export type ProcessedUpdateRow = typeof processedUpdates.$inferSelect;
export type NewProcessedUpdateRow = typeof processedUpdates.$inferInsert;
