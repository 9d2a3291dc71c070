-- audit_events is append-only: rows are never changed or removed, whoever asks.
-- Row triggers stop UPDATE and DELETE; TRUNCATE fires no row triggers, so a statement-level
-- BEFORE TRUNCATE trigger stops it too.
CREATE OR REPLACE FUNCTION "audit_events_append_only"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING HINT = 'Audit rows are never changed or removed; append a new event instead.';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "audit_events_no_update_delete"
  BEFORE UPDATE OR DELETE ON "audit_events"
  FOR EACH ROW EXECUTE FUNCTION "audit_events_append_only"();
--> statement-breakpoint
CREATE TRIGGER "audit_events_no_truncate"
  BEFORE TRUNCATE ON "audit_events"
  FOR EACH STATEMENT EXECUTE FUNCTION "audit_events_append_only"();
--> statement-breakpoint
-- The hash chain must not fork, whoever writes: each new row must point at the latest row's hash
-- (64 zeros for the first). The advisory lock is the one the app's writer already holds
-- (AUDIT_CHAIN_LOCK_KEY in src/infra/db/audit-log.ts; advisory locks are re-entrant), so a writer
-- that forgot it is serialised here instead of forking the chain.
CREATE OR REPLACE FUNCTION "audit_events_chain_link"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  latest text;
BEGIN
  PERFORM pg_advisory_xact_lock(8030045023739407617);
  SELECT "hash" INTO latest FROM "audit_events" ORDER BY "id" DESC LIMIT 1;
  IF NEW."prev_hash" IS DISTINCT FROM coalesce(latest, repeat('0', 64)) THEN
    RAISE EXCEPTION 'audit_events chain would fork: prev_hash % is not the latest hash %',
      NEW."prev_hash", coalesce(latest, repeat('0', 64));
  END IF;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "audit_events_chain_link"
  BEFORE INSERT ON "audit_events"
  FOR EACH ROW EXECUTE FUNCTION "audit_events_chain_link"();
