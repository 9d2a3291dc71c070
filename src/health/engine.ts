import type { AlertActor, AlertPolicy, Incident, IncidentKey, Mute, Signal } from "./types.js";
import { keyString } from "./types.js";

/**
 * What the engine decided. The service persists each effect (incident row + outbox rows in one
 * transaction); `notify: false` means "keep the record, send nothing new" (the key is muted).
 *
 * - `open`: a new incident; an alert message goes to every alert chat unless muted.
 * - `update`: something shown in the alert message changed (error text, ack, mute, unmute): edit it.
 * - `resolve`: healthy again; the original message is edited and, unless muted, a recovery is posted.
 * - `remind`: still open, nobody acked: a new short message so it is not forgotten.
 */
export type EngineEffect =
  | { type: "open"; incident: Incident; notify: boolean }
  | { type: "update"; incident: Incident }
  | { type: "resolve"; incident: Incident; durationMs: number; notify: boolean }
  | { type: "remind"; incident: Incident };

interface KeyState {
  failures: number;
  successes: number;
  /** When the current run of failures began: the outage's start. */
  firstFailureAt: Date | null;
  /** When the current run of successes began: the outage's end. */
  firstSuccessAt: Date | null;
  /** The unresolved incident, if any. */
  incident: Incident | null;
  /** Whether chats have been told about the incident (false while it opened under a mute). */
  announced: boolean;
  policy: AlertPolicy | null;
}

export interface EngineInit {
  /** Unresolved incidents loaded from the store at start. */
  incidents: Incident[];
  /** Mutes still in force at start. */
  mutes: Mute[];
}

/**
 * The incident state machine, pure: observations, button presses and the passing of time go in,
 * effects come out. An incident opens after `failuresBeforeAlert` consecutive failures and resolves
 * after `successesBeforeRecovery` consecutive successes, so a flapping check does not spam. Effects
 * carry the engine's own Incident objects; the service fills in `id` when it persists an `open`.
 *
 * Single-threaded by contract: one caller at a time (the service serialises calls).
 */
export class IncidentEngine {
  private readonly states = new Map<string, KeyState>();
  private readonly mutes = new Map<string, Mute>();

  constructor(init: EngineInit) {
    for (const m of init.mutes) this.mutes.set(m.key, m);
    for (const incident of init.incidents) {
      if (incident.state === "resolved") continue;
      this.states.set(keyString(incident.key), {
        failures: 0,
        successes: 0,
        firstFailureAt: incident.openedAt,
        firstSuccessAt: null,
        incident,
        announced: incident.messages.length > 0 || incident.state !== "muted",
        policy: null,
      });
    }
  }

  /** Feeds one observation. */
  observe(signal: Signal): EngineEffect[] {
    const k = keyString(signal.key);
    const st = this.stateOf(k);
    st.policy = signal.policy;
    if (!signal.ok) {
      st.successes = 0;
      st.firstSuccessAt = null;
      st.failures += 1;
      st.firstFailureAt ??= signal.at;
      const incident = st.incident;
      if (incident) {
        incident.count += signal.weight ?? 1;
        incident.lastSeenAt = signal.at;
        if (incident.lastError === signal.error) return [];
        incident.lastError = signal.error;
        return [{ type: "update", incident }];
      }
      if (st.failures < signal.policy.failuresBeforeAlert) return [];
      const muted = this.isMuted(k, signal.at);
      const opened: Incident = {
        id: 0,
        key: signal.key,
        state: muted ? "muted" : "open",
        openedAt: st.firstFailureAt,
        resolvedAt: null,
        lastSeenAt: signal.at,
        count: Math.max(st.failures, signal.weight ?? 1),
        lastError: signal.error,
        messages: [],
        ackedBy: null,
        ackedByName: null,
        ackedAt: null,
        lastReminderAt: null,
      };
      st.incident = opened;
      st.announced = !muted;
      return [{ type: "open", incident: opened, notify: !muted }];
    }
    st.failures = 0;
    st.firstFailureAt = null;
    st.successes += 1;
    st.firstSuccessAt ??= signal.at;
    const incident = st.incident;
    if (!incident || st.successes < signal.policy.successesBeforeRecovery) return [];
    const muted = this.isMuted(k, signal.at);
    const announced = st.announced;
    incident.state = "resolved";
    incident.resolvedAt = st.firstSuccessAt;
    st.incident = null;
    st.announced = false;
    st.successes = 0;
    st.firstSuccessAt = null;
    // Never announced (opened and resolved under a mute): nothing to edit, nothing to recover from.
    if (!announced) return [{ type: "resolve", incident, durationMs: durationOf(incident), notify: false }];
    return [{ type: "resolve", incident, durationMs: durationOf(incident), notify: !muted }];
  }

  /** Acknowledges an open incident: it stays open but gets no more reminders. Repeated presses are no-ops. */
  ack(incidentId: number, actor: AlertActor, at: Date): EngineEffect[] {
    const incident = this.findById(incidentId);
    if (!incident || incident.ackedAt) return [];
    incident.ackedBy = actor.userId;
    incident.ackedByName = actor.username;
    incident.ackedAt = at;
    if (incident.state === "open") incident.state = "acked";
    return [{ type: "update", incident }];
  }

  /**
   * Silences a key until `until` (extending, never shortening, a mute in force). Returns the mute to
   * persist and, when an incident is open for the key, an edit showing it muted.
   */
  mute(key: IncidentKey, until: Date, actor: AlertActor): { mute: Mute; effects: EngineEffect[] } {
    const k = keyString(key);
    const existing = this.mutes.get(k);
    const mute: Mute = {
      key: k,
      until: existing && existing.until > until ? existing.until : until,
      byUserId: actor.userId,
      byName: actor.username,
    };
    this.mutes.set(k, mute);
    const incident = this.states.get(k)?.incident;
    if (!incident) return { mute, effects: [] };
    incident.state = "muted";
    return { mute, effects: [{ type: "update", incident }] };
  }

  /**
   * The passing of time: mutes that ended give their incident back its voice (a reminder, or the
   * first alert when it opened under the mute), and unacked incidents get their reminders.
   */
  tick(now: Date): { effects: EngineEffect[]; expiredMutes: string[] } {
    const effects: EngineEffect[] = [];
    const expiredMutes: string[] = [];
    for (const [k, mute] of this.mutes) {
      if (mute.until > now) continue;
      this.mutes.delete(k);
      expiredMutes.push(k);
      const st = this.states.get(k);
      const incident = st?.incident;
      if (!st || !incident) continue;
      incident.state = incident.ackedAt ? "acked" : "open";
      // The message sent now counts as the reminder: the next one comes a full interval later.
      incident.lastReminderAt = now;
      if (!st.announced) {
        st.announced = true;
        effects.push({ type: "open", incident, notify: true });
      } else if (incident.ackedAt) {
        effects.push({ type: "update", incident });
      } else {
        effects.push({ type: "update", incident }, { type: "remind", incident });
      }
    }
    for (const st of this.states.values()) {
      const incident = st.incident;
      const every = st.policy?.remindEveryMs;
      if (!incident || incident.state !== "open" || !every) continue;
      const since = incident.lastReminderAt ?? incident.openedAt;
      if (now.getTime() - since.getTime() < every) continue;
      incident.lastReminderAt = now;
      effects.push({ type: "remind", incident });
    }
    return { effects, expiredMutes };
  }

  /** Unresolved incidents, oldest first. */
  openIncidents(): Incident[] {
    return [...this.states.values()]
      .flatMap((s) => (s.incident ? [s.incident] : []))
      .sort((a, b) => a.openedAt.getTime() - b.openedAt.getTime());
  }

  /** The unresolved incident for a key, if any. */
  incidentFor(key: IncidentKey): Incident | null {
    return this.states.get(keyString(key))?.incident ?? null;
  }

  findById(id: number): Incident | null {
    for (const st of this.states.values()) if (st.incident && st.incident.id === id) return st.incident;
    return null;
  }

  isMuted(k: string, at: Date): boolean {
    const m = this.mutes.get(k);
    return m !== undefined && m.until > at;
  }

  private stateOf(k: string): KeyState {
    let st = this.states.get(k);
    if (!st) {
      st = { failures: 0, successes: 0, firstFailureAt: null, firstSuccessAt: null, incident: null, announced: false, policy: null };
      this.states.set(k, st);
    }
    return st;
  }
}

function durationOf(incident: Incident): number {
  return Math.max(0, (incident.resolvedAt ?? incident.lastSeenAt).getTime() - incident.openedAt.getTime());
}
