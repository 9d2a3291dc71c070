import { eq, gt } from "drizzle-orm";
import type { MuteStore } from "../../../health/ports.js";
import type { Mute } from "../../../health/types.js";
import type { Db } from "../client.js";
import { mutes } from "../schema/index.js";

/** Mutes by key (`target:source:subject`); a mute outlives the incident it was pressed on. */
export class MutesRepo implements MuteStore {
  constructor(private readonly db: Db) {}

  async loadMutes(now: Date): Promise<Mute[]> {
    const rows = await this.db.select().from(mutes).where(gt(mutes.until, now));
    return rows.map((r) => ({ key: r.key, until: r.until, byUserId: r.byUserId, byName: r.byName, reason: r.reason }));
  }

  /** Upserts: a second Mute on the same key replaces the first (the engine never shortens one). */
  async saveMute(mute: Mute): Promise<void> {
    const values = { key: mute.key, until: mute.until, byUserId: mute.byUserId, byName: mute.byName, reason: mute.reason };
    await this.db
      .insert(mutes)
      .values(values)
      .onConflictDoUpdate({ target: mutes.key, set: { until: values.until, byUserId: values.byUserId, byName: values.byName, reason: values.reason } });
  }

  async deleteMute(key: string): Promise<void> {
    await this.db.delete(mutes).where(eq(mutes.key, key));
  }
}
