import { sql } from "drizzle-orm";
import { bigint, bigserial, check, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { incidents } from "./incidents.js";
import { oneOf } from "./sql-helpers.js";

export const ALERT_KINDS = ["open", "update", "recovery", "reminder", "notice"] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/**
 * Alerts waiting to reach a chat. Written in the same transaction as the incident change, sent and
 * retried with backoff by a worker, so an alert survives Telegram being down or the bot restarting.
 */
export const alertOutbox = pgTable(
  "alert_outbox",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    incidentId: bigint("incident_id", { mode: "number" }).references(() => incidents.id, { onDelete: "cascade" }),
    chatId: bigint("chat_id", { mode: "number" }).notNull(),
    kind: text("kind", { enum: ALERT_KINDS }).notNull(),
    text: text("text").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp("delivered_at", { withTimezone: true }),
    messageId: bigint("message_id", { mode: "number" }),
    /** Why the last attempt failed (rate limit, 5xx, network…). */
    lastError: text("last_error"),
    /** Telegram refused the message for good (bot blocked, chat gone): kept for the record, not retried. */
    givenUpAt: timestamp("given_up_at", { withTimezone: true }),
    /**
     * The opsgram process (`opsgram:<pid>@<host>`) delivering this row. Only the live leader may
     * claim, and a claim by a process that no longer leads is void, so two processes that both
     * believe they lead cannot both send it.
     */
    claimedBy: text("claimed_by"),
  },
  (t) => [
    // The dispatcher reads what is still to deliver, oldest first.
    index("alert_outbox_pending_idx")
      .on(t.id)
      .where(sql`"delivered_at" IS NULL AND "given_up_at" IS NULL`),
    check("alert_outbox_kind_check", oneOf("kind", ALERT_KINDS)),
  ],
);

export type AlertOutboxRow = typeof alertOutbox.$inferSelect;
export type NewAlertOutboxRow = typeof alertOutbox.$inferInsert;
