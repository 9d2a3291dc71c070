import type { Logger } from "pino";
import { retryBounded } from "../../shared/retry.js";
import type { AuditEvent, AuditEventInput, AuditLog, Clock, JournaledAppend, JournalingAuditLog } from "../../shared/ports.js";
import { newJournalEntry, type AuditJournal, type JournalEntry } from "./audit-journal.js";

/** Which journal entries already have their audit row (found by `detail.journal.id`). */
export interface JournalReplayStore {
  existing(entryIds: readonly string[]): Promise<Set<string>>;
}

export interface JournaledAuditLogOptions {
  inner: AuditLog;
  journal: AuditJournal;
  store: JournalReplayStore;
  clock: Clock;
  log: Logger;
  /** How long a direct append may take before the event goes to the journal. Default 3 s. */
  directTimeoutMs?: number;
  /** How often a non-empty journal is offered to the database again. Default 5 s. */
  replayEveryMs?: number;
  /** appendRetrying: tries in all (default 5), first wait (default 500 ms, doubling), longest wait (default 8 s). */
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
}

/**
 * The audit log with a local fallback. `append` and `recent` are the database's. `appendOrJournal`
 * (the payouts kill switch) never fails because Postgres is down: the event goes to the fsync'd
 * journal instead and is replayed into audit_events — in order, exactly once — when Postgres is
 * back. Exactly once: every such event carries `detail.journal.id` from the start (also when it
 * goes straight to the database), and replay skips ids that already have a row; a crash between
 * inserting and archiving the journal therefore repeats nothing. While the journal holds entries,
 * new kill-switch events queue behind them so their order is kept.
 */
export class JournaledAuditLog implements JournalingAuditLog {
  private readonly directTimeoutMs: number;
  private readonly replayEveryMs: number;
  /** Journal work (append, replay, archive) one at a time. */
  private lock: Promise<unknown> = Promise.resolve();
  /** Direct appends that timed out but may still commit: replay waits for them first. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private pending: boolean | null = null; // null: not read yet
  private readonly stopLoop = new AbortController();

  constructor(private readonly options: JournaledAuditLogOptions) {
    this.directTimeoutMs = options.directTimeoutMs ?? 3_000;
    this.replayEveryMs = options.replayEveryMs ?? 5_000;
  }

  append(event: AuditEventInput): Promise<AuditEvent> {
    return this.options.inner.append(event);
  }

  recent(limit: number): Promise<AuditEvent[]> {
    return this.options.inner.recent(limit);
  }

  appendRetrying(event: AuditEventInput): Promise<AuditEvent> {
    const r = this.options.retry ?? {};
    return retryBounded(() => this.options.inner.append(event), {
      attempts: r.attempts ?? 5,
      baseDelayMs: r.baseDelayMs ?? 500,
      maxDelayMs: r.maxDelayMs ?? 8_000,
      clock: this.options.clock,
      retryable: (err) => !isDataError(err),
      onRetry: (err, attempt, delayMs) => this.options.log.warn({ err, attempt, delayMs, action: event.action }, "audit write failed; retrying"),
    });
  }

  appendOrJournal(event: AuditEventInput): Promise<JournaledAppend> {
    return this.exclusive(async () => {
      const entry = newJournalEntry(event, this.options.clock.now());
      if (await this.hasPending()) return this.toJournal(entry, "earlier events are still waiting in the journal");
      const direct = this.options.inner.append(withJournalId(entry, false));
      try {
        const row = await this.bounded(direct);
        return { stored: "database", event: row };
      } catch (err) {
        if (isDataError(err)) throw err; // the journal would not make a bad row good
        this.track(direct);
        this.options.log.warn({ err, action: event.action }, "audit database unavailable; event kept in the local journal");
        return this.toJournal(entry, "database unavailable");
      }
    });
  }

  /**
   * Replays the journal into the database, in order, skipping entries that already have a row;
   * archives the file once every entry is in. Returns how many rows it wrote. Throws (keeping the
   * journal) when the database still cannot take them.
   */
  replay(): Promise<number> {
    return this.exclusive(async () => {
      const entries = await this.options.journal.read();
      if (entries.length === 0) {
        this.pending = false;
        return 0;
      }
      // A direct append that timed out may still commit; let it settle before judging "missing".
      await Promise.allSettled([...this.inFlight]);
      const done = await this.options.store.existing(entries.map((e) => e.id));
      let written = 0;
      for (const entry of entries) {
        if (done.has(entry.id)) continue;
        await this.options.inner.append(withJournalId(entry, true));
        done.add(entry.id);
        written++;
      }
      const archived = await this.options.journal.archive(this.options.clock.now());
      this.pending = false;
      this.options.log.info({ written, skipped: entries.length - written, archived }, "audit journal replayed into the database");
      return written;
    });
  }

  /** Replays now, then every `replayEveryMs` while the journal holds entries, until `stop()`. */
  start(): void {
    const signal = this.stopLoop.signal;
    void (async () => {
      while (!signal.aborted) {
        if (await this.hasPending().catch(() => true)) {
          await this.replay().catch((err: unknown) => this.options.log.warn({ err }, "audit journal not replayed yet (database unavailable?); will retry"));
        }
        await this.options.clock.sleep(this.replayEveryMs, signal).catch(() => {});
      }
    })();
  }

  stop(): void {
    this.stopLoop.abort();
  }

  private async toJournal(entry: JournalEntry, why: string): Promise<JournaledAppend> {
    await this.options.journal.append(entry);
    this.pending = true;
    this.options.log.warn({ entryId: entry.id, action: entry.event.action, why }, "audit event written to the local journal");
    return { stored: "journal", entryId: entry.id };
  }

  private async hasPending(): Promise<boolean> {
    if (this.pending === null) this.pending = (await this.options.journal.read()).length > 0;
    return this.pending;
  }

  private bounded<T>(work: Promise<T>): Promise<T> {
    const timeout = new AbortController();
    const timer = this.options.clock.sleep(this.directTimeoutMs, timeout.signal).then(() => {
      throw new Error(`audit write took longer than ${this.directTimeoutMs} ms`);
    });
    return Promise.race([work, timer]).finally(() => timeout.abort());
  }

  private track(work: Promise<unknown>): void {
    const settled = work.then(
      () => {},
      () => {},
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => {});
    return run;
  }
}

/**
 * The event with `detail.journal = { id, at, journaled }`: the id makes replay idempotent, `at` is
 * when it really happened (the row's created_at is when it was written), `journaled` says whether it
 * waited in the journal.
 */
export function withJournalId(entry: JournalEntry, journaled: boolean): AuditEventInput {
  const { detail } = entry.event;
  const journal = { id: entry.id, at: entry.at, journaled };
  const base = detail !== null && typeof detail === "object" && !Array.isArray(detail) ? (detail as Record<string, unknown>) : detail == null ? {} : { value: detail };
  return { ...entry.event, detail: { ...base, journal } };
}

/** A Postgres data or constraint error (SQLSTATE class 22 or 23) anywhere in the cause chain. */
export function isDataError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^2[23][0-9A-Z]{3}$/.test(code)) return true;
  }
  return false;
}
