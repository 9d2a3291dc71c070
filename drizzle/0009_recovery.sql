CREATE TABLE "backup_drills" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"target" text NOT NULL,
	"backup_id" bigint,
	"path" text,
	"ok" boolean NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"duration_ms" integer NOT NULL,
	"error" text
);
--> statement-breakpoint
CREATE TABLE "conversation_state" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "operations" DROP CONSTRAINT "operations_kind_check";--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "verified" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "verification" text;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "deployment_id" bigint;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "drilled_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "copy_error" text;--> statement-breakpoint
CREATE INDEX "backup_drills_target_id_idx" ON "backup_drills" USING btree ("target","id" DESC NULLS LAST);--> statement-breakpoint
ALTER TABLE "operations" ADD CONSTRAINT "operations_kind_check" CHECK ("kind" IN ('deploy', 'rollback', 'scale', 'backup', 'pause_payouts', 'resume_payouts', 'restart', 'run', 'restore'));