import { jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Multi-step chat flows (@grammyjs/conversations) keep their replay log here, so a restart does
 * not strand a half-finished /restore. `updated_at` lets the sweeper end abandoned flows.
 */
export const conversationState = pgTable("conversation_state", {
  key: text("key").primaryKey(),
  value: jsonb("value").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});
