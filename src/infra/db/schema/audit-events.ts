import { bigint, bigserial, check, index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import type { AuditOutcome } from "../../../shared/ports.js";
import { oneOf } from "./sql-helpers.js";

/** Every outcome an audit row may carry; the database enforces the same list with a CHECK. */
export const AUDIT_OUTCOMES = [
  "requested",
  "confirmed",
  "started",
  "succeeded",
  "failed",
  "rolled_back",
  "cancelled",
  "expired",
  "denied",
  "interrupted",
  "info",
] as const satisfies readonly AuditOutcome[];

// Fails to compile when ports.ts gains an outcome that this list (and so the CHECK) lacks.
type MissingOutcome = Exclude<AuditOutcome, (typeof AUDIT_OUTCOMES)[number]>;
const allOutcomesListed: [MissingOutcome] extends [never] ? true : MissingOutcome = true;
void allOutcomesListed;

/**
 * The append-only audit trail, and a contract: other tools read this table, so its columns only
 * ever grow. Rows are hash-chained (`prev_hash` → `hash`, see audit-log.ts) and triggers in the
 * `audit_append_only` migration reject UPDATE, DELETE and TRUNCATE.
 */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    chatId: bigint("chat_id", { mode: "number" }),
    userId: bigint("user_id", { mode: "number" }),
    username: text("username"),
    /** The command, e.g. `deploy`. */
    action: text("action").notNull(),
    target: text("target"),
    args: jsonb("args"),
    outcome: text("outcome", { enum: AUDIT_OUTCOMES }).notNull(),
    operationId: text("operation_id"),
    detail: jsonb("detail"),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull().unique("audit_events_hash_unique"),
  },
  (t) => [
    index("audit_events_created_at_idx").on(t.createdAt),
    index("audit_events_operation_id_idx").on(t.operationId),
    check("audit_events_outcome_check", oneOf("outcome", AUDIT_OUTCOMES)),
  ],
);

export type AuditEventRow = typeof auditEvents.$inferSelect;
export type NewAuditEventRow = typeof auditEvents.$inferInsert;
