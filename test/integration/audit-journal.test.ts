import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../support/db.js";
import { freePort } from "../support/ports.js";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { PostgresAuditLog } from "../../src/infra/db/audit-log.js";
import { AuditJournal, JournaledAuditLog, PostgresJournalReplayStore, withJournalId } from "../../src/infra/journal/index.js";
import { systemClock, type AuditEventInput } from "../../src/shared/ports.js";
import { CuttableProxy } from "../support/cuttable-proxy.js";

const quiet = pino({ level: "silent" });

function event(action: string, reason: string | null = null): AuditEventInput {
  return { chatId: -100, userId: 7, username: "oncall", action, target: "prod", args: reason ? { reason } : null, outcome: "succeeded", operationId: null, detail: null };
}

describe("the kill switch's audit journal survives a database outage (real Postgres behind a proxy we cut)", () => {
  let url: string;
  let direct: DatabaseHandle;
  let viaProxy: DatabaseHandle;
  let proxy: CuttableProxy;
  let sql: postgres.Sql;
  let dir: string;

  beforeAll(async () => {
    url = createTestDatabase("journal");
    direct = await openDatabase({ url, dataDir: "/nonexistent" });
    await migrate(direct);
    proxy = new CuttableProxy(await freePort(), Number(new URL(url).port));
    await proxy.up();
    const proxied = new URL(url);
    proxied.port = String(proxy.port);
    viaProxy = await openDatabase({ url: proxied.toString(), dataDir: "/nonexistent" });
    sql = postgres(url, { max: 1, onnotice: () => {} });
    dir = mkdtempSync(join(tmpdir(), "opsgram-journal-it-"));
  });

  afterAll(async () => {
    await proxy?.up().catch(() => {});
    await viaProxy?.close().catch(() => {});
    await direct?.close();
    await sql?.end();
    await proxy?.cut();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("journals two events while Postgres is unreachable, replays them once and in order, chain intact", async () => {
    const path = join(dir, "audit-journal.jsonl");
    const make = () =>
      new JournaledAuditLog({
        inner: new PostgresAuditLog(viaProxy.db),
        journal: new AuditJournal(path),
        store: new PostgresJournalReplayStore(viaProxy.db),
        clock: systemClock,
        log: quiet,
      });
    const audit = make();
    expect((await audit.appendOrJournal(event("status"))).stored).toBe("database");

    await proxy.cut();
    const t0 = Date.now();
    const paused = await audit.appendOrJournal(event("pause_payouts", "card fraud"));
    const journalMs = Date.now() - t0;
    const resumed = await audit.appendOrJournal(event("resume_payouts"));
    expect(paused.stored).toBe("journal");
    expect(resumed.stored).toBe("journal");
    console.log(`database unreachable → kill-switch audit event journaled in ${journalMs} ms`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(2);
    // Replay while still down fails and keeps the journal.
    await expect(audit.replay()).rejects.toThrow();
    expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(2);

    await proxy.up();
    expect(await audit.replay()).toBe(2);
    expect(await audit.replay()).toBe(0);
    const ids = [paused, resumed].map((r) => (r as { entryId: string }).entryId);
    const rows = await sql`SELECT action, detail->'journal'->>'id' AS entry FROM audit_events WHERE detail->'journal'->>'journaled' = 'true' ORDER BY id`;
    expect(rows).toEqual([
      { action: "pause_payouts", entry: ids[0] },
      { action: "resume_payouts", entry: ids[1] },
    ]);

    // A crash mid-replay: the first of two journaled events made it in, then the process died.
    await proxy.cut();
    const a = await audit.appendOrJournal(event("pause_payouts", "again"));
    await audit.appendOrJournal(event("resume_payouts"));
    expect(a.stored).toBe("journal");
    await proxy.up();
    const [first] = await new AuditJournal(path).read();
    await new PostgresAuditLog(direct.db).append(withJournalId(first!, true));
    expect(await make().replay()).toBe(1);
    const [counts] = await sql`
      SELECT count(*)::int AS rows, count(DISTINCT detail->'journal'->>'id')::int AS entries
      FROM audit_events WHERE detail->'journal'->>'journaled' = 'true'`;
    expect(counts).toEqual({ rows: 4, entries: 4 });

    const chain = await new PostgresAuditLog(direct.db).verifyChain();
    expect(chain).toMatchObject({ ok: true, count: 5 });
  });
});
