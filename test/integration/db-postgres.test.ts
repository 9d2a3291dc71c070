import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GENESIS_HASH, PostgresAuditLog, auditRowHash } from "../../src/infra/db/audit-log.js";
import { DatabaseOpenError, openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { MigrationError, migrate } from "../../src/infra/db/migrate.js";
import { ProcessedUpdates } from "../../src/infra/db/processed-updates.js";
import { auditEvents } from "../../src/infra/db/schema/index.js";
import { createTestDatabase } from "../support/db.js";
import { writeBrokenMigrations } from "../support/migrations.js";
import { freePort } from "../support/ports.js";

/** Opens a handle and remembers it for afterAll. */
const opened: DatabaseHandle[] = [];
async function open(url: string): Promise<DatabaseHandle> {
  const handle = await openDatabase({ url, dataDir: "/nonexistent-not-used-with-a-url" });
  opened.push(handle);
  return handle;
}

/** A plain psql-like client (not drizzle), to act on the table as another tool or a human would. */
const raw: postgres.Sql[] = [];
function rawClient(url: string): postgres.Sql {
  const c = postgres(url, { max: 1, onnotice: () => {} });
  raw.push(c);
  return c;
}

afterAll(async () => {
  await Promise.all(opened.map((h) => h.close()));
  await Promise.all(raw.map((c) => c.end({ timeout: 5 })));
});

describe("openDatabase", () => {
  it("fails at once, without the password, when the server cannot be reached", async () => {
    const port = await freePort();
    const err = await openDatabase({ url: `postgres://bot:s3cret-pw@127.0.0.1:${port}/opsgram`, dataDir: "/unused" }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatabaseOpenError);
    expect((err as Error).message).toContain(`postgres://127.0.0.1:${port}/opsgram`);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    expect((err as Error).message).not.toContain("s3cret-pw");
  });

  it("fails at once when the database does not exist", async () => {
    const url = new URL(createTestDatabase("dbopen"));
    url.pathname = "/no_such_database";
    await expect(openDatabase({ url: url.toString(), dataDir: "/unused" })).rejects.toThrow(/no_such_database.*does not exist/);
  });
});

describe("migrations on a real Postgres", () => {
  it("apply, re-run as a no-op, and two concurrent runs both succeed", async () => {
    const url = createTestDatabase("dbmig");
    const [a, b] = [await open(url), await open(url)];
    await Promise.all([migrate(a), migrate(b)]);
    const c = rawClient(url);
    const applied = await c`select count(*)::int as n from drizzle.__drizzle_migrations`;
    const journal = JSON.parse(readFileSync(join(import.meta.dirname, "../../drizzle/meta/_journal.json"), "utf8")) as {
      entries: unknown[];
    };
    expect(applied[0]?.n).toBe(journal.entries.length);

    await migrate(a);
    const again = await c`select count(*)::int as n from drizzle.__drizzle_migrations`;
    expect(again[0]?.n).toBe(journal.entries.length);

    const tables = await c`select table_name from information_schema.tables where table_schema = 'public' order by 1`;
    expect(tables.map((r) => r.table_name)).toContain("audit_events");
    expect(tables).toHaveLength(15);
  });

  it("several processes' worth of concurrent runs on a fresh database serialise on the lock", async () => {
    const url = createTestDatabase("dbmig");
    const handles = await Promise.all([open(url), open(url), open(url), open(url)]);
    const results = await Promise.allSettled(handles.map((h) => migrate(h)));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
  });

  it("a failing migration throws MigrationError naming it and leaves the database unchanged", async () => {
    const url = createTestDatabase("dbmig");
    const handle = await open(url);
    await migrate(handle);
    const folder = mkdtempSync(join(tmpdir(), "opsgram-mig-"));
    try {
      writeBrokenMigrations(folder, 'ALTER TABLE "audit_events" ADD COLUMN "id" text;');
      const err = await migrate(handle, { migrationsFolder: folder }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(MigrationError);
      expect((err as MigrationError).migration).toBe("9999_broken");
      expect((err as Error).message).toMatch(/migration 9999_broken failed: .*"id".*already exists/);
      const c = rawClient(url);
      const [row] = await c`select to_regclass('public.half_done') as t`;
      expect(row?.t).toBeNull();
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe("audit_events on a real Postgres", () => {
  let url: string;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    url = createTestDatabase("dbaudit");
    handle = await open(url);
    await migrate(handle);
  });

  /** The server's own error message for a statement that must fail. */
  async function failureOf(query: Promise<unknown>): Promise<string> {
    const err = await query.then(() => null, (e: unknown) => e);
    expect(err, "the statement should have failed").toBeInstanceOf(Error);
    return (err as Error).message;
  }

  it("UPDATE, DELETE and TRUNCATE fail with the append-only error, whoever sends them", async () => {
    const log = new PostgresAuditLog(handle.db);
    await log.append({
      chatId: -100123,
      userId: 42,
      username: "alice",
      action: "deploy",
      target: "prod",
      args: { ref: "main" },
      outcome: "requested",
      operationId: "op1",
      detail: null,
    });
    const c = rawClient(url); // superuser, like someone with psql
    expect(await failureOf(c`update audit_events set outcome = 'failed'`)).toMatch(/audit_events is append-only: UPDATE/);
    expect(await failureOf(c`delete from audit_events`)).toMatch(/audit_events is append-only: DELETE/);
    expect(await failureOf(c`truncate audit_events`)).toMatch(/audit_events is append-only: TRUNCATE/);
    expect(await failureOf(c`truncate audit_events cascade`)).toMatch(/append-only/);
    const [count] = await c`select count(*)::int as n from audit_events`;
    expect(count?.n).toBe(1);
    // jsonb holds an object, not a JSON string (drizzle + postgres.js double-encoding pitfall)
    const [kind] = await c`select jsonb_typeof(args) as t from audit_events`;
    expect(kind?.t).toBe("object");
  });

  it("50 concurrent appends from several connections form one chain", async () => {
    const handles = await Promise.all([open(url), open(url), open(url), open(url), open(url)]);
    const logs = handles.map((h) => new PostgresAuditLog(h.db));
    const before = (await new PostgresAuditLog(handle.db).verifyChain()) as { ok: true; count: number };
    expect(before.ok).toBe(true);

    const appended = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        logs[i % logs.length]!.append({
          chatId: -100123,
          userId: 1000 + i,
          username: `user${i}`,
          action: "scale",
          target: "prod",
          args: { service: "worker", replicas: i, tags: { z: i, a: [i, "x"] } },
          outcome: "info",
          operationId: null,
          detail: { writer: i % logs.length },
        }),
      ),
    );
    expect(new Set(appended.map((e) => e.hash)).size).toBe(50);

    const verdict = await new PostgresAuditLog(handle.db).verifyChain();
    expect(verdict).toMatchObject({ ok: true, count: before.count + 50 });

    const rows = await handle.db.select().from(auditEvents).orderBy(auditEvents.id);
    expect(rows).toHaveLength(before.count + 50);
    expect(rows[0]?.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) {
      expect(rows[i]!.prevHash).toBe(rows[i - 1]!.hash);
      expect(auditRowHash(rows[i]!.prevHash, rows[i]!)).toBe(rows[i]!.hash);
    }
    // One hash per row, one successor per hash: nothing forked.
    expect(new Set(rows.map((r) => r.prevHash)).size).toBe(rows.length);
  });

  it("group commit: a burst is written in few transactions, each caller gets its own committed row, a bad event fails alone", async () => {
    const log = new PostgresAuditLog(handle.db);
    const event = (i: number) => ({
      chatId: -100200,
      userId: 5000 + i,
      username: `burst${i}`,
      action: "help",
      target: null,
      args: { i },
      outcome: (i === 137 ? "not-an-outcome" : "info") as "info",
      operationId: null,
      detail: null,
    });
    const results = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => log.append(event(i))));
    const rejected = results.flatMap((r, i) => (r.status === "rejected" ? [i] : []));
    expect(rejected).toEqual([137]);
    const rows = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    // Each caller got the row of its own event, in the order asked.
    expect(rows.map((r) => (r.args as { i: number }).i)).toEqual(Array.from({ length: 300 }, (_, i) => i).filter((i) => i !== 137));
    const stored = await handle.db.select({ createdAt: auditEvents.createdAt }).from(auditEvents).where(sql`user_id between 5000 and 5299`);
    expect(stored).toHaveLength(299);
    // Rows of one transaction share created_at: far fewer transactions than events.
    expect(new Set(stored.map((r) => r.createdAt.getTime())).size).toBeLessThan(100);
    expect(await log.verifyChain()).toMatchObject({ ok: true });
  });

  it("an insert that bypasses the app cannot fork the chain", async () => {
    const c = rawClient(url);
    expect(
      await failureOf(
        c`insert into audit_events (action, outcome, prev_hash, hash) values ('x', 'info', ${GENESIS_HASH}, ${"e".repeat(64)})`,
      ),
    ).toMatch(/chain would fork/);
  });

  it("recent() lists newest first", async () => {
    const log = new PostgresAuditLog(handle.db);
    const recent = await log.recent(5);
    expect(recent).toHaveLength(5);
    const ids = recent.map((e) => e.id);
    expect([...ids].sort((x, y) => y - x)).toEqual(ids);
  });

  it("markProcessed: 20 parallel calls for one update id from several connections give exactly one true", async () => {
    const handles = await Promise.all([open(url), open(url), open(url), open(url)]);
    const stores = handles.map((h) => new ProcessedUpdates(h.db));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % stores.length]!.markProcessed(777000111)));
    expect(results.filter((r) => r)).toHaveLength(1);
    expect(await stores[0]!.markProcessed(777000112)).toBe(true);
    const c = rawClient(url);
    await c`update processed_updates set received_at = now() - interval '3 hours' where update_id = 777000111`;
    expect(await stores[0]!.prune(2.5)).toBe(1);
    expect(await stores[0]!.markProcessed(777000112)).toBe(false);
  });

  it("markProcessed batches a burst: each distinct id is true once, repeats false, all stored", async () => {
    const store = new ProcessedUpdates(handle.db);
    const ids = Array.from({ length: 1200 }, (_, i) => 880000000 + (i % 1000)); // 200 repeats
    const results = await Promise.all(ids.map((id) => store.markProcessed(id)));
    expect(results.filter((r) => r)).toHaveLength(1000);
    const firstSeen = new Set<number>();
    results.forEach((r, i) => {
      expect(r).toBe(!firstSeen.has(ids[i]!));
      firstSeen.add(ids[i]!);
    });
    const [row] = await rawClient(url)`select count(*)::int as n from processed_updates where update_id between 880000000 and 880000999`;
    expect(row?.n).toBe(1000);
  });

  it("stores Telegram-sized ids and timestamps exactly", async () => {
    const log = new PostgresAuditLog(handle.db, { clock: { now: () => new Date("2030-05-06T07:08:09.123Z"), sleep: async () => {} } });
    const e = await log.append({
      chatId: -1009007199254740, // 52 bits, negative
      userId: 4503599627370495,
      username: null,
      action: "info",
      target: null,
      args: null,
      outcome: "info",
      operationId: null,
      detail: { text: "ü🚀" },
    });
    const [row] = await handle.db.select().from(auditEvents).where(sql`${auditEvents.id} = ${e.id}`);
    expect(row?.chatId).toBe(-1009007199254740);
    expect(row?.userId).toBe(4503599627370495);
    expect(row?.createdAt.toISOString()).toBe("2030-05-06T07:08:09.123Z");
    expect(await log.verifyChain()).toMatchObject({ ok: true });
  });
});
