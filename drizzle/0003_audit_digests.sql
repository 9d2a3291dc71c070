CREATE TABLE "audit_digests" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_row_id" bigint NOT NULL,
	"row_count" bigint NOT NULL,
	"head_hash" text NOT NULL,
	"reason" text NOT NULL,
	"chat_ids" jsonb NOT NULL
);
