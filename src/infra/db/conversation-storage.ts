import { eq, lt, sql } from "drizzle-orm";
import type { ConversationData, VersionedState, VersionedStateStorage } from "@grammyjs/conversations";
import type { Db } from "./client.js";
import { conversationState } from "./schema/index.js";

type Stored = VersionedState<ConversationData>;

/**
 * Where chat flows (@grammyjs/conversations) keep their replay log: one row per storage key, so a
 * restart resumes a half-finished /restore instead of stranding it. A row untouched for longer
 * than `ttlMs` reads as absent: a sweeper may be deleting it at the same moment, and an abandoned
 * flow must not come back to life on a late message.
 */
export class PostgresConversationStorage implements VersionedStateStorage<string, ConversationData> {
  constructor(
    private readonly db: Db,
    private readonly ttlMs: number,
  ) {}

  async read(key: string): Promise<Stored | undefined> {
    const [row] = await this.db.select().from(conversationState).where(eq(conversationState.key, key)).limit(1);
    if (!row || Date.now() - row.updatedAt.getTime() > this.ttlMs) return undefined;
    return row.value as Stored;
  }

  async write(key: string, value: Stored): Promise<void> {
    await this.db
      .insert(conversationState)
      .values({ key, value, updatedAt: new Date() })
      .onConflictDoUpdate({ target: conversationState.key, set: { value, updatedAt: sql`now()` } });
  }

  async delete(key: string): Promise<void> {
    await this.db.delete(conversationState).where(eq(conversationState.key, key));
  }

  /** Deletes flows idle for longer than the TTL and returns their keys (to tell those chats). */
  async sweep(now: Date = new Date()): Promise<string[]> {
    const before = new Date(now.getTime() - this.ttlMs);
    const rows = await this.db.delete(conversationState).where(lt(conversationState.updatedAt, before)).returning({ key: conversationState.key });
    return rows.map((r) => r.key);
  }
}
