import { eq } from "drizzle-orm";
import type { PayoutsRepo, PayoutsState } from "../../../operations/model.js";
import type { Db } from "../client.js";
import { payoutsState } from "../schema/index.js";

/** The `payouts_state` table: one row per target saying whether payouts are paused, by whom and why. */
export class DrizzlePayoutsRepo implements PayoutsRepo {
  constructor(private readonly db: Db) {}

  async get(target: string): Promise<PayoutsState | null> {
    const [row] = await this.db.select().from(payoutsState).where(eq(payoutsState.target, target));
    if (!row) return null;
    return { target: row.target, paused: row.paused, byUserId: row.byUserId, byName: row.byName, reason: row.reason, since: row.since };
  }

  async set(state: PayoutsState): Promise<void> {
    // The reminder clock restarts with every change of state.
    const values = { ...state, lastReminderAt: null };
    await this.db.insert(payoutsState).values(values).onConflictDoUpdate({ target: payoutsState.target, set: values });
  }
}
