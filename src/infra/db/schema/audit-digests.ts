import { bigint, bigserial, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Every digest of the audit chain the bot published (`🔏 audit digest: rows 1–N · head <hash>`).
 * The chat holds the witnessed copy; this table lets `/audit verify` check the chain against each
 * one. Append-only like audit_events (triggers in the audit_append migration).
 */
export const auditDigests = pgTable("audit_digests", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  /** Id of the last audit row the digest covers (the chain head at the time). */
  lastRowId: bigint("last_row_id", { mode: "number" }).notNull(),
  /** Rows in the chain up to and including lastRowId. */
  rowCount: bigint("row_count", { mode: "number" }).notNull(),
  headHash: text("head_hash").notNull(),
  /** `daily` or `manual`. */
  reason: text("reason").notNull(),
  /** Chats it was posted to. */
  chatIds: jsonb("chat_ids").notNull(),
});

export type AuditDigestRow = typeof auditDigests.$inferSelect;
