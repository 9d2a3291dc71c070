import { lt, sql } from "drizzle-orm";
import type { Db } from "./client.js";
import { preparedRows } from "./prepared.js";
import { processedUpdates } from "./schema/index.js";

/**
 * Remembers which Telegram updates were handled, so a re-delivered update (webhook retry, restart
 * before the offset was confirmed) is dropped instead of running a command twice.
 */
/** Update ids recorded in one insert at most. */
const MAX_BATCH = 500;

export class ProcessedUpdates {
  private readonly pending: { updateId: number; resolve(first: boolean): void; reject(err: unknown): void }[] = [];
  private writing = false;

  constructor(private readonly db: Db) {}

  /**
   * Records `updateId`; true the first time it is seen, false for a repeat (atomic across processes).
   * Ids that arrive while an insert is in flight are recorded together in the next one (one
   * multi-row insert), so a burst of updates costs a few round trips, not one each.
   */
  markProcessed(updateId: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ updateId, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, MAX_BATCH);
        try {
          // One prepared statement: one round trip (see prepared.ts).
          const inserted = await preparedRows(
            this.db,
            "INSERT INTO processed_updates (update_id) SELECT unnest($1::text::bigint[]) ON CONFLICT (update_id) DO NOTHING RETURNING update_id::text AS update_id",
            [`{${batch.map((p) => Math.trunc(p.updateId)).join(",")}}`],
          );
          // An id twice in one batch is inserted once: only its first caller gets `true`.
          const fresh = new Set(inserted.map((r) => Number(r.update_id)));
          for (const p of batch) p.resolve(fresh.delete(p.updateId));
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /**
   * Forgets updates received more than `olderThanHours` ago (Telegram keeps undelivered updates
   * for at most 24 h, so 48 h is a safe margin). Returns how many rows were removed.
   */
  async prune(olderThanHours = 48): Promise<number> {
    const removed = await this.db
      .delete(processedUpdates)
      .where(lt(processedUpdates.receivedAt, sql`now() - ${olderThanHours}::double precision * interval '1 hour'`))
      .returning({ updateId: processedUpdates.updateId });
    return removed.length;
  }
}
