import { bigint, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The replica count /scale asked for, per service per target. Compose resets replicas to the
 * file's count on every `up` (docker/compose#5663), so each `up` a deploy, rollback or restart
 * runs passes these counts back with `--scale`.
 */
export const serviceReplicas = pgTable(
  "service_replicas",
  {
    target: text("target").notNull(),
    service: text("service").notNull(),
    replicas: integer("replicas").notNull(),
    byUserId: bigint("by_user_id", { mode: "number" }),
    operationId: text("operation_id"),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.target, t.service] })],
);

export type ServiceReplicasRow = typeof serviceReplicas.$inferSelect;
