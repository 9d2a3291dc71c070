CREATE TABLE "audit_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"chat_id" bigint,
	"user_id" bigint,
	"username" text,
	"action" text NOT NULL,
	"target" text,
	"args" jsonb,
	"outcome" text NOT NULL,
	"operation_id" text,
	"detail" jsonb,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL,
	CONSTRAINT "audit_events_hash_unique" UNIQUE("hash"),
	CONSTRAINT "audit_events_outcome_check" CHECK ("outcome" IN ('requested', 'confirmed', 'started', 'succeeded', 'failed', 'rolled_back', 'cancelled', 'expired', 'denied', 'interrupted', 'info'))
);
--> statement-breakpoint
CREATE TABLE "processed_updates" (
	"update_id" bigint PRIMARY KEY NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "operations" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"target" text NOT NULL,
	"status" text NOT NULL,
	"args" jsonb,
	"plan" jsonb,
	"result" jsonb,
	"chat_id" bigint,
	"message_id" bigint,
	"requested_by" bigint,
	"requested_by_name" text,
	"confirmed_by" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"confirmed_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"heartbeat_at" timestamp with time zone,
	"error" text,
	CONSTRAINT "operations_kind_check" CHECK ("kind" IN ('deploy', 'rollback', 'scale', 'backup', 'pause_payouts', 'resume_payouts')),
	CONSTRAINT "operations_status_check" CHECK ("status" IN ('requested', 'awaiting_confirmation', 'confirmed', 'running', 'succeeded', 'failed', 'rolled_back', 'cancelled', 'expired', 'denied', 'interrupted'))
);
--> statement-breakpoint
CREATE TABLE "deployments" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"operation_id" text,
	"target" text NOT NULL,
	"kind" text NOT NULL,
	"ref" text,
	"sha" text,
	"previous_sha" text,
	"status" text NOT NULL,
	"requested_by" bigint,
	"requested_by_name" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "deployments_kind_check" CHECK ("kind" IN ('deploy', 'rollback')),
	CONSTRAINT "deployments_status_check" CHECK ("status" IN ('running', 'succeeded', 'failed', 'rolled_back', 'interrupted'))
);
--> statement-breakpoint
CREATE TABLE "locks" (
	"target" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"operation_id" text,
	"holder_user_id" bigint,
	"holder_name" text,
	"reason" text,
	"since" timestamp with time zone DEFAULT now() NOT NULL,
	"heartbeat_at" timestamp with time zone,
	CONSTRAINT "locks_kind_check" CHECK ("kind" IN ('operation', 'freeze'))
);
--> statement-breakpoint
CREATE TABLE "backups" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"target" text NOT NULL,
	"operation_id" text,
	"path" text,
	"size_bytes" bigint,
	"duration_ms" integer,
	"status" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"pruned_at" timestamp with time zone,
	"error" text,
	CONSTRAINT "backups_status_check" CHECK ("status" IN ('succeeded', 'failed', 'pruned'))
);
--> statement-breakpoint
CREATE TABLE "payouts_state" (
	"target" text PRIMARY KEY NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"by_user_id" bigint,
	"by_name" text,
	"reason" text,
	"since" timestamp with time zone DEFAULT now() NOT NULL,
	"last_reminder_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "incidents" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"target" text NOT NULL,
	"source" text NOT NULL,
	"subject" text NOT NULL,
	"state" text DEFAULT 'open' NOT NULL,
	"opened_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"count" integer DEFAULT 1 NOT NULL,
	"last_error" text,
	"messages" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"acked_by" bigint,
	"acked_at" timestamp with time zone,
	"last_reminder_at" timestamp with time zone,
	CONSTRAINT "incidents_source_check" CHECK ("source" IN ('docker', 'http', 'disk', 'backup', 'payouts', 'reachability')),
	CONSTRAINT "incidents_state_check" CHECK ("state" IN ('open', 'acked', 'muted', 'resolved'))
);
--> statement-breakpoint
CREATE TABLE "alert_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"incident_id" bigint,
	"chat_id" bigint NOT NULL,
	"kind" text NOT NULL,
	"text" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone,
	"message_id" bigint,
	CONSTRAINT "alert_outbox_kind_check" CHECK ("kind" IN ('open', 'update', 'recovery', 'reminder'))
);
--> statement-breakpoint
CREATE TABLE "mutes" (
	"key" text PRIMARY KEY NOT NULL,
	"until" timestamp with time zone NOT NULL,
	"by_user_id" bigint,
	"by_name" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "alert_outbox" ADD CONSTRAINT "alert_outbox_incident_id_incidents_id_fk" FOREIGN KEY ("incident_id") REFERENCES "public"."incidents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_events_created_at_idx" ON "audit_events" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "audit_events_operation_id_idx" ON "audit_events" USING btree ("operation_id");--> statement-breakpoint
CREATE INDEX "operations_status_idx" ON "operations" USING btree ("status");--> statement-breakpoint
CREATE INDEX "operations_target_status_idx" ON "operations" USING btree ("target","status");--> statement-breakpoint
CREATE INDEX "deployments_target_id_idx" ON "deployments" USING btree ("target","id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "backups_target_id_idx" ON "backups" USING btree ("target","id" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "incidents_one_unresolved_idx" ON "incidents" USING btree ("target","source","subject") WHERE "state" <> 'resolved';--> statement-breakpoint
CREATE INDEX "incidents_state_idx" ON "incidents" USING btree ("state");--> statement-breakpoint
CREATE INDEX "alert_outbox_pending_idx" ON "alert_outbox" USING btree ("next_attempt_at") WHERE "delivered_at" IS NULL;