import { asc, count, gt } from "drizzle-orm";
import type { Db } from "./client.js";
import { GENESIS_HASH, auditRowHash } from "./audit-hash.js";
import { auditDigests, auditEvents, type AuditEventRow } from "./schema/index.js";

/**
 * Result of walking the chain. On success: how many rows, the head, from which row on the rows are
 * keyed (HMAC), and how many published digests matched. On failure: the first bad row, and the
 * digest that no longer matches when that is what failed.
 */
export type ChainVerification =
  | { ok: true; count: number; headId: number | null; headHash: string; keyedFromId: number | null; digestsChecked: number }
  | {
      ok: false;
      brokenAtId: number;
      /** `link`: prev_hash ≠ the previous row's hash; `hash`: the row's content changed; `digest`: a published digest no longer matches. */
      kind: "link" | "hash" | "digest";
      reason: string;
      /** The digest that failed (kind `digest`). */
      digestId?: number;
      /** Rows that verified before the failure. */
      count: number;
    };

export interface VerifyChainOptions {
  /** AUDIT_HMAC_KEY. With it, once a row is keyed every later row must be too. */
  key?: string;
  /** Called after each batch with rows checked so far and the total when the walk began. */
  onProgress?(checked: number, total: number): void;
  /** Rows read per query. Default 1000. */
  batchSize?: number;
}

interface Digest {
  id: number;
  lastRowId: number;
  rowCount: number;
  headHash: string;
}

/**
 * Walks the whole chain in id order, recomputes every hash and checks every published digest.
 * Reports the first failure in row order. Rows keep their mode: plain sha256 rows written before
 * AUDIT_HMAC_KEY was set still verify, but with the key set a plain row after a keyed one does not
 * (someone without the key rewrote the tail).
 */
export async function verifyAuditChain(db: Db, options: VerifyChainOptions = {}): Promise<ChainVerification> {
  const batchSize = options.batchSize ?? 1000;
  const [{ total } = { total: 0 }] = await db.select({ total: count() }).from(auditEvents);
  const digests: Digest[] = (
    await db
      .select({ id: auditDigests.id, lastRowId: auditDigests.lastRowId, rowCount: auditDigests.rowCount, headHash: auditDigests.headHash })
      .from(auditDigests)
      .orderBy(asc(auditDigests.lastRowId), asc(auditDigests.id))
  ).map((d) => ({ ...d, lastRowId: Number(d.lastRowId), rowCount: Number(d.rowCount) }));
  let nextDigest = 0;
  let expectedPrev = GENESIS_HASH;
  let lastId = 0;
  let checked = 0;
  let keyedFromId: number | null = null;
  const fail = (row: { id: number }, kind: "link" | "hash" | "digest", reason: string, digestId?: number): ChainVerification => ({
    ok: false,
    brokenAtId: row.id,
    kind,
    reason,
    ...(digestId !== undefined ? { digestId } : {}),
    count: checked,
  });

  for (;;) {
    const rows = await db.select().from(auditEvents).where(gt(auditEvents.id, lastId)).orderBy(asc(auditEvents.id)).limit(batchSize);
    for (const row of rows) {
      // A digest whose last row is gone (cut tail, or ids skipped) fails at the first row past it.
      const skipped = digests[nextDigest];
      if (skipped && skipped.lastRowId < row.id) {
        return fail({ id: skipped.lastRowId }, "digest", `digest #${skipped.id} covers row #${skipped.lastRowId}, which is missing`, skipped.id);
      }
      if (row.prevHash !== expectedPrev) {
        return fail(row, "link", `prev_hash does not match the previous row's hash (a row was removed, inserted or changed before it)`);
      }
      const verdict = checkRowHash(row, options.key, keyedFromId !== null);
      if (verdict === "bad") return fail(row, "hash", "hash does not match");
      if (verdict === "keyed" && keyedFromId === null) keyedFromId = row.id;
      expectedPrev = row.hash;
      lastId = row.id;
      checked++;
      for (let d = digests[nextDigest]; d && d.lastRowId === row.id; d = digests[++nextDigest]) {
        if (d.headHash !== row.hash || d.rowCount !== checked) {
          return fail(row, "digest", `digest #${d.id} (rows 1–${d.rowCount}, head ${d.headHash.slice(0, 12)}) does not match the chain`, d.id);
        }
      }
    }
    options.onProgress?.(checked, Math.max(total, checked));
    if (rows.length < batchSize) break;
  }
  const left = digests[nextDigest];
  if (left) return fail({ id: left.lastRowId }, "digest", `digest #${left.id} covers row #${left.lastRowId}, which is missing`, left.id);
  return { ok: true, count: checked, headId: lastId === 0 ? null : lastId, headHash: expectedPrev, keyedFromId, digestsChecked: digests.length };
}

/** Which way a row's hash verifies: keyed (HMAC), plain sha256 (allowed only before the first keyed row), or not at all. */
function checkRowHash(row: AuditEventRow, key: string | undefined, keyedSeen: boolean): "keyed" | "plain" | "bad" {
  // canonicalAuditRow reads the hashed fields by name: the stored row itself will do.
  if (key !== undefined && auditRowHash(row.prevHash, row, key) === row.hash) return "keyed";
  if (!keyedSeen && auditRowHash(row.prevHash, row) === row.hash) return "plain";
  return "bad";
}
