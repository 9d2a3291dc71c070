-- One round trip per audit append: audit_append() takes the chain lock, reads the head, computes
-- each row's hash (sha256, or HMAC-SHA256 when the app passes AUDIT_HMAC_KEY) and inserts, all in
-- one statement. The caller sends the canonical text of each row (canonicalAuditRow in
-- src/infra/db/audit-log.ts); verification recomputes it from the stored columns, so a caller that
-- lied about it only produces a row that fails /audit verify. The key is a parameter, never stored.
-- Only builtins (sha256, get_byte/set_byte): plain Postgres that PGlite runs too.
CREATE OR REPLACE FUNCTION "opsgram_hmac_sha256"(p_key bytea, p_message bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  k bytea := p_key;
  inner_pad bytea;
  outer_pad bytea;
BEGIN
  -- RFC 2104 with a 64-byte block: long keys are hashed first, short ones padded with zeros.
  IF length(k) > 64 THEN k := sha256(k); END IF;
  k := k || decode(repeat('00', 64 - length(k)), 'hex');
  inner_pad := k;
  outer_pad := k;
  FOR i IN 0..63 LOOP
    inner_pad := set_byte(inner_pad, i, get_byte(k, i) # 54);   -- 0x36
    outer_pad := set_byte(outer_pad, i, get_byte(k, i) # 92);   -- 0x5c
  END LOOP;
  RETURN sha256(outer_pad || sha256(inner_pad || p_message));
END;
$$;
--> statement-breakpoint
-- p_rows: a JSON array of {created_at, chat_id, user_id, username, action, target, args, outcome,
-- operation_id, detail, canonical}. p_update_id: when given, the Telegram update is marked processed
-- in the same statement, and a repeat writes nothing and returns no rows.
CREATE OR REPLACE FUNCTION "audit_append"(p_rows jsonb, p_key text, p_update_id bigint)
RETURNS SETOF "audit_events"
LANGUAGE plpgsql AS $$
DECLARE
  prev text;
  r jsonb;
  link bytea;
  stored "audit_events";
BEGIN
  IF p_update_id IS NOT NULL THEN
    INSERT INTO "processed_updates" ("update_id") VALUES (p_update_id) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN RETURN; END IF;
  END IF;
  -- Same key as the audit_events_chain_link trigger (advisory locks are re-entrant).
  PERFORM pg_advisory_xact_lock(8030045023739407617);
  SELECT "hash" INTO prev FROM "audit_events" ORDER BY "id" DESC LIMIT 1;
  prev := coalesce(prev, repeat('0', 64));
  FOR r IN SELECT value FROM jsonb_array_elements(p_rows) LOOP
    link := convert_to(prev || (r->>'canonical'), 'UTF8');
    INSERT INTO "audit_events" ("created_at", "chat_id", "user_id", "username", "action", "target", "args",
                                "outcome", "operation_id", "detail", "prev_hash", "hash")
    VALUES ((r->>'created_at')::timestamptz, (r->>'chat_id')::bigint, (r->>'user_id')::bigint, r->>'username',
            r->>'action', r->>'target', nullif(r->'args', 'null'::jsonb), r->>'outcome', r->>'operation_id',
            nullif(r->'detail', 'null'::jsonb), prev,
            encode(CASE WHEN p_key IS NULL THEN sha256(link)
                        ELSE "opsgram_hmac_sha256"(convert_to(p_key, 'UTF8'), link) END, 'hex'))
    RETURNING * INTO stored;
    prev := stored."hash";
    RETURN NEXT stored;
  END LOOP;
END;
$$;
--> statement-breakpoint
-- Published digests are evidence too: never changed or removed.
CREATE OR REPLACE FUNCTION "audit_digests_append_only"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_digests is append-only: % is not allowed', TG_OP
    USING HINT = 'Published digests are never changed or removed.';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "audit_digests_no_update_delete"
  BEFORE UPDATE OR DELETE ON "audit_digests"
  FOR EACH ROW EXECUTE FUNCTION "audit_digests_append_only"();
--> statement-breakpoint
CREATE TRIGGER "audit_digests_no_truncate"
  BEFORE TRUNCATE ON "audit_digests"
  FOR EACH STATEMENT EXECUTE FUNCTION "audit_digests_append_only"();
