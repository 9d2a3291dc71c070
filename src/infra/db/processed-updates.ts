import { lt, sql } from "drizzle-orm";
import type { Db } from "./client.js";
import { processedUpdates } from "./schema/index.js";

/**
 * Remembers which Telegram updates were handled, so a re-delivered update (webhook retry, restart
 * before the offset was confirmed) is dropped instead of running a command twice.
 */
export class ProcessedUpdates {
  constructor(private readonly db: Db) {}

  /** Records `updateId`; true the first time it is seen, false for a repeat (atomic across processes). */
  async markProcessed(updateId: number): Promise<boolean> {
    const inserted = await this.db
      .insert(processedUpdates)
      .values({ updateId })
      .onConflictDoNothing({ target: processedUpdates.updateId })
      .returning({ updateId: processedUpdates.updateId });
    return inserted.length === 1;
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
