ALTER TABLE "alert_outbox" DROP CONSTRAINT "alert_outbox_kind_check";--> statement-breakpoint
ALTER TABLE "locks" ADD COLUMN "version" bigint DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "alert_outbox" ADD CONSTRAINT "alert_outbox_kind_check" CHECK ("kind" IN ('open', 'update', 'recovery', 'reminder', 'notice'));