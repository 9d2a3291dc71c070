import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEventInput } from "../../src/shared/ports.js";
import {
  GENESIS_HASH,
  PostgresAuditLog,
  auditRowHash,
  canonicalAuditRow,
  canonicalJson,
  toAuditJson,
} from "../../src/infra/db/audit-log.js";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { MigrationError, migrate } from "../../src/infra/db/migrate.js";
import { ProcessedUpdates } from "../../src/infra/db/processed-updates.js";
import { writeBrokenMigrations } from "../support/migrations.js";
import { auditEvents } from "../../src/infra/db/schema/index.js";

function event(overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    chatId: -1001234567890123,
    userId: 4503599627370495, // 2^52 - 1: Telegram ids have up to 52 significant bits
    username: "alice",
    action: "deploy",
    target: "prod",
    args: { ref: "main" },
    outcome: "requested",
    operationId: "op_abc",
    detail: null,
    ...overrides,
  };
}

/** drizzle wraps driver errors ("Failed query: …"); the database's own message is the cause. */
async function expectDbError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, "the statement should have failed").toBeInstanceOf(Error);
  const cause = (err as Error).cause;
  expect(cause instanceof Error ? cause.message : (err as Error).message).toMatch(pattern);
}

describe("canonicalAuditRow", () => {
  const base = {
    createdAt: new Date("2026-01-02T03:04:05.678Z"),
    chatId: 1,
    userId: 2,
    username: "bob",
    action: "scale",
    target: "prod",
    args: { service: "worker", replicas: 3, nested: { b: 1, a: [{ y: 2, x: 1 }] } },
    outcome: "requested" as const,
    operationId: "op1",
    detail: { z: true, a: null },
  };

  it("does not depend on key order, at any depth", () => {
    const reordered = {
      ...base,
      args: { nested: { a: [{ x: 1, y: 2 }], b: 1 }, replicas: 3, service: "worker" },
      detail: { a: null, z: true },
    };
    expect(canonicalAuditRow(reordered)).toBe(canonicalAuditRow(base));
    expect(auditRowHash(GENESIS_HASH, reordered)).toBe(auditRowHash(GENESIS_HASH, base));
  });

  it("is sorted JSON of exactly the stored fields", () => {
    expect(canonicalAuditRow(base)).toBe(
      '{"action":"scale","args":{"nested":{"a":[{"x":1,"y":2}],"b":1},"replicas":3,"service":"worker"},' +
        '"chat_id":1,"created_at":"2026-01-02T03:04:05.678Z","detail":{"a":null,"z":true},"operation_id":"op1",' +
        '"outcome":"requested","target":"prod","user_id":2,"username":"bob"}',
    );
  });

  it("changes when any field changes, keeps array order significant", () => {
    const h = canonicalAuditRow(base);
    expect(canonicalAuditRow({ ...base, outcome: "failed" })).not.toBe(h);
    expect(canonicalAuditRow({ ...base, createdAt: new Date(base.createdAt.getTime() + 1) })).not.toBe(h);
    expect(canonicalAuditRow({ ...base, args: { ...base.args, replicas: 4 } })).not.toBe(h);
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  it("drops undefined members like JSON does", () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(canonicalJson([undefined])).toBe("[null]");
  });
});

describe("toAuditJson", () => {
  it("masks secrets in every string value", () => {
    const token = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0";
    const out = toAuditJson({ cmd: `token ${token} leaked`, list: [`postgres://u:hunter2@db/x`] });
    const text = JSON.stringify(out);
    expect(text).not.toContain(token);
    expect(text).not.toContain("hunter2");
    expect(text).toContain("[REDACTED");
  });

  it("turns anything into plain JSON data that round-trips", () => {
    const cyclic: Record<string, unknown> = { n: 1 };
    cyclic.self = cyclic;
    const out = toAuditJson({ when: new Date(0), big: 10n, nan: Number.NaN, nul: "a\u0000b", cyclic, gone: undefined });
    expect(out).toEqual({ when: "1970-01-01T00:00:00.000Z", big: "10", nan: null, nul: "a\uFFFDb", cyclic: { n: 1, self: "[Circular]" } });
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  });
});

describe("database on the embedded Postgres (the default)", () => {
  let dir: string;
  let handle: DatabaseHandle;
  let audit: PostgresAuditLog;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "opsgram-db-unit-"));
    handle = await openDatabase({ dataDir: dir });
    await migrate(handle);
    audit = new PostgresAuditLog(handle.db);
  }, 60_000);

  /** Tampering as a superuser would: switch the append-only row trigger off for a moment. */
  async function withTriggerDisabled(fn: () => Promise<void>): Promise<void> {
    await handle.db.execute(sql`alter table audit_events disable trigger audit_events_no_update_delete`);
    try {
      await fn();
    } finally {
      await handle.db.execute(sql`alter table audit_events enable trigger audit_events_no_update_delete`);
    }
  }

  afterAll(async () => {
    await handle?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts the embedded Postgres under the data dir and applies the migrations (again: no-op)", async () => {
    expect(handle.kind).toBe("embedded");
    await migrate(handle);
    await Promise.all([migrate(handle), migrate(handle)]);
    const tables = await handle.db.execute<{ table_name: string }>(
      sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`,
    );
    const names = (tables as unknown as { table_name: string }[]).map((r) => r.table_name);
    expect(names).toEqual([
      "alert_outbox",
      "audit_digests",
      "audit_events",
      "backups",
      "deployments",
      "health_watch",
      "incidents",
      "locks",
      "mutes",
      "operations",
      "payouts_state",
      "processed_updates",
    ]);
  });

  it("appends a chain and lists it newest first", async () => {
    const first = await audit.append(event({ args: { ref: "main", nested: { z: 1, a: 2 } } }));
    const second = await audit.append(event({ outcome: "confirmed", detail: { by: "bob" } }));
    const third = await audit.append(event({ outcome: "succeeded", detail: { durationMs: 1234.5, steps: ["pull", "up"] } }));
    expect(first.prevHash).toBe(GENESIS_HASH);
    expect(second.prevHash).toBe(first.hash);
    expect(third.prevHash).toBe(second.hash);

    const recent = await audit.recent(2);
    expect(recent.map((e) => e.id)).toEqual([third.id, second.id]);
    expect(recent[0]).toEqual(third);
    expect(recent[1]?.userId).toBe(4503599627370495);
    expect(recent[1]?.chatId).toBe(-1001234567890123);
    expect(await audit.verifyChain()).toMatchObject({ ok: true, count: 3, headId: third.id, headHash: third.hash, keyedFromId: null });
  });

  it("stores what it hashed: a row read back hashes identically", async () => {
    const written = await audit.append(event({ args: { b: [1, { y: "ü", x: 0.1 }], a: 1e21, emoji: "🚀" } }));
    const [stored] = await handle.db.select().from(auditEvents).where(sql`${auditEvents.id} = ${written.id}`);
    expect(stored).toBeDefined();
    expect(stored!.createdAt.getTime()).toBe(written.createdAt.getTime());
    expect(auditRowHash(stored!.prevHash, stored!)).toBe(stored!.hash);
  });

  it("the SQL HMAC matches node's for short, long and non-ASCII keys", async () => {
    for (const key of ["k", "a-32-byte-key-for-the-audit-log!", "x".repeat(65), "ключ-🔑"]) {
      const message = `${GENESIS_HASH}{"action":"deploy","args":{"ü":1}}`;
      const result = await handle.db.execute(
        sql`select encode(opsgram_hmac_sha256(convert_to(${key}::text, 'UTF8'), convert_to(${message}::text, 'UTF8')), 'hex') as h`,
      );
      // postgres.js answers with the rows themselves; PGlite wrapped them in { rows }.
      const rows = (Array.isArray(result) ? result : (result as unknown as { rows: unknown[] }).rows) as { h: string }[];
      expect(rows[0]?.h).toBe(createHmac("sha256", key).update(message).digest("hex"));
    }
  });

  it("appendOnce marks the update and appends in one statement; a repeat writes nothing", async () => {
    const before = await audit.head();
    const first = await audit.appendOnce(555000111, event({ action: "help" }));
    expect(first?.action).toBe("help");
    expect(first?.prevHash).toBe(before.hash);
    expect(await audit.appendOnce(555000111, event({ action: "help" }))).toBeNull();
    expect(await audit.head()).toEqual({ lastRowId: first!.id, rowCount: before.rowCount + 1, hash: first!.hash });
    expect(await new ProcessedUpdates(handle.db).markProcessed(555000111)).toBe(false);
  });

  it("refuses UPDATE, DELETE and TRUNCATE on audit_events", async () => {
    await expectDbError(handle.db.execute(sql`update audit_events set action = 'x'`), /audit_events is append-only: UPDATE/);
    await expectDbError(handle.db.execute(sql`delete from audit_events`), /audit_events is append-only: DELETE/);
    await expectDbError(handle.db.execute(sql`truncate audit_events`), /audit_events is append-only: TRUNCATE/);
    expect(await audit.verifyChain()).toMatchObject({ ok: true });
  });

  it("refuses an insert that would fork the chain", async () => {
    await expectDbError(
      handle.db.insert(auditEvents).values({ action: "x", outcome: "info", prevHash: GENESIS_HASH, hash: "f".repeat(64) }),
      /chain would fork/,
    );
  });

  it("detects an altered row (trigger disabled by a superuser), and accepts it once restored", async () => {
    const [, victim] = await audit.recent(3);
    expect(victim).toBeDefined();
    await withTriggerDisabled(async () => {
      await handle.db.execute(sql`update audit_events set action = 'rollback' where id = ${victim!.id}`);
    });
    const result = await audit.verifyChain();
    expect(result).toMatchObject({ ok: false, brokenAtId: victim!.id, kind: "hash", reason: "hash does not match" });

    await withTriggerDisabled(async () => {
      await handle.db.execute(sql`update audit_events set action = ${victim!.action} where id = ${victim!.id}`);
    });
    expect(await audit.verifyChain()).toMatchObject({ ok: true });
  });

  it("detects a removed row at the row after it", async () => {
    const before = await audit.verifyChain();
    expect(before.ok).toBe(true);
    const [newest, middle] = await audit.recent(2);
    await withTriggerDisabled(async () => {
      await handle.db.execute(sql`delete from audit_events where id = ${middle!.id}`);
    });
    const result = await audit.verifyChain();
    expect(result).toMatchObject({ ok: false, brokenAtId: newest!.id });
    if (!result.ok) expect(result.reason).toMatch(/prev_hash/);
  });

  it("a failing migration throws MigrationError naming it, and changes nothing", async () => {
    const folder = join(dir, "migrations");
    writeBrokenMigrations(folder, 'SELECT * FROM "no_such_table";');

    const err = await migrate(handle, { migrationsFolder: folder }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as MigrationError).name).toBe("MigrationError");
    expect((err as MigrationError).migration).toBe("9999_broken");
    expect((err as MigrationError).message).toMatch(/migration 9999_broken failed: .*no_such_table.*does not exist/);
    const leftover = await handle.db.execute(sql`select to_regclass('public.half_done') as t`);
    expect((leftover as unknown as { t: string | null }[])[0]?.t).toBeNull();
    await migrate(handle); // the real folder still applies cleanly afterwards
  });

  it("markProcessed is true the first time only; prune forgets old ids", async () => {
    const updates = new ProcessedUpdates(handle.db);
    expect(await updates.markProcessed(987654321)).toBe(true);
    expect(await updates.markProcessed(987654321)).toBe(false);
    expect(await updates.markProcessed(987654322)).toBe(true);
    await handle.db.execute(sql`update processed_updates set received_at = now() - interval '49 hours' where update_id = 987654321`);
    expect(await updates.prune()).toBe(1);
    expect(await updates.prune(48)).toBe(0);
    expect(await updates.markProcessed(987654322)).toBe(false);
  });
});
