import { and, asc, eq, inArray, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import { instanceName } from "../../instance.js";
import { LEADER_LOCK_ROW } from "../leader.js";
import type { NewOutboxItem, OutboxItem, OutboxStore } from "../../../health/ports.js";
import type { IncidentMessage } from "../../../health/types.js";
import type { Db } from "../client.js";
import { alertOutbox, incidents, type AlertOutboxRow } from "../schema/index.js";

/**
 * The alert outbox over drizzle: what the dispatcher reads and marks. Rows are written by
 * IncidentsRepo.saveIncident in the incident's own transaction.
 */
export class AlertOutboxRepo implements OutboxStore {
  constructor(private readonly db: Db) {}

  /**
   * Claims and returns the undelivered rows, oldest first: unclaimed ones, ours, and those of a
   * process that no longer leads. Only the live leader claims (when a leader exists at all), and
   * rows another process is claiming right now are skipped (FOR UPDATE SKIP LOCKED): even two
   * processes that both believe they lead never get the same row.
   */
  async pending(limit: number): Promise<OutboxItem[]> {
    const me = instanceName();
    const leaderIs = (name: unknown) =>
      sql`EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE ${sql.raw(LEADER_LOCK_ROW)} AND a.application_name = ${name})`;
    const anyLeader = sql`EXISTS (SELECT 1 FROM pg_locks l WHERE ${sql.raw(LEADER_LOCK_ROW)})`;
    const claimable = this.db
      .select({ id: alertOutbox.id })
      .from(alertOutbox)
      .where(
        and(
          isNull(alertOutbox.deliveredAt),
          isNull(alertOutbox.givenUpAt),
          or(isNull(alertOutbox.claimedBy), eq(alertOutbox.claimedBy, me), sql`NOT ${leaderIs(alertOutbox.claimedBy)}`),
        ),
      )
      .orderBy(asc(alertOutbox.id))
      .limit(limit)
      .for("update", { skipLocked: true });
    const rows = await this.db
      .update(alertOutbox)
      .set({ claimedBy: me })
      .where(and(inArray(alertOutbox.id, claimable), sql`(NOT ${anyLeader} OR ${leaderIs(me)})`))
      .returning();
    return rows.sort((a, b) => a.id - b.id).map(toItem);
  }

  async enqueue(items: readonly NewOutboxItem[]): Promise<void> {
    if (items.length === 0) return;
    await this.db.insert(alertOutbox).values(items.map((i) => ({ chatId: i.chatId, kind: i.kind, text: i.text })));
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
