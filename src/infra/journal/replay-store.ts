import { inArray, sql } from "drizzle-orm";
import type { Db } from "../db/client.js";
import { auditEvents } from "../db/schema/index.js";
import type { JournalReplayStore } from "./journaled-audit-log.js";

/** Journal ids looked up per query (the journal of a long outage can hold many). */
const CHUNK = 500;

/** Finds journal entries that already have their audit_events row, by `detail.journal.id`. */
export class PostgresJournalReplayStore implements JournalReplayStore {
  constructor(private readonly db: Db) {}

  async existing(entryIds: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    const idOf = sql<string>`${auditEvents.detail}->'journal'->>'id'`;
    for (let i = 0; i < entryIds.length; i += CHUNK) {
      const rows = await this.db
        .select({ id: idOf })
        .from(auditEvents)
        .where(inArray(idOf, entryIds.slice(i, i + CHUNK) as string[]));
      for (const row of rows) found.add(row.id);
    }
    return found;
  }
}
