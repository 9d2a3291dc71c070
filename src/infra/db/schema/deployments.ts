import { bigint, bigserial, check, index, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { oneOf } from "./sql-helpers.js";

export const DEPLOYMENT_KINDS = ["deploy", "rollback"] as const;
export const DEPLOYMENT_STATUSES = ["running", "succeeded", "failed", "rolled_back", "interrupted"] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** What ran on a target and from which commit: the history `/rollback` picks from. */
export const deployments = pgTable(
  "deployments",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    operationId: text("operation_id"),
    target: text("target").notNull(),
    kind: text("kind", { enum: DEPLOYMENT_KINDS }).notNull(),
    ref: text("ref"),
    sha: text("sha"),
    previousSha: text("previous_sha"),
    status: text("status", { enum: DEPLOYMENT_STATUSES }).notNull(),
    requestedBy: bigint("requested_by", { mode: "number" }),
    requestedByName: text("requested_by_name"),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [
    index("deployments_target_id_idx").on(t.target, t.id.desc()),
    check("deployments_kind_check", oneOf("kind", DEPLOYMENT_KINDS)),
    check("deployments_status_check", oneOf("status", DEPLOYMENT_STATUSES)),
  ],
);

export type DeploymentRow = typeof deployments.$inferSelect;
export type NewDeploymentRow = typeof deployments.$inferInsert;
