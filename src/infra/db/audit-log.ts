import { desc, sql } from "drizzle-orm";
import { systemClock, type AuditEvent, type AuditEventInput, type AuditLog, type Clock } from "../../shared/ports.js";
import { canonicalAuditRow, nullableText, storableText, toAuditJson, type AuditHashedFields } from "./audit-hash.js";
import { verifyAuditChain, type ChainVerification, type VerifyChainOptions } from "./audit-verify.js";
import type { Db } from "./client.js";
import { preparedRows } from "./prepared.js";
import { auditEvents, type AuditEventRow } from "./schema/index.js";

export {
  AUDIT_CHAIN_LOCK_KEY,
  GENESIS_HASH,
  auditRowHash,
  canonicalAuditRow,
  canonicalJson,
  toAuditJson,
  type AuditHashedFields,
} from "./audit-hash.js";
export type { ChainVerification } from "./audit-verify.js";

/** Events written in one statement at most (the rest wait for the next). */
const MAX_BATCH = 200;

interface PendingAppend {
  event: AuditEventInput;
  /** When set, the update is marked processed in the same statement (appendOnce). */
  updateId?: number;
  resolve(row: AuditEvent | null): void;
  reject(err: unknown): void;
}

export interface PostgresAuditLogOptions {
  /** Source of `created_at`. Default: the system clock. */
  clock?: Clock;
  /**
   * AUDIT_HMAC_KEY: when set, each row's hash is HMAC-SHA256 with this key instead of plain
   * sha256, so database credentials alone cannot recompute the chain. Sent with each append as a
   * statement parameter; never stored in the database and never logged.
   */
  hmacKey?: string;
}

/** The chain's last row: what a digest publishes. */
export interface AuditHead {
  /** Id of the last row, null for an empty log. */
  lastRowId: number | null;
  rowCount: number;
  hash: string;
}

/**
 * The audit log in `audit_events`, hash-chained: each row stores the previous row's hash and its
 * own, so any later edit or removal shows up in `verifyChain()`. Each append is one statement, one
 * round trip: the SQL function `audit_append` (migration 0004) takes the chain's advisory lock,
 * reads the head, hashes and inserts. Concurrent appends from any number of connections or
 * processes form one chain.
 */
export class PostgresAuditLog implements AuditLog {
  private readonly clock: Clock;
  private readonly hmacKey: string | undefined;

  constructor(
    private readonly db: Db,
    options: PostgresAuditLogOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.hmacKey = options.hmacKey;
  }

  /** True when rows are HMAC'd with AUDIT_HMAC_KEY. */
  get keyed(): boolean {
    return this.hmacKey !== undefined;
  }

  /**
   * Appends one event; resolves with the stored row only after it is committed.
   *
   * Group commit: appends that arrive while a write is in flight are queued and written together
   * in the next statement, so the chain's single writer is not the bottleneck under load. Each
   * caller still resolves only after its own row is committed.
   */
  append(event: AuditEventInput): Promise<AuditEvent> {
    return new Promise((resolve, reject) => {
      this.pending.push({ event, resolve: resolve as (row: AuditEvent | null) => void, reject });
      if (!this.writing) void this.drain();
    });
  }

  /**
   * Marks Telegram update `updateId` processed and appends `event`, in the same statement: null
   * (and nothing written) when the update was processed before. For a handler whose first write
   * is its audit row, this folds the de-duplication marker into the audit round trip.
   */
  appendOnce(updateId: number, event: AuditEventInput): Promise<AuditEvent | null> {
    return new Promise((resolve, reject) => {
      this.pending.push({ event, updateId, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private readonly pending: PendingAppend[] = [];
  private writing = false;

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) await this.writeOrSplit(this.takeBatch());
    } finally {
      this.writing = false;
    }
  }

  /** The next run of plain appends (up to MAX_BATCH), or one appendOnce alone: the function takes one update id. */
  private takeBatch(): PendingAppend[] {
    if (this.pending[0]!.updateId !== undefined) return this.pending.splice(0, 1);
    let n = 0;
    while (n < this.pending.length && n < MAX_BATCH && this.pending[n]!.updateId === undefined) n++;
    return this.pending.splice(0, n);
  }

  /** Writes a batch; if it fails, halves it (in order) so one bad event fails alone. */
  private async writeOrSplit(batch: PendingAppend[]): Promise<void> {
    try {
      const rows = await this.writeBatch(batch.map((p) => p.event), batch[0]!.updateId);
      if (rows.length === 0 && batch[0]!.updateId !== undefined) return batch[0]!.resolve(null);
      batch.forEach((p, i) => p.resolve(rows[i]!));
    } catch (err) {
      // Only a bad row is worth isolating; a dead connection would fail every half again.
      if (batch.length === 1 || !isDataError(err)) return batch.forEach((p) => p.reject(err));
      const half = Math.ceil(batch.length / 2);
      await this.writeOrSplit(batch.slice(0, half));
      await this.writeOrSplit(batch.slice(half));
    }
  }

  /** Writes events in order with one `audit_append` call (one statement, its own transaction). */
  private async writeBatch(events: readonly AuditEventInput[], updateId: number | undefined): Promise<AuditEvent[]> {
    // Whole milliseconds, which timestamptz (µs) stores and returns unchanged.
    const createdAt = new Date(this.clock.now().getTime());
    const stored = events.map((event): AuditHashedFields => ({
      createdAt,
      chatId: event.chatId,
      userId: event.userId,
      username: nullableText(event.username),
      action: storableText(event.action),
      target: nullableText(event.target),
      args: toAuditJson(event.args),
      outcome: event.outcome,
      operationId: nullableText(event.operationId),
      detail: toAuditJson(event.detail),
    }));
    const rows = stored.map((f) => ({
      created_at: createdAt.toISOString(),
      chat_id: f.chatId,
      user_id: f.userId,
      username: f.username,
      action: f.action,
      target: f.target,
      args: f.args,
      outcome: f.outcome,
      operation_id: f.operationId,
      detail: f.detail,
      canonical: canonicalAuditRow(f),
    }));
    // Only what the database decides comes back; the rest is what was sent, exactly as stored.
    const result = await preparedRows(
      this.db,
      "SELECT id::text AS id, prev_hash, hash FROM audit_append($1::text::jsonb, $2::text, $3::text::bigint)",
      [JSON.stringify(rows), this.hmacKey ?? null, updateId === undefined ? null : String(updateId)],
    );
    const links = resultRows(result)
      .map((r) => ({ id: Number(r.id), prevHash: String(r.prev_hash), hash: String(r.hash) }))
      .sort((a, b) => a.id - b.id);
    if (links.length === 0 && updateId !== undefined) return []; // a repeated update: nothing written
    if (links.length !== stored.length) throw new Error(`audit_append returned ${links.length} rows for ${stored.length}`);
    return links.map((link, i) => ({ ...stored[i]!, ...link }));
  }

  /** The latest `limit` events, newest first. */
  async recent(limit: number): Promise<AuditEvent[]> {
    const n = Math.min(Math.max(Math.trunc(limit), 0), 1000);
    if (n === 0) return [];
    const rows = await this.db.select().from(auditEvents).orderBy(desc(auditEvents.id)).limit(n);
    return rows.map(toAuditEvent);
  }

  /** The chain's head now: last row id, number of rows, last hash. */
  async head(): Promise<AuditHead> {
    const result = await this.db.execute(
      sql`SELECT (SELECT count(*) FROM audit_events)::int AS n, id, hash FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1) last ON true`,
    );
    const [row] = resultRows(result);
    return {
      lastRowId: row?.id === null || row?.id === undefined ? null : Number(row.id),
      rowCount: Number(row?.n ?? 0),
      hash: typeof row?.hash === "string" ? row.hash : "0".repeat(64),
    };
  }

  /**
   * Walks the whole chain and recomputes every hash (with this log's key), and checks it against
   * every published digest. See verifyAuditChain.
   */
  verifyChain(options: Omit<VerifyChainOptions, "key"> = {}): Promise<ChainVerification> {
    return verifyAuditChain(this.db, { ...options, ...(this.hmacKey !== undefined ? { key: this.hmacKey } : {}) });
  }
}

/** A Postgres data or constraint error (SQLSTATE class 22 or 23) anywhere in the cause chain. */
function isDataError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^2[23][0-9A-Z]{3}$/.test(code)) return true;
  }
  return false;
}

/** postgres.js returns the rows of `execute` as an array, PGlite as `{ rows }`. */
function resultRows(result: unknown): Record<string, unknown>[] {
  return (Array.isArray(result) ? result : (result as { rows: Record<string, unknown>[] }).rows) as Record<string, unknown>[];
}

function toAuditEvent(row: AuditEventRow): AuditEvent {
  return {
    id: row.id,
    createdAt: row.createdAt,
    chatId: row.chatId,
    userId: row.userId,
    username: row.username,
    action: row.action,
    target: row.target,
    args: row.args,
    outcome: row.outcome,
    operationId: row.operationId,
    detail: row.detail,
    prevHash: row.prevHash,
    hash: row.hash,
  };
}
