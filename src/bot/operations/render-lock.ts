import { formatAgo, personName } from "../../shared/format.js";
import type { LockRecord } from "../../operations/model.js";

/**
 * Who holds a target, doing what, since when — the three things an on-call engineer needs to
 * decide whether to wait or call them (plain text):
 * "prod is busy: @alice is running deploy v2 since 12:03:04 UTC (2 min ago)".
 */
export function describeLock(lock: LockRecord, now: Date): string {
  const who = personName({ userId: lock.holderUserId, username: lock.holderName });
  const since = `since ${lock.since.toISOString().slice(11, 19)} UTC (${formatAgo(lock.since, now)})`;
  if (lock.kind === "freeze") {
    return `${lock.target} is frozen by ${who} ${since}${lock.reason ? `: ${lock.reason}` : ""}. /unlock lifts it.`;
  }
  return `${lock.target} is busy: ${who} is running ${lock.reason ?? "an operation"} ${since}.`;
}
