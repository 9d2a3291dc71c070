import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asc, gte } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { verdictText } from "../../src/bot/handlers/audit.js";
import { AuditDigests } from "../../src/infra/db/audit-digests.js";
import { PostgresAuditLog, auditRowHash } from "../../src/infra/db/audit-log.js";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { ProcessedUpdates } from "../../src/infra/db/processed-updates.js";
import { DatabaseRoleError, migrateAsOwner } from "../../src/infra/db/roles.js";
import { auditEvents } from "../../src/infra/db/schema/index.js";
import type { AuditEventInput, Notifier } from "../../src/shared/ports.js";
import { BotApiEmulator } from "../emulator/bot-api-emulator.js";
import { runBotToExit, startBotProcess, type BotProcess } from "../support/bot-process.js";
import { createTestDatabase } from "../support/db.js";

const silent = { warn() {}, error() {}, info() {}, debug() {} } as unknown as import("pino").Logger;

const opened: DatabaseHandle[] = [];
async function open(url: string): Promise<DatabaseHandle> {
  const handle = await openDatabase({ url, dataDir: "/unused" });
  opened.push(handle);
  return handle;
}
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

function event(i: number): AuditEventInput {
  return { chatId: -100123, userId: 42, username: "alice", action: `deploy`, target: "prod", args: { ref: `v${i}` }, outcome: "succeeded", operationId: `op${i}`, detail: { i } };
}

/** Records what would have been posted to chat. */
function recordingNotifier(): Notifier & { sent: { chatId: number; text: string }[] } {
  const sent: { chatId: number; text: string }[] = [];
  return {
    sent,
    async send(chatId, text) {
      sent.push({ chatId, text });
      return { chatId, messageId: sent.length };
    },
    async edit() {},
    async sendDocument(chatId) {
      return { chatId, messageId: 0 };
    },
  };
}

/** As a superuser would: triggers off, `fn`, triggers on. */
async function asTamperer(sql: postgres.Sql, fn: () => Promise<unknown>): Promise<void> {
  await sql`ALTER TABLE audit_events DISABLE TRIGGER ALL`;
  try {
    await fn();
  } finally {
    await sql`ALTER TABLE audit_events ENABLE TRIGGER ALL`;
  }
}

/**
 * The careful forger without the key: changes row `id` and recomputes every later link with
 * plain sha256, so the chain is self-consistent again.
 */
async function rewriteAndRechain(handle: DatabaseHandle, sql: postgres.Sql, id: number): Promise<void> {
  const rows = await handle.db.select().from(auditEvents).where(gte(auditEvents.id, id)).orderBy(asc(auditEvents.id));
  await asTamperer(sql, async () => {
    let prev = rows[0]!.prevHash;
    for (const [i, row] of rows.entries()) {
      const action = i === 0 ? "forged" : row.action;
      const hash = auditRowHash(prev, { ...row, action });
      await sql`UPDATE audit_events SET action = ${action}, prev_hash = ${prev}, hash = ${hash} WHERE id = ${row.id}`;
      prev = hash;
    }
  });
}

describe("/audit verify against real Postgres", () => {
  it("is ✅ on a clean chain, and names the one row a superuser edited", async () => {
    const url = createTestDatabase("auditv");
    const handle = await open(url);
    await migrate(handle);
    const audit = new PostgresAuditLog(handle.db);
    const rows = await Promise.all(Array.from({ length: 30 }, (_, i) => audit.append(event(i))));
    const clean = await audit.verifyChain();
    expect(verdictText(clean)).toMatch(new RegExp(`^✅ audit chain intact: 30 rows, head ${rows.at(-1)!.hash.slice(0, 16)}\\n`));

    const victim = rows[11]!;
    await asTamperer(rawClient(url), () => rawClient(url)`UPDATE audit_events SET detail = '{"i": 999}' WHERE id = ${victim.id}`);
    expect(verdictText(await audit.verifyChain())).toMatch(new RegExp(`^❌ row #${victim.id}: hash does not match\\n11 rows before it verified`));
  });

  it("without a key, a rewrite that recomputes every later hash still breaks a published digest, which is named", async () => {
    const url = createTestDatabase("auditd");
    const handle = await open(url);
    await migrate(handle);
    const audit = new PostgresAuditLog(handle.db);
    for (let i = 0; i < 10; i++) await audit.append(event(i));
    const notifier = recordingNotifier();
    const digests = new AuditDigests({ db: handle.db, audit, notifier, chatIds: [-1001, -1002], log: silent });
    const digest = await digests.publish("manual", { chatId: -1001, userId: 42, username: "alice" });
    const head = await audit.head();
    expect(notifier.sent).toEqual([
      { chatId: -1001, text: `🔏 audit digest: rows 1–11 · head ${head.hash}` },
      { chatId: -1002, text: `🔏 audit digest: rows 1–11 · head ${head.hash}` },
    ]);
    expect(head.rowCount).toBe(11); // the digest's own audit row is covered
    for (let i = 10; i < 15; i++) await audit.append(event(i));
    expect(await audit.verifyChain()).toMatchObject({ ok: true, count: 16, digestsChecked: 1 });

    const [fourth] = await handle.db.select().from(auditEvents).orderBy(asc(auditEvents.id)).offset(3).limit(1);
    await rewriteAndRechain(handle, rawClient(url), fourth!.id);
    const verdict = await audit.verifyChain();
    expect(verdict).toMatchObject({ ok: false, kind: "digest", digestId: digest.id, brokenAtId: digest.lastRowId });
    expect(verdictText(verdict)).toMatch(new RegExp(`^❌ row #${digest.lastRowId}: digest #${digest.id} \\(rows 1–11, head ${head.hash.slice(0, 12)}\\) does not match the chain`));
  });

  it("a tail cut off below a published digest is named by that digest", async () => {
    const url = createTestDatabase("auditt");
    const handle = await open(url);
    await migrate(handle);
    const audit = new PostgresAuditLog(handle.db);
    for (let i = 0; i < 6; i++) await audit.append(event(i));
    const digest = await new AuditDigests({ db: handle.db, audit, notifier: recordingNotifier(), chatIds: [-1], log: silent }).publish("daily", null);
    const sql = rawClient(url);
    await asTamperer(sql, () => sql`DELETE FROM audit_events WHERE id >= ${digest.lastRowId - 2}`);
    expect(verdictText(await audit.verifyChain())).toMatch(new RegExp(`^❌ row #${digest.lastRowId}: digest #${digest.id} covers row #${digest.lastRowId}, which is missing`));
  });

  it("with AUDIT_HMAC_KEY, a rewrite that recomputes every later sha256 is caught at the rewritten row", async () => {
    const url = createTestDatabase("auditk");
    const handle = await open(url);
    await migrate(handle);
    const audit = new PostgresAuditLog(handle.db, { hmacKey: "integration-test-hmac-key-0123456789" });
    const rows: { id: number; hash: string }[] = [];
    for (let i = 0; i < 12; i++) rows.push(await audit.append(event(i)));
    expect(await audit.verifyChain()).toMatchObject({ ok: true, count: 12, keyedFromId: rows[0]!.id });
    // Keyed rows do not verify as plain sha256: the key is what makes them.
    expect(await new PostgresAuditLog(handle.db).verifyChain()).toMatchObject({ ok: false, brokenAtId: rows[0]!.id });

    await rewriteAndRechain(handle, rawClient(url), rows[5]!.id);
    expect(await audit.verifyChain()).toMatchObject({ ok: false, kind: "hash", brokenAtId: rows[5]!.id });
  });

  it("a keyed log continues a plain chain; once keyed, a plain row is refused", async () => {
    const url = createTestDatabase("auditm");
    const handle = await open(url);
    await migrate(handle);
    const plain = new PostgresAuditLog(handle.db);
    const keyed = new PostgresAuditLog(handle.db, { hmacKey: "another-hmac-key-for-tests" });
    await plain.append(event(1));
    const first = await keyed.append(event(2));
    expect(await keyed.verifyChain()).toMatchObject({ ok: true, count: 2, keyedFromId: first.id });
    const intruder = await plain.append(event(3));
    expect(await keyed.verifyChain()).toMatchObject({ ok: false, kind: "hash", brokenAtId: intruder.id });
  });
});

describe("separate owner and app roles (DATABASE_OWNER_URL)", () => {
  const suffix = randomBytes(4).toString("hex");
  const owner = `og_owner_${suffix}`;
  const app = `og_app_${suffix}`;
  let ownerUrl: string;
  let appUrl: string;
  let appSql: postgres.Sql;

  beforeAll(async () => {
    const base = inject("postgresUrl");
    const db = `og_roles_${suffix}`;
    for (const statement of [`CREATE ROLE ${owner} LOGIN`, `CREATE ROLE ${app} LOGIN`, `CREATE DATABASE ${db} OWNER ${owner}`]) {
      execFileSync("psql", [base, "-qc", statement]);
    }
    const u = new URL(base);
    u.pathname = `/${db}`;
    u.username = owner;
    ownerUrl = u.toString();
    u.username = app;
    appUrl = u.toString();
    const appHandle = await open(appUrl);
    await migrateAsOwner(appHandle, ownerUrl);
    appSql = rawClient(appUrl);
  });

  it("the app can append, verify, publish digests and use its other tables", async () => {
    const handle = await open(appUrl);
    const audit = new PostgresAuditLog(handle.db, { hmacKey: "role-test-hmac-key-000000" });
    for (let i = 0; i < 3; i++) await audit.append(event(i));
    await new AuditDigests({ db: handle.db, audit, notifier: recordingNotifier(), chatIds: [-1], log: silent }).publish("daily", null);
    expect(await audit.verifyChain()).toMatchObject({ ok: true, count: 4, digestsChecked: 1 });
    const updates = new ProcessedUpdates(handle.db);
    expect(await updates.markProcessed(1)).toBe(true);
    expect(await audit.appendOnce(2, event(9))).not.toBeNull();
    expect(await updates.prune(0)).toBeGreaterThanOrEqual(0);
  });

  it("gives the app role permission denied for DISABLE TRIGGER, UPDATE, DELETE and TRUNCATE", async () => {
    const attempts = [
      "ALTER TABLE audit_events DISABLE TRIGGER ALL",
      "UPDATE audit_events SET action = 'x'",
      "DELETE FROM audit_events",
      "TRUNCATE audit_events",
      "UPDATE audit_digests SET head_hash = 'x'",
      "DROP TRIGGER audit_events_no_update_delete ON audit_events",
    ];
    for (const statement of attempts) {
      const err = await appSql.unsafe(statement).then(
        () => null,
        (e: unknown) => e as { code?: string; message: string },
      );
      expect(err, statement).not.toBeNull();
      expect(err!.code, `${statement}: ${err!.message}`).toBe("42501"); // insufficient_privilege
      expect(err!.message).toMatch(/permission denied|must be owner/);
    }
  });

  it("refuses a superuser app role: the grants would protect nothing", async () => {
    const superHandle = await open(inject("postgresUrl"));
    await expect(migrateAsOwner(superHandle, ownerUrl)).rejects.toThrow(DatabaseRoleError);
  });
});

describe("the bot process", () => {
  let emulator: BotApiEmulator;
  let bot: BotProcess;
  let url: string;
  const CHAT = { id: -1001000000777, type: "supergroup" as const, title: "ops" };
  const ADMIN = { id: 7101, username: "oncall" };

  beforeAll(async () => {
    emulator = await BotApiEmulator.start();
    url = createTestDatabase("auditbot");
    bot = startBotProcess({
      env: {
        TELEGRAM_BOT_TOKEN: emulator.token,
        TELEGRAM_API_ROOT: emulator.apiRoot,
        ADMIN_CHAT_IDS: String(CHAT.id),
        ADMIN_USER_IDS: String(ADMIN.id),
        DATABASE_URL: url,
        AUDIT_HMAC_KEY: "bot-process-hmac-key-0123456789",
      },
    });
    await bot.waitForLog((l) => l.msg === "opsgram started", 60_000);
  });
  afterAll(async () => {
    await bot?.stop();
    await emulator?.stop();
  });

  it("logs the one-line notice without DATABASE_OWNER_URL, and never the key", () => {
    expect(bot.logs().some((l) => String(l.msg).startsWith("DATABASE_OWNER_URL is not set"))).toBe(true);
    expect(bot.output()).not.toContain("bot-process-hmac-key-0123456789");
  });

  it("/audit digest posts the digest; /audit verify answers ✅, then names a row a superuser edited", async () => {
    emulator.sendCommand(CHAT, ADMIN, "/audit digest");
    const digest = await emulator.waitForMessage((m) => m.chatId === CHAT.id && m.text.startsWith("🔏 audit digest: rows 1–"));
    expect(digest.text).toMatch(/^🔏 audit digest: rows 1–\d+ · head [0-9a-f]{64}$/);

    emulator.sendCommand(CHAT, ADMIN, "/audit verify");
    const ok = await emulator.waitForEdit((e) => e.chatId === CHAT.id && /^(✅|❌)/.test(e.text));
    expect(ok.text).toMatch(/^✅ audit chain intact: \d+ rows, head [0-9a-f]{16}\nmatches all 1 published digest/);

    const sql = rawClient(url);
    const [victim] = await sql`SELECT id FROM audit_events WHERE action = 'audit.digest'`;
    await asTamperer(sql, () => sql`UPDATE audit_events SET username = 'mallory' WHERE id = ${victim!.id}`);
    emulator.sendCommand(CHAT, ADMIN, "/audit verify");
    const bad = await emulator.waitForEdit((e) => e.chatId === CHAT.id && /^(✅|❌)/.test(e.text));
    expect(bad.text).toMatch(new RegExp(`^❌ row #${victim!.id}: hash does not match`));
    const audited = await sql`SELECT outcome FROM audit_events WHERE action = 'audit.verify' ORDER BY id`;
    expect(audited.map((r) => r.outcome)).toEqual(["started", "succeeded", "started", "failed"]);
  });
});

describe("npm start -- --check with a private key others can read", () => {
  it("exits 2 naming the key and the chmod that fixes it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "opsgram-perm-"));
    const key = join(dir, "id_ed25519");
    writeFileSync(key, "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n");
    chmodSync(key, 0o644);
    const config = join(dir, "opsgram.yml");
    writeFileSync(
      config,
      `targets:\n  prod:\n    host: ssh://deploy@127.0.0.1:2222\n    ssh: { privateKeyPath: ${key}, knownHostsPath: ${join(dir, "known_hosts")} }\n    appDir: /opt/app\n`,
      { mode: 0o600 },
    );
    const { code, output } = await runBotToExit({
      env: { TELEGRAM_BOT_TOKEN: `123456:${"x".repeat(35)}`, ADMIN_CHAT_IDS: "1", OPSGRAM_CONFIG: config },
      args: ["--check"],
    });
    expect(code).toBe(2);
    expect(output).toContain(`${key} is accessible by group or others (mode 0644): run chmod 600 ${key}`);
    expect(output).not.toContain("not-a-real-key");
  });
});
