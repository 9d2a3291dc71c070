/**
 * The vocabulary shared by monitors, the incident engine, the outbox dispatcher and the alerts
 * feature. Plain data only: no I/O, no grammY, no SQL.
 */

/** Where a problem was seen. Matches the `incidents.source` column. */
export type HealthSource = "docker" | "http" | "disk" | "backup" | "payouts" | "reachability";

/** One problem's identity: an incident (and a mute) is keyed by target + source + subject. */
export interface IncidentKey {
  target: string;
  source: HealthSource;
  /** What failed within the source: a service, an HTTP check's name, a mount point… */
  subject: string;
}

/** `target:source:subject` — the mutes table's key and the engine's map key. */
export function keyString(key: IncidentKey): string {
  return `${key.target}:${key.source}:${key.subject}`;
}

export type IncidentState = "open" | "acked" | "muted" | "resolved";

/** A chat message that shows an incident and is edited as it evolves. */
export interface IncidentMessage {
  chatId: number;
  messageId: number;
}

/** An incident as the engine and the store see it. `id` is assigned by the store. */
export interface Incident {
  id: number;
  key: IncidentKey;
  state: IncidentState;
  openedAt: Date;
  resolvedAt: Date | null;
  lastSeenAt: Date;
  /** Failures observed while open (docker: containers that went down). */
  count: number;
  /** The current problem as one line without emoji or target, e.g. "web exited (code 137, OOM)". */
  lastError: string;
  /** The message per alert chat that is edited in place (shared by a coalesced burst). */
  messages: IncidentMessage[];
  ackedBy: number | null;
  ackedByName: string | null;
  ackedAt: Date | null;
  lastReminderAt: Date | null;
}

/** How a check's results become an incident. */
export interface AlertPolicy {
  /** Consecutive failures before an incident opens (events use 1). */
  failuresBeforeAlert: number;
  /** Consecutive successes before it resolves. */
  successesBeforeRecovery: number;
  /** A new reminder message this often while open and neither acked nor muted; null = never. */
  remindEveryMs: number | null;
}

/**
 * One observation from a monitor. `ok: false` carries the problem as one line; `ok: true` says the
 * subject is healthy now. Observations a monitor could not make (e.g. a target-side check while
 * the target is unreachable) are simply not reported.
 */
export type Signal =
  | { key: IncidentKey; at: Date; ok: true; policy: AlertPolicy }
  | { key: IncidentKey; at: Date; ok: false; error: string; policy: AlertPolicy; /** Failures seen at once (docker: containers). */ weight?: number };

/** A mute as the engine sees it: the key string and when it ends. */
export interface Mute {
  key: string;
  until: Date;
  byUserId: number | null;
  byName: string | null;
}

/** Who pressed a button. */
export interface AlertActor {
  chatId: number;
  userId: number;
  username: string | null;
}
