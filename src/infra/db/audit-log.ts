import { createHash } from "node:crypto";
import { asc, desc, gt, sql } from "drizzle-orm";
import { systemClock, type AuditEvent, type AuditEventInput, type AuditLog, type Clock } from "../../shared/ports.js";
import { redactText } from "../logger.js";
import type { Db } from "./client.js";
import { auditEvents, type AuditEventRow } from "./schema/index.js";

/** `prev_hash` of the first row in the chain. */
export const GENESIS_HASH = "0".repeat(64);

/**
 * Key of the transaction advisory lock every audit writer takes ("opsgram" + 0x01). The
 * `audit_events_chain_link` trigger (migration 0001) takes the same key, so keep them equal.
 */
export const AUDIT_CHAIN_LOCK_KEY = "8030045023739407617";

/** The fields a row's hash covers: everything stored except `id`, `prev_hash` and `hash`. */
export type AuditHashedFields = Omit<AuditEvent, "id" | "prevHash" | "hash">;

/** Result of walking the chain. `brokenAtId` is the first row that does not verify. */
export type ChainVerification =
  | { ok: true; count: number }
  | { ok: false; brokenAtId: number; reason: string };

/**
 * The exact text a row's hash is computed over: stable JSON (object keys sorted at every depth)
 * of the stored fields. Pure, so a row read back from any tool hashes the same as when written.
 */
export function canonicalAuditRow(row: AuditHashedFields): string {
  return canonicalJson({
    created_at: row.createdAt.toISOString(),
    chat_id: row.chatId,
    user_id: row.userId,
    username: row.username,
    action: row.action,
    target: row.target,
    args: row.args,
    outcome: row.outcome,
    operation_id: row.operationId,
    detail: row.detail,
  });
}

/** `sha256_hex(prev_hash + canonicalAuditRow(row))`: one link of the chain. */
export function auditRowHash(prevHash: string, row: AuditHashedFields): string {
  return createHash("sha256").update(prevHash + canonicalAuditRow(row)).digest("hex");
}

/**
 * JSON with object keys sorted recursively, so jsonb (which reorders keys) and JS objects built in
 * any order serialise the same. `undefined` members are dropped as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Text exactly as Postgres will store and return it: no NUL (text and jsonb reject it), no lone
 * UTF-16 surrogates (they would come back as U+FFFD and no longer match the hash).
 */
function storableText(text: string): string {
  return text.replace(/\u0000/g, "\uFFFD").replace(LONE_SURROGATE, "\uFFFD");
}

/**
 * args/detail as they will be stored: plain JSON data (dates as ISO strings, no undefined,
 * non-finite numbers as null, bigints as strings, cycles cut) with secrets masked in every string.
 */
export function toAuditJson(value: unknown, seen: WeakSet<object> = new WeakSet()): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "string":
      return storableText(redactText(value));
    case "number":
      return Number.isFinite(value) ? value : null;
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "object":
      break;
    default:
      return null; // functions, symbols: JSON has no such thing
  }
  const obj = value as object;
  if (seen.has(obj)) return "[Circular]";
  seen.add(obj);
  try {
    if (obj instanceof Error) return { name: obj.name, message: toAuditJson(obj.message, seen) };
    if (typeof (obj as { toJSON?: unknown }).toJSON === "function") {
      return toAuditJson((obj as { toJSON: () => unknown }).toJSON(), seen);
    }
    if (Array.isArray(obj)) return obj.map((v) => toAuditJson(v, seen));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
      out[storableText(k)] = toAuditJson(v, seen);
    }
    return out;
  } finally {
    seen.delete(obj);
  }
}

function nullableText(text: string | null): string | null {
  return text === null ? null : storableText(text);
}

/** Events written in one transaction at most (the rest wait for the next). */
const MAX_BATCH = 200;

interface PendingAppend {
  event: AuditEventInput;
  resolve(row: AuditEvent): void;
  reject(err: unknown): void;
}

export interface PostgresAuditLogOptions {
  /** Source of `created_at`. Default: the system clock. */
  clock?: Clock;
}

/**
 * The audit log in `audit_events`, hash-chained: each row stores the previous row's hash and its
 * own, so any later edit or removal shows up in `verifyChain()`. Writers serialise on a
 * transaction advisory lock, so concurrent appends (from any number of connections or processes)
 * form one chain. Works on Postgres and PGlite alike.
 */
export class PostgresAuditLog implements AuditLog {
  private readonly clock: Clock;

  constructor(
    private readonly db: Db,
    options: PostgresAuditLogOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Appends one event; resolves with the stored row only after it is committed.
   *
   * Group commit: appends that arrive while a write is in flight are queued and written together
   * in the next transaction (one lock, one multi-row insert), so the chain's single writer is not
   * the bottleneck under load. Each caller still resolves only after its own row is committed.
   */
  append(event: AuditEventInput): Promise<AuditEvent> {
    return new Promise((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private readonly pending: PendingAppend[] = [];
  private writing = false;

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) await this.writeOrSplit(this.pending.splice(0, MAX_BATCH));
    } finally {
      this.writing = false;
    }
  }

  /** Writes a batch; if it fails, halves it (in order) so one bad event fails alone. */
  private async writeOrSplit(batch: PendingAppend[]): Promise<void> {
    try {
      const rows = await this.writeBatch(batch.map((p) => p.event));
      batch.forEach((p, i) => p.resolve(rows[i]!));
    } catch (err) {
      // Only a bad row is worth isolating; a dead connection would fail every half again.
      if (batch.length === 1 || !isDataError(err)) return batch.forEach((p) => p.reject(err));
      const half = Math.ceil(batch.length / 2);
      await this.writeOrSplit(batch.slice(0, half));
      await this.writeOrSplit(batch.slice(half));
    }
  }

  /** Writes events in order as one transaction under the chain lock; returns them as stored. */
  private async writeBatch(events: readonly AuditEventInput[]): Promise<AuditEvent[]> {
    const prepared = events.map((event) => ({
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
    return this.db.transaction(
      async (tx) => {
        await tx.execute(sql.raw(`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY})`));
        const [last] = await tx.select({ hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.id)).limit(1);
        let prevHash = last?.hash ?? GENESIS_HASH;
        // Taken inside the lock so created_at follows the chain order; whole milliseconds, which
        // timestamptz (µs) stores and returns unchanged.
        const createdAt = new Date(this.clock.now().getTime());
        const values = prepared.map((p) => {
          const fields: AuditHashedFields = { createdAt, ...p };
          const hash = auditRowHash(prevHash, fields);
          const row = { ...fields, prevHash, hash };
          prevHash = hash;
          return row;
        });
        const rows = await tx.insert(auditEvents).values(values).returning();
        if (rows.length !== values.length) throw new Error(`audit_events insert returned ${rows.length} rows for ${values.length}`);
        // Ids follow the VALUES order; sort so the i-th row answers the i-th event.
        return rows.sort((a, b) => a.id - b.id).map(toAuditEvent);
      },
      // A snapshot taken before the lock was granted (REPEATABLE READ) would miss the previous
      // writer's row and fork the chain; READ COMMITTED reads after the wait.
      { isolationLevel: "read committed" },
    );
  }

  /** The latest `limit` events, newest first. */
  async recent(limit: number): Promise<AuditEvent[]> {
    const n = Math.min(Math.max(Math.trunc(limit), 0), 1000);
    if (n === 0) return [];
    const rows = await this.db.select().from(auditEvents).orderBy(desc(auditEvents.id)).limit(n);
    return rows.map(toAuditEvent);
  }

  /**
   * Walks the whole chain in id order and recomputes every hash. Reports the first row whose link
   * to its predecessor or whose own hash does not match what is stored.
   */
  async verifyChain(): Promise<ChainVerification> {
    const batchSize = 500;
    let expectedPrev = GENESIS_HASH;
    let lastId = 0;
    let count = 0;
    for (;;) {
      const rows = await this.db
        .select()
        .from(auditEvents)
        .where(gt(auditEvents.id, lastId))
        .orderBy(asc(auditEvents.id))
        .limit(batchSize);
      for (const row of rows) {
        if (row.prevHash !== expectedPrev) {
          return {
            ok: false,
            brokenAtId: row.id,
            reason: `prev_hash ${row.prevHash} does not match the previous row's hash ${expectedPrev} (a row was removed, inserted or changed before it)`,
          };
        }
        const recomputed = auditRowHash(row.prevHash, toAuditEvent(row));
        if (recomputed !== row.hash) {
          return {
            ok: false,
            brokenAtId: row.id,
            reason: `stored hash ${row.hash} does not match the row's content (recomputed ${recomputed}): the row was altered`,
          };
        }
        expectedPrev = row.hash;
        lastId = row.id;
        count++;
      }
      if (rows.length < batchSize) return { ok: true, count };
    }
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
