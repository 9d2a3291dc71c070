import { sql } from "drizzle-orm";
import { bigint, bigserial, check, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { oneOf } from "./sql-helpers.js";

export const INCIDENT_SOURCES = ["service", "docker", "http", "disk", "backup", "payouts", "reachability"] as const;
export type IncidentSource = (typeof INCIDENT_SOURCES)[number];

export const INCIDENT_STATES = ["open", "acked", "muted", "resolved"] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

/** One signal of an incident (container died, an HTTP check…), as listed on its message. */
export interface IncidentSignalJson {
  name: string;
  error: string;
  failing: boolean;
}

/** A chat message that shows an incident and is edited as it evolves. */
export interface IncidentMessage {
  chatId: number;
  messageId: number;
}

/**
 * A health problem from first failure to recovery. At most one unresolved incident per
 * (target, source, subject), enforced by a partial unique index, so concurrent monitors cannot
 * open the same incident twice.
 */
export const incidents = pgTable(
  "incidents",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    target: text("target").notNull(),
    source: text("source", { enum: INCIDENT_SOURCES }).notNull(),
    /** What failed within the source: a service, a URL, a mount point… */
    subject: text("subject").notNull(),
    state: text("state", { enum: INCIDENT_STATES }).notNull().default("open"),
    openedAt: timestamp("opened_at", { withTimezone: true }).notNull().defaultNow(),
    resolvedAt: timestamp("resolved_at", { withTimezone: true }),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull().defaultNow(),
    count: integer("count").notNull().default(1),
    lastError: text("last_error"),
    messages: jsonb("messages").$type<IncidentMessage[]>().notNull().default([]),
    /** Every signal seen while open, in the order they joined. */
    signals: jsonb("signals").$type<IncidentSignalJson[]>().notNull().default([]),
    /** Outages within the flapping window when it became a flapping incident; 0 = not flapping. */
    flaps: integer("flaps").notNull().default(0),
    ackedBy: bigint("acked_by", { mode: "number" }),
    /** The acker's @username at the time, shown on the alert ("acked by @alice"). */
    ackedByName: text("acked_by_name"),
    ackedAt: timestamp("acked_at", { withTimezone: true }),
    lastReminderAt: timestamp("last_reminder_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex("incidents_one_unresolved_idx")
      .on(t.target, t.source, t.subject)
      .where(sql`"state" <> 'resolved'`),
    index("incidents_state_idx").on(t.state),
    check("incidents_source_check", oneOf("source", INCIDENT_SOURCES)),
    check("incidents_state_check", oneOf("state", INCIDENT_STATES)),
  ],
);

export type IncidentRow = typeof incidents.$inferSelect;
export type NewIncidentRow = typeof incidents.$inferInsert;
