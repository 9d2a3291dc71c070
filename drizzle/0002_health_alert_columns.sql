DROP INDEX "alert_outbox_pending_idx";--> statement-breakpoint
ALTER TABLE "incidents" ADD COLUMN "acked_by_name" text;--> statement-breakpoint
ALTER TABLE "alert_outbox" ADD COLUMN "last_error" text;--> statement-breakpoint
ALTER TABLE "alert_outbox" ADD COLUMN "given_up_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "alert_outbox_pending_idx" ON "alert_outbox" USING btree ("id") WHERE "delivered_at" IS NULL AND "given_up_at" IS NULL;