import type { AlertActor, AlertPolicy, Incident, IncidentKey, Mute, Signal } from "./types.js";
import { newSignalState, syncSignals, type SignalState } from "./signals.js";
import { keyString, muteCovers } from "./types.js";

/**
 * What the engine decided. The service persists each effect (incident row + outbox rows in one
 * transaction); `notify: false` means "keep the record, send nothing new" (the key is muted).
 *
 * - `open`: a new incident (or one that gets its voice back); an alert goes to every alert chat.
 * - `update`: something shown in the alert message changed (signals, ack, mute, unmute): edit it.
 * - `resolve`: all its signals are healthy again; edit the original and, unless muted, post a recovery.
 * - `remind`: still open, nobody acked: a new short message so it is not forgotten.
 * - `worse`: a new signal joined an acknowledged incident: the alert is posted once more.
 */
export type EngineEffect =
  | { type: "open"; incident: Incident; notify: boolean }
  | { type: "update"; incident: Incident }
  | { type: "resolve"; incident: Incident; durationMs: number; notify: boolean }
  | { type: "remind"; incident: Incident }
  | { type: "worse"; incident: Incident };

interface KeyState {
  key: IncidentKey;
  signals: Map<string, SignalState>;
  incident: Incident | null;
  /** Whether chats have been told about the incident (false while it opened under a mute). */
  announced: boolean;
  policy: AlertPolicy | null;
  /** When incidents of this key opened (flapping detection), pruned to the window. */
  opens: number[];
  lastFailureAt: Date | null;
}

export interface FlappingPolicy {
  /** More openings than this within `windowMs` make one flapping incident. Default 4. */
  maxOpens: number;
  /** Per-target overrides of `maxOpens` (opsgram.yml `health.flappingOpensPerHour`). */
  maxOpensByTarget?: Readonly<Record<string, number>>;
  windowMs: number;
  /** A flapping incident resolves once all is healthy and no failure came for this long. */
  quietMs: number;
}

export interface EngineInit {
  /** Unresolved incidents loaded from the store at start. */
  incidents: Incident[];
  /** Mutes still in force at start. */
  mutes: Mute[];
  flapping?: FlappingPolicy;
}

const DEFAULT_FLAPPING: FlappingPolicy = { maxOpens: 4, windowMs: 3_600_000, quietMs: 900_000 };
const REACHABILITY = "reachability";

/**
 * The incident state machine, pure: observations, button presses and the passing of time go in,
 * effects come out. One incident per failing thing (key); each key has named signals, each with
 * its own thresholds. The incident opens when one signal crosses `failuresBeforeAlert` and resolves
 * when every signal crossed `successesBeforeRecovery`. While a target is unreachable, signals
 * observed through it open nothing; they are re-examined when it answers again.
 *
 * Single-threaded by contract: one caller at a time (the service serialises calls).
 */
export class IncidentEngine {
  private readonly states = new Map<string, KeyState>();
  private readonly mutes = new Map<string, Mute>();
  private readonly flapping: FlappingPolicy;

  constructor(init: EngineInit) {
    this.flapping = init.flapping ?? DEFAULT_FLAPPING;
    for (const m of init.mutes) this.mutes.set(m.key, m);
    for (const incident of init.incidents) {
      if (incident.state === "resolved") continue;
      const st = this.stateOf(incident.key);
      st.incident = incident;
      st.announced = incident.messages.length > 0 || incident.state !== "muted";
      for (const s of incident.signals) {
        st.signals.set(s.name, { failures: 0, successes: 0, firstFailureAt: incident.openedAt, firstSuccessAt: null, failing: s.failing, error: s.error, viaTarget: false });
      }
    }
  }

  /** Feeds one observation. */
  observe(signal: Signal): EngineEffect[] {
    const st = this.stateOf(signal.key);
    st.policy = signal.policy;
    const name = signal.signal ?? signal.key.source;
    const sig = st.signals.get(name) ?? newSignalState();
    st.signals.set(name, sig);
    sig.viaTarget = signal.viaTarget ?? false;
    if (!signal.ok) {
      sig.successes = 0;
      sig.firstSuccessAt = null;
      sig.failures += 1;
      sig.firstFailureAt ??= signal.at;
      const changed = sig.error !== signal.error;
      sig.error = signal.error;
      if (sig.failures < signal.policy.failuresBeforeAlert && !sig.failing) return [];
      const joined = !sig.failing;
      sig.failing = true;
      st.lastFailureAt = signal.at;
      const incident = st.incident;
      if (!incident) return this.tryOpen(st, signal.at, signal.weight ?? 1);
      incident.count += signal.weight ?? 1;
      incident.lastSeenAt = signal.at;
      if (joined && incident.flaps > 0) incident.flaps += 1;
      if (!joined && !changed) return [];
      syncSignals(st.incident, st.signals);
      if (joined && incident.ackedAt && incident.state === "acked" && st.announced) return [{ type: "worse", incident }];
      return [{ type: "update", incident }];
    }
    sig.failures = 0;
    sig.firstFailureAt = null;
    sig.successes += 1;
    sig.firstSuccessAt ??= signal.at;
    const incident = st.incident;
    if (!sig.failing || sig.successes < signal.policy.successesBeforeRecovery) return [];
    sig.failing = false;
    if (!incident) return [];
    syncSignals(st.incident, st.signals);
    if ([...st.signals.values()].some((s) => s.failing)) return [{ type: "update", incident }];
    // A flapping incident waits for a quiet spell (tick) instead of resolving on every recovery.
    if (incident.flaps > 0) return [{ type: "update", incident }];
    const effects = this.resolve(st, sig.firstSuccessAt, signal.at);
    if (signal.key.source === REACHABILITY) effects.push(...this.releaseHeld(signal.key.target, signal.at));
    return effects;
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
   * Silences a scope (an incident key string, or a whole target) until `until`, extending, never
   * shortening, a mute in force. Returns the mute to persist and edits for the incidents it covers.
   */
  mute(scope: string, until: Date, actor: AlertActor, reason: string | null = null): { mute: Mute; effects: EngineEffect[] } {
    const existing = this.mutes.get(scope);
    const mute: Mute = { key: scope, until: existing && existing.until > until ? existing.until : until, byUserId: actor.userId, byName: actor.username, reason };
    this.mutes.set(scope, mute);
    const effects: EngineEffect[] = [];
    for (const st of this.states.values()) {
      if (!st.incident || !muteCovers(scope, st.key) || st.incident.state === "muted") continue;
      st.incident.state = "muted";
      effects.push({ type: "update", incident: st.incident });
    }
    return { mute, effects };
  }

  /** Lifts a mute now; what it covered speaks again (see `lift`). Null when there was none. */
  unmute(scope: string, at: Date): EngineEffect[] | null {
    if (!this.mutes.delete(scope)) return null;
    return this.lift(scope, at);
  }

  /**
   * The passing of time: mutes that ended give their incidents back their voice, unacked incidents
   * get their reminders, and a flapping incident that stayed quiet resolves.
   */
  tick(now: Date): { effects: EngineEffect[]; expiredMutes: string[] } {
    const effects: EngineEffect[] = [];
    const expiredMutes: string[] = [];
    for (const [scope, mute] of this.mutes) {
      if (mute.until > now) continue;
      this.mutes.delete(scope);
      expiredMutes.push(scope);
      effects.push(...this.lift(scope, now));
    }
    for (const st of this.states.values()) {
      const incident = st.incident;
      if (!incident) continue;
      if (incident.flaps > 0 && ![...st.signals.values()].some((s) => s.failing)) {
        const last = st.lastFailureAt?.getTime() ?? 0;
        if (now.getTime() - last >= this.flapping.quietMs) effects.push(...this.resolve(st, now, now));
        continue;
      }
      const every = st.policy?.remindEveryMs;
      if (incident.state !== "open" || !every) continue;
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

  /** Mutes in force at `now`, soonest ending first. */
  activeMutes(now: Date): Mute[] {
    return [...this.mutes.values()].filter((m) => m.until > now).sort((a, b) => a.until.getTime() - b.until.getTime());
  }

  /** Every key the engine has seen (to tell a known service from a typo). */
  knownKeys(): IncidentKey[] {
    return [...this.states.values()].map((s) => s.key);
  }

  /** The unresolved incident for a key, if any. */
  incidentFor(key: IncidentKey): Incident | null {
    return this.states.get(keyString(key))?.incident ?? null;
  }

  findById(id: number): Incident | null {
    for (const st of this.states.values()) if (st.incident && st.incident.id === id) return st.incident;
    return null;
  }

  isMuted(key: IncidentKey, at: Date): boolean {
    for (const m of this.mutes.values()) if (m.until > at && muteCovers(m.key, key)) return true;
    return false;
  }

  private tryOpen(st: KeyState, at: Date, weight: number): EngineEffect[] {
    const failing = [...st.signals.values()].filter((s) => s.failing);
    // Inhibition: the target's own alert says what is held back; these wait until it answers.
    if (failing.every((s) => s.viaTarget) && this.unreachable(st.key.target)) return [];
    const now = at.getTime();
    st.opens = st.opens.filter((t) => now - t < this.flapping.windowMs);
    st.opens.push(now);
    const muted = this.isMuted(st.key, at);
    const firstFailure = failing.reduce<Date>((a, s) => (s.firstFailureAt && s.firstFailureAt < a ? s.firstFailureAt : a), at);
    const opened: Incident = {
      id: 0,
      key: st.key,
      state: muted ? "muted" : "open",
      openedAt: firstFailure,
      resolvedAt: null,
      lastSeenAt: at,
      count: Math.max(weight, ...failing.map((s) => s.failures)),
      lastError: "",
      signals: [],
      flaps: st.opens.length > (this.flapping.maxOpensByTarget?.[st.key.target] ?? this.flapping.maxOpens) ? st.opens.length : 0,
      messages: [],
      ackedBy: null,
      ackedByName: null,
      ackedAt: null,
      lastReminderAt: null,
    };
    st.incident = opened;
    st.announced = !muted;
    syncSignals(st.incident, st.signals);
    return [{ type: "open", incident: opened, notify: !muted }];
  }

  private resolve(st: KeyState, recoveredAt: Date, at: Date): EngineEffect[] {
    const incident = st.incident;
    if (!incident) return [];
    const muted = this.isMuted(st.key, at);
    const announced = st.announced;
    incident.state = "resolved";
    incident.resolvedAt = recoveredAt;
    st.incident = null;
    st.announced = false;
    for (const s of st.signals.values()) Object.assign(s, { successes: 0, firstSuccessAt: null });
    const durationMs = Math.max(0, recoveredAt.getTime() - incident.openedAt.getTime());
    // Never announced (opened and resolved under a mute): nothing to edit, nothing to recover from.
    return [{ type: "resolve", incident, durationMs, notify: announced && !muted }];
  }

  /** The target answers again: what is still failing behind it opens now. */
  private releaseHeld(target: string, at: Date): EngineEffect[] {
    const effects: EngineEffect[] = [];
    for (const st of this.states.values()) {
      if (st.key.target !== target || st.incident || st.key.source === REACHABILITY) continue;
      if ([...st.signals.values()].some((s) => s.failing)) effects.push(...this.tryOpen(st, at, 1));
    }
    return effects;
  }

  private unreachable(target: string): boolean {
    return this.states.get(keyString({ target, source: REACHABILITY, subject: "ssh" }))?.incident != null;
  }

  /** A mute ended or was lifted: incidents it covered (and no other mute covers) speak again. */
  private lift(scope: string, now: Date): EngineEffect[] {
    const effects: EngineEffect[] = [];
    for (const st of this.states.values()) {
      const incident = st.incident;
      if (!incident || !muteCovers(scope, st.key) || this.isMuted(st.key, now)) continue;
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
    return effects;
  }

  private stateOf(key: IncidentKey): KeyState {
    const k = keyString(key);
    let st = this.states.get(k);
    if (!st) {
      st = { key, signals: new Map(), incident: null, announced: false, policy: null, opens: [], lastFailureAt: null };
      this.states.set(k, st);
    }
    return st;
  }
}
