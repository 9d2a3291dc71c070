import { bigint, check, index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { OPERATION_KINDS, OPERATION_STATUSES } from "../../../operations/model.js";
import { oneOf } from "./sql-helpers.js";

// The lists belong to the operations layer; the database enforces the same ones with CHECKs.
export { OPERATION_KINDS, OPERATION_STATUSES, type OperationKind, type OperationStatus } from "../../../operations/model.js";

/**
 * One row per guarded operation: the approval is state here, not in chat. The id is short, random
 * and url-safe because it travels in `callback_data` (≤ 64 bytes); claiming a confirmation is one
 * conditional UPDATE on `status` and `expires_at`.
 */
export const operations = pgTable(
  "operations",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: OPERATION_KINDS }).notNull(),
    target: text("target").notNull(),
    status: text("status", { enum: OPERATION_STATUSES }).notNull(),
    args: jsonb("args"),
    plan: jsonb("plan"),
    result: jsonb("result"),
    chatId: bigint("chat_id", { mode: "number" }),
    /** The plan/progress message that is edited as the operation advances. */
    messageId: bigint("message_id", { mode: "number" }),
    requestedBy: bigint("requested_by", { mode: "number" }),
    requestedByName: text("requested_by_name"),
    confirmedBy: bigint("confirmed_by", { mode: "number" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    confirmedAt: timestamp("confirmed_at", { withTimezone: true }),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    heartbeatAt: timestamp("heartbeat_at", { withTimezone: true }),
    error: text("error"),
  },
  (t) => [
    index("operations_status_idx").on(t.status),
    index("operations_target_status_idx").on(t.target, t.status),
    check("operations_kind_check", oneOf("kind", OPERATION_KINDS)),
    check("operations_status_check", oneOf("status", OPERATION_STATUSES)),
  ],
);

export type OperationRow = typeof operations.$inferSelect;
export type NewOperationRow = typeof operations.$inferInsert;
