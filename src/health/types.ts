/**
 * The vocabulary shared by monitors, the incident engine, the outbox dispatcher and the alerts
 * feature. Plain data only: no I/O, no grammY, no SQL.
 */

/**
 * Where a problem was seen. Matches the `incidents.source` column. `service` groups every signal
 * about one service on a target (container died, OOM, unhealthy, restart loop, an HTTP check
 * naming the service) into one incident; `http` is left for checks that name no service.
 */
export type HealthSource = "service" | "docker" | "http" | "disk" | "backup" | "payouts" | "reachability";

/** One failing thing's identity: an incident (and a mute) is keyed by target + source + subject. */
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

/** One signal of an incident, as listed on its message: "web exited (code 137)", "HTTP check web: …". */
export interface IncidentSignal {
  /** Stable within the incident: "container", "http:web"… */
  name: string;
  /** Its latest problem line. */
  error: string;
  /** Still failing (false: it recovered while others did not). */
  failing: boolean;
}

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
  /** Every signal seen while open, in the order they joined. */
  signals: IncidentSignal[];
  /** Outages of this key within the flapping window when it became a flapping incident; 0 = not flapping. */
  flaps: number;
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
export type Signal = SignalBase & ({ ok: true } | { ok: false; error: string; /** Failures seen at once (docker: containers). */ weight?: number });

interface SignalBase {
  key: IncidentKey;
  at: Date;
  policy: AlertPolicy;
  /** Which signal of the key this is ("container", "http:web"); default: the key's source. */
  signal?: string;
  /** Observed through the target's SSH link: held back while the target is unreachable. */
  viaTarget?: boolean;
}

/**
 * A mute as the engine sees it: its scope and when it ends. The scope is an incident key string
 * (`prod:service:web`, `prod:disk:/`) or a whole target (`prod`).
 */
export interface Mute {
  key: string;
  until: Date;
  byUserId: number | null;
  byName: string | null;
  reason: string | null;
}

/** Whether a mute scope covers an incident key. */
export function muteCovers(scope: string, key: IncidentKey): boolean {
  return scope === key.target || scope === keyString(key);
}

/** Who pressed a button. */
export interface AlertActor {
  chatId: number;
  userId: number;
  username: string | null;
}
