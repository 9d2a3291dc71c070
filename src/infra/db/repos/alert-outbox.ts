import { and, asc, inArray, isNotNull, isNull, lt, sql } from "drizzle-orm";
import type { OutboxItem, OutboxStore } from "../../../health/ports.js";
import type { IncidentMessage } from "../../../health/types.js";
import type { Db } from "../client.js";
import { alertOutbox, incidents, type AlertOutboxRow } from "../schema/index.js";

/**
 * The alert outbox over drizzle: what the dispatcher reads and marks. Rows are written by
 * IncidentsRepo.saveIncident in the incident's own transaction.
 */
export class AlertOutboxRepo implements OutboxStore {
  constructor(private readonly db: Db) {}

  async pending(limit: number): Promise<OutboxItem[]> {
    const rows = await this.db
      .select()
      .from(alertOutbox)
      .where(and(isNull(alertOutbox.deliveredAt), isNull(alertOutbox.givenUpAt)))
      .orderBy(asc(alertOutbox.id))
      .limit(limit);
    return rows.map(toItem);
  }

  /**
   * Marks items delivered and, for an alert, records its message on the incidents it shows — one
   * transaction, so after a restart an incident either has its message id or its item is still
   * pending (never both missing, never sent twice by us).
   */
  async delivered(itemIds: readonly number[], at: Date, message: IncidentMessage | null, attachTo: readonly number[]): Promise<void> {
    if (itemIds.length === 0) return;
    await this.db.transaction(async (tx) => {
      await tx
        .update(alertOutbox)
        .set({ deliveredAt: at, messageId: message?.messageId ?? null })
        .where(inArray(alertOutbox.id, [...itemIds]));
      if (message && attachTo.length > 0) {
        const entry = JSON.stringify([{ chatId: message.chatId, messageId: message.messageId }]);
        await tx
          .update(incidents)
          .set({ messages: sql`${incidents.messages} || ${entry}::jsonb` })
          .where(and(inArray(incidents.id, [...attachTo]), sql`NOT (${incidents.messages} @> ${entry}::jsonb)`));
      }
    });
  }

  async retryLater(itemIds: readonly number[], nextAttemptAt: Date, error: string): Promise<void> {
    if (itemIds.length === 0) return;
    await this.db
      .update(alertOutbox)
      .set({ attempts: sql`${alertOutbox.attempts} + 1`, nextAttemptAt, lastError: error.slice(0, 1000) })
      .where(inArray(alertOutbox.id, [...itemIds]));
  }

  async giveUp(itemIds: readonly number[], at: Date, error: string): Promise<void> {
    if (itemIds.length === 0) return;
    await this.db
      .update(alertOutbox)
      .set({ attempts: sql`${alertOutbox.attempts} + 1`, givenUpAt: at, lastError: error.slice(0, 1000) })
      .where(inArray(alertOutbox.id, [...itemIds]));
  }

  /** Deletes delivered rows older than `before` (the outbox is a queue, not a history). */
  async pruneDelivered(before: Date): Promise<number> {
    const rows = await this.db
      .delete(alertOutbox)
      .where(and(isNotNull(alertOutbox.deliveredAt), lt(alertOutbox.deliveredAt, before)))
      .returning({ id: alertOutbox.id });
    return rows.length;
  }

  /** Every row, oldest first (tests and diagnostics). */
  async all(): Promise<AlertOutboxRow[]> {
    return this.db.select().from(alertOutbox).orderBy(asc(alertOutbox.id));
  }
}

function toItem(row: AlertOutboxRow): OutboxItem {
  return {
    id: row.id,
    incidentId: row.incidentId,
    chatId: row.chatId,
    kind: row.kind,
    text: row.text,
    createdAt: row.createdAt,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt,
  };
}
