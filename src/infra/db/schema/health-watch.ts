import { pgTable, text, timestamp, primaryKey } from "drizzle-orm/pg-core";

/**
 * When opsgram first watched something on a target (e.g. `backup`): a rule like "no backup for
 * 24 h" counts from here while nothing exists yet, so day one raises no false alarm.
 */
export const healthWatch = pgTable(
  "health_watch",
  {
    target: text("target").notNull(),
    check: text("check").notNull(),
    since: timestamp("since", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.target, t.check] })],
);
