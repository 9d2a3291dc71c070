import { and, asc, eq, inArray, ne, sql } from "drizzle-orm";
import type { IncidentStore, NewOutboxItem } from "../../../health/ports.js";
import type { Incident, IncidentMessage } from "../../../health/types.js";
import type { Db } from "../client.js";
import { alertOutbox, incidents, type IncidentRow } from "../schema/index.js";

/**
 * Incidents over drizzle (Postgres). The health service writes every column but
 * `messages`; the outbox dispatcher appends to `messages` (see alert-outbox.ts), atomically, so the
 * two never overwrite each other.
 */
export class IncidentsRepo implements IncidentStore {
  constructor(private readonly db: Db) {}

  async loadUnresolved(): Promise<Incident[]> {
    const rows = await this.db.select().from(incidents).where(ne(incidents.state, "resolved")).orderBy(asc(incidents.id));
    return rows.map(toIncident);
  }

  /**
   * Inserts or updates the incident and queues its outbox items in one transaction. An insert that
   * meets an unresolved row of the same key (another process opened it) adopts that row.
   */
  async saveIncident(incident: Incident, outbox: readonly NewOutboxItem[], at: Date): Promise<number> {
    const values = {
      target: incident.key.target,
      source: incident.key.source,
      subject: incident.key.subject,
      state: incident.state,
      openedAt: incident.openedAt,
      resolvedAt: incident.resolvedAt,
      lastSeenAt: incident.lastSeenAt,
      count: incident.count,
      lastError: incident.lastError,
      signals: incident.signals,
      flaps: incident.flaps,
      ackedBy: incident.ackedBy,
      ackedByName: incident.ackedByName,
      ackedAt: incident.ackedAt,
      lastReminderAt: incident.lastReminderAt,
    };
    return this.db.transaction(async (tx) => {
      let id = incident.id;
      if (id === 0) {
        const [row] = await tx
          .insert(incidents)
          .values(values)
          .onConflictDoUpdate({
            target: [incidents.target, incidents.source, incidents.subject],
            targetWhere: sql`"state" <> 'resolved'`,
            set: { lastSeenAt: values.lastSeenAt, count: values.count, lastError: values.lastError, signals: values.signals, flaps: values.flaps },
          })
          .returning({ id: incidents.id });
        if (!row) throw new Error("incident insert returned no row");
        id = row.id;
      } else {
        await tx.update(incidents).set(values).where(eq(incidents.id, id));
      }
      if (outbox.length > 0) {
        await tx.insert(alertOutbox).values(
          outbox.map((o) => ({ incidentId: id, chatId: o.chatId, kind: o.kind, text: o.text, createdAt: at, nextAttemptAt: at })),
        );
      }
      return id;
    });
  }

  async incidentsByIds(ids: readonly number[]): Promise<Incident[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.select().from(incidents).where(inArray(incidents.id, [...ids])).orderBy(asc(incidents.id));
    return rows.map(toIncident);
  }

  /** Incidents shown in one chat message (jsonb containment on `messages`). */
  async incidentsOnMessage(message: IncidentMessage): Promise<Incident[]> {
    const probe = JSON.stringify([{ chatId: message.chatId, messageId: message.messageId }]);
    const rows = await this.db
      .select()
      .from(incidents)
      .where(sql`${incidents.messages} @> ${probe}::jsonb`)
      .orderBy(asc(incidents.id));
    return rows.map(toIncident);
  }

  /** Incidents opened recently, newest first (any state): for /alerts history and tests. */
  async recent(limit: number): Promise<Incident[]> {
    const rows = await this.db.select().from(incidents).orderBy(sql`${incidents.id} DESC`).limit(limit);
    return rows.map(toIncident);
  }

  /** Unresolved incident of a key, if any. */
  async unresolvedFor(target: string, source: Incident["key"]["source"], subject: string): Promise<Incident | null> {
    const [row] = await this.db
      .select()
      .from(incidents)
      .where(and(eq(incidents.target, target), eq(incidents.source, source), eq(incidents.subject, subject), ne(incidents.state, "resolved")));
    return row ? toIncident(row) : null;
  }
}

export function toIncident(row: IncidentRow): Incident {
  return {
    id: row.id,
    key: { target: row.target, source: row.source, subject: row.subject },
    state: row.state,
    openedAt: row.openedAt,
    resolvedAt: row.resolvedAt,
    lastSeenAt: row.lastSeenAt,
    count: row.count,
    lastError: row.lastError ?? "",
    messages: row.messages ?? [],
    signals: row.signals ?? [],
    flaps: row.flaps,
    ackedBy: row.ackedBy,
    ackedByName: row.ackedByName,
    ackedAt: row.ackedAt,
    lastReminderAt: row.lastReminderAt,
  };
}
