CREATE TABLE "service_replicas" (
	"target" text NOT NULL,
	"service" text NOT NULL,
	"replicas" integer NOT NULL,
	"by_user_id" bigint,
	"operation_id" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "service_replicas_target_service_pk" PRIMARY KEY("target","service")
);
--> statement-breakpoint
ALTER TABLE "operations" DROP CONSTRAINT "operations_kind_check";--> statement-breakpoint
ALTER TABLE "operations" ADD CONSTRAINT "operations_kind_check" CHECK ("kind" IN ('deploy', 'rollback', 'scale', 'backup', 'pause_payouts', 'resume_payouts', 'restart', 'run'));