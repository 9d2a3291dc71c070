import { bigint, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Alerts silenced by key (e.g. `target:source:subject`) until a given time. */
export const mutes = pgTable("mutes", {
  key: text("key").primaryKey(),
  until: timestamp("until", { withTimezone: true }).notNull(),
  byUserId: bigint("by_user_id", { mode: "number" }),
  byName: text("by_name"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export type MuteRow = typeof mutes.$inferSelect;
export type NewMuteRow = typeof mutes.$inferInsert;
