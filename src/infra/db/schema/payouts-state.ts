import { bigint, boolean, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Whether payouts are paused on a target, by whom and why; reminders nag while it stays paused. */
export const payoutsState = pgTable("payouts_state", {
  target: text("target").primaryKey(),
  paused: boolean("paused").notNull().default(false),
  byUserId: bigint("by_user_id", { mode: "number" }),
  byName: text("by_name"),
  reason: text("reason"),
  since: timestamp("since", { withTimezone: true }).notNull().defaultNow(),
  lastReminderAt: timestamp("last_reminder_at", { withTimezone: true }),
});

export type PayoutsStateRow = typeof payoutsState.$inferSelect;
export type NewPayoutsStateRow = typeof payoutsState.$inferInsert;
