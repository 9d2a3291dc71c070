import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuditJournal, JournaledAuditLog, newJournalEntry, type JournalReplayStore } from "../../src/infra/journal/index.js";
import { RetriesExhaustedError, retryBounded } from "../../src/shared/retry.js";
import type { AuditEvent, AuditEventInput, AuditLog } from "../../src/shared/ports.js";
import { ManualClock } from "./operations-fake-clocks.js";

const silentLog = { info() {}, warn() {}, error() {}, debug() {} } as never;

function event(action: string, detail: unknown = null): AuditEventInput {
  return { chatId: -100, userId: 7, username: "oncall", action, target: "prod", args: null, outcome: "succeeded", operationId: null, detail };
}

/** An audit log that is "down" (refuses), "up", or "hung" (never answers until released). */
class FlakyAudit implements AuditLog, JournalReplayStore {
  rows: AuditEventInput[] = [];
  mode: "up" | "down" | "hung" = "up";
  attempts = 0;
  private hung: (() => void)[] = [];
  async append(e: AuditEventInput): Promise<AuditEvent> {
    this.attempts++;
    if (this.mode === "down") throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    if (this.mode === "hung") await new Promise<void>((r) => this.hung.push(r));
    this.rows.push(e);
    return { ...e, id: this.rows.length, createdAt: new Date(0), prevHash: "", hash: "" };
  }
  async recent(): Promise<AuditEvent[]> {
    return [];
  }
  async existing(ids: readonly string[]): Promise<Set<string>> {
    const have = new Set(this.rows.map((r) => (r.detail as { journal?: { id: string } } | null)?.journal?.id));
    return new Set(ids.filter((id) => have.has(id)));
  }
  releaseHung(): void {
    this.hung.splice(0).forEach((r) => r());
  }
}

describe("retryBounded", () => {
  it("retries with doubling waits on the clock, then succeeds", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const done = retryBounded(
      async () => {
        if (++calls < 3) throw new Error("connection reset");
        return "ok";
      },
      { attempts: 5, baseDelayMs: 500, maxDelayMs: 8_000, clock },
    );
    await clock.advance(1_500);
    await expect(done).resolves.toBe("ok");
    expect(calls).toBe(3);
    expect(clock.slept).toEqual([500, 1_000]);
  });

  it("is bounded: gives up after `attempts`, waits capped; a data error is not retried", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const done = retryBounded(
      async () => {
        calls++;
        throw new Error("down");
      },
      { attempts: 4, baseDelayMs: 1_000, maxDelayMs: 1_500, clock },
    );
    const settled = done.catch((e: unknown) => e);
    await clock.advance(10_000);
    const err = await settled;
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect((err as Error).message).toBe("gave up after 4 attempts: down");
    expect(calls).toBe(4);
    expect(clock.slept).toEqual([1_000, 1_500, 1_500]);

    let dataCalls = 0;
    const bad = Object.assign(new Error("invalid input syntax"), { code: "22P02" });
    await expect(
      retryBounded(
        async () => {
          dataCalls++;
          throw bad;
        },
        { attempts: 4, baseDelayMs: 1, maxDelayMs: 1, clock, retryable: (e) => (e as { code?: string }).code !== "22P02" },
      ),
    ).rejects.toBe(bad);
    expect(dataCalls).toBe(1);
  });
});

describe("AuditJournal and JournaledAuditLog", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "opsgram-journal-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("appends fsync'd JSON lines with mode 0600 and reads them back in order, skipping a torn line", async () => {
    const journal = new AuditJournal(join(dir, "audit-journal.jsonl"));
    const a = newJournalEntry(event("pause_payouts"), new Date());
    const b = newJournalEntry(event("resume_payouts"), new Date());
    await Promise.all([journal.append(a), journal.append(b)]);
    expect(statSync(journal.path).mode & 0o777).toBe(0o600);
    appendFileSync(journal.path, '{"v":1,"id":"torn","eve'); // a crash mid-write
    expect((await journal.read()).map((e) => e.id)).toEqual([a.id, b.id]);
  });

  it("journals while the database is down, keeps order, replays exactly once, and archives", async () => {
    const clock = new ManualClock();
    const db = new FlakyAudit();
    const journal = new AuditJournal(join(dir, "audit-journal.jsonl"));
    const log = new JournaledAuditLog({ inner: db, journal, store: db, clock, log: silentLog });

    db.mode = "down";
    const first = await log.appendOrJournal(event("pause_payouts", { reason: "fraud" }));
    expect(first.stored).toBe("journal");
    db.mode = "up";
    // The database is back, but an earlier event still waits: this one queues behind it.
    const second = await log.appendOrJournal(event("resume_payouts"));
    expect(second.stored).toBe("journal");
    expect(db.rows).toEqual([]);

    expect(await log.replay()).toBe(2);
    expect(db.rows.map((r) => r.action)).toEqual(["pause_payouts", "resume_payouts"]);
    expect(db.rows[0]!.detail).toMatchObject({ reason: "fraud", journal: { id: (first as { entryId: string }).entryId, journaled: true } });
    expect(await log.replay()).toBe(0);
    expect(db.rows).toHaveLength(2);
    expect(readdirSync(dir).filter((f) => f.endsWith(".replayed.jsonl"))).toHaveLength(1);

    // Journal empty again: the next event goes straight to the database, carrying its id too.
    const third = await log.appendOrJournal(event("pause_payouts"));
    expect(third.stored).toBe("database");
    expect(db.rows[2]!.detail).toMatchObject({ journal: { journaled: false } });
  });

  it("a crash after some rows were replayed repeats none of them", async () => {
    const clock = new ManualClock();
    const db = new FlakyAudit();
    const path = join(dir, "audit-journal.jsonl");
    const journal = new AuditJournal(path);
    db.mode = "down";
    const before = new JournaledAuditLog({ inner: db, journal, store: db, clock, log: silentLog });
    await before.appendOrJournal(event("pause_payouts"));
    await before.appendOrJournal(event("resume_payouts"));
    // The first row made it in, then the process died before the journal was archived.
    db.mode = "up";
    const [entry] = await journal.read();
    await db.append({ ...entry!.event, detail: { journal: { id: entry!.id } } });

    const after = new JournaledAuditLog({ inner: db, journal: new AuditJournal(path), store: db, clock, log: silentLog });
    expect(await after.replay()).toBe(1);
    expect(db.rows.map((r) => r.action)).toEqual(["pause_payouts", "resume_payouts"]);
  });

  it("a direct write that hangs goes to the journal after the bound; if it commits late, replay skips it", async () => {
    const clock = new ManualClock();
    const db = new FlakyAudit();
    const log = new JournaledAuditLog({ inner: db, journal: new AuditJournal(join(dir, "j.jsonl")), store: db, clock, log: silentLog, directTimeoutMs: 3_000 });
    db.mode = "hung";
    const result = log.appendOrJournal(event("pause_payouts"));
    await vi.waitFor(() => expect(db.attempts).toBe(1)); // after the journal check (file I/O)
    await clock.advance(3_000);
    expect((await result).stored).toBe("journal");
    db.mode = "up";
    db.releaseHung(); // the hung write commits after all
    expect(await log.replay()).toBe(0);
    expect(db.rows).toHaveLength(1);
  });

  it("the replay loop retries on the clock until the database takes the journal", async () => {
    const clock = new ManualClock();
    const db = new FlakyAudit();
    const log = new JournaledAuditLog({ inner: db, journal: new AuditJournal(join(dir, "j.jsonl")), store: db, clock, log: silentLog, replayEveryMs: 5_000 });
    db.mode = "down";
    await log.appendOrJournal(event("pause_payouts")); // attempt 1: the direct write
    log.start();
    // The journal is real file I/O: wait for each replay attempt, then move the clock on.
    await vi.waitFor(() => expect(db.attempts).toBe(2));
    await clock.advance(5_000);
    await vi.waitFor(() => expect(db.attempts).toBe(3));
    expect(db.rows).toHaveLength(0);
    db.mode = "up";
    await clock.advance(5_000);
    await vi.waitFor(() => expect(db.rows.map((r) => r.action)).toEqual(["pause_payouts"]));
    log.stop();
  });

  it("appendRetrying retries a failed write with backoff and gives up within its bound", async () => {
    const clock = new ManualClock();
    const db = new FlakyAudit();
    const log = new JournaledAuditLog({ inner: db, journal: new AuditJournal(join(dir, "j.jsonl")), store: db, clock, log: silentLog, retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 } });
    db.mode = "down";
    const ok = log.appendRetrying(event("deploy"));
    await clock.advance(100);
    db.mode = "up";
    await clock.advance(200);
    await expect(ok).resolves.toMatchObject({ action: "deploy" });

    db.mode = "down";
    const failed = log.appendRetrying(event("deploy")).catch((e: unknown) => e);
    await clock.advance(1_000);
    expect(await failed).toBeInstanceOf(RetriesExhaustedError);
  });
});
