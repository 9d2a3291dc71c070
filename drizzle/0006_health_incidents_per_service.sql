CREATE TABLE "health_watch" (
	"target" text NOT NULL,
	"check" text NOT NULL,
	"since" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "health_watch_target_check_pk" PRIMARY KEY("target","check")
);
--> statement-breakpoint
ALTER TABLE "incidents" DROP CONSTRAINT "incidents_source_check";--> statement-breakpoint
ALTER TABLE "incidents" ADD COLUMN "signals" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "incidents" ADD COLUMN "flaps" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "mutes" ADD COLUMN "reason" text;--> statement-breakpoint
ALTER TABLE "incidents" ADD CONSTRAINT "incidents_source_check" CHECK ("source" IN ('service', 'docker', 'http', 'disk', 'backup', 'payouts', 'reachability'));