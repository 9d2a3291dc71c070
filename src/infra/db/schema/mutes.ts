import { bigint, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Alerts silenced by scope (an incident key `target:source:subject`, or a whole target) until a given time. */
export const mutes = pgTable("mutes", {
  key: text("key").primaryKey(),
  until: timestamp("until", { withTimezone: true }).notNull(),
  byUserId: bigint("by_user_id", { mode: "number" }),
  byName: text("by_name"),
  /** Why, as given to /mute (shown in /alerts). */
  reason: text("reason"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export type MuteRow = typeof mutes.$inferSelect;
export type NewMuteRow = typeof mutes.$inferInsert;
