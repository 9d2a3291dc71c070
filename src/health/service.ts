import type { Logger } from "../infra/logger.js";
import type { Clock } from "../shared/ports.js";
import type { EngineEffect } from "./engine.js";
import { IncidentEngine, type FlappingPolicy } from "./engine.js";
import type { AlertRenderer, IncidentStore, MuteStore, NewOutboxItem } from "./ports.js";
import type { AlertActor, Incident, IncidentMessage, Mute, Signal } from "./types.js";
import { keyString } from "./types.js";

/**
 * What the alerts feature (/alerts, [Ack], [Mute]) may do. Kept narrow so the bot layer depends
 * on this, not on the service.
 */
export interface AlertsControl {
  /** Unresolved incidents, oldest first. */
  openIncidents(): Incident[];
  /**
   * Acknowledges the incidents shown on `message` (a coalesced alert shows several) plus
   * `incidentId`. Acked incidents stay open but get no more reminders.
   */
  ack(incidentId: number, message: IncidentMessage | null, actor: AlertActor): Promise<AlertActionResult>;
  /** Silences the keys of those incidents for `minutes`, including incidents that open later. */
  mute(incidentId: number, message: IncidentMessage | null, minutes: number, actor: AlertActor): Promise<AlertActionResult>;
  /** The unresolved incidents a press would act on (for the audit row written before acting). */
  incidentsFor(incidentId: number, message: IncidentMessage | null): Promise<Incident[]>;
  /** Mutes in force, soonest ending first. */
  activeMutes(): Mute[];
  /**
   * What a word from /mute or /unmute names: a target (every alert of it) or a service (on each
   * target that has it). Empty when it names nothing known.
   */
  scopesFor(word: string): string[];
  /** Targets and services a mute can name, for the error message. */
  knownNames(): string[];
  /** Mutes the scopes for `minutes` (a reason is shown in /alerts). */
  muteScopes(scopes: readonly string[], minutes: number, actor: AlertActor, reason: string | null): Promise<Mute[]>;
  /** Lifts the scopes' mutes; returns the ones that were in force. */
  unmuteScopes(scopes: readonly string[]): Promise<string[]>;
}

/** `done`: these incidents changed; `nothing`: all already resolved (or acked, for ack). */
export type AlertActionResult = { status: "done"; incidents: Incident[] } | { status: "nothing" };

export interface HealthServiceOptions {
  /** Target → services a mute may name (configured services, services named by HTTP checks). */
  services?: ReadonlyMap<string, ReadonlySet<string>>;
  store: IncidentStore;
  mutes: MuteStore;
  render: AlertRenderer;
  clock: Clock;
  log: Logger;
  alertChatIds: readonly number[];
  /** Called after outbox items were queued (the dispatcher's wake-up). */
  onQueued: () => void;
  flapping?: FlappingPolicy;
}

/**
 * Glue between monitors, the pure engine and the store: every observation goes through one queue,
 * so the engine sees one call at a time and each effect is persisted (incident + outbox rows, one
 * transaction) in the order it happened.
 */
export class HealthService implements AlertsControl {
  private engine: IncidentEngine = new IncidentEngine({ incidents: [], mutes: [] });
  private queue: Promise<unknown> = Promise.resolve();
  /** Effects not stored yet (the database was down), oldest first; retried on every apply and tick. */
  private readonly unsaved: { effect: EngineEffect; at: Date }[] = [];
  private readonly store: IncidentStore;
  private readonly mutes: MuteStore;
  private readonly render: AlertRenderer;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly chats: readonly number[];
  private readonly onQueued: () => void;
  private readonly services: ReadonlyMap<string, ReadonlySet<string>>;
  private readonly flapping: FlappingPolicy | undefined;

  constructor(options: HealthServiceOptions) {
    this.store = options.store;
    this.mutes = options.mutes;
    this.render = options.render;
    this.clock = options.clock;
    this.log = options.log;
    this.chats = options.alertChatIds;
    this.onQueued = options.onQueued;
    this.services = options.services ?? new Map();
    this.flapping = options.flapping;
  }

  /** Rebuilds the engine from the store (open incidents, mutes in force). Call once before use. */
  async load(): Promise<void> {
    const [incidents, mutes] = await Promise.all([this.store.loadUnresolved(), this.mutes.loadMutes(this.clock.now())]);
    this.engine = new IncidentEngine({ incidents, mutes, ...(this.flapping ? { flapping: this.flapping } : {}) });
  }

  /** Feeds an observation from a monitor. Never throws: storage errors are logged. */
  submit(signal: Signal): Promise<void> {
    // Monitors fire and forget: the failure is logged by serial(), never an unhandled rejection.
    return this.serial(async () => {
      await this.apply(this.engine.observe(signal));
    }).catch(() => {});
  }

  /** Mute expiry and reminders; the health loop calls it every second. Never throws (logged). */
  tick(): Promise<void> {
    return this.serial(async () => {
      const { effects } = this.engine.tick(this.clock.now());
      await this.apply(effects);
    }).catch(() => {});
  }

  openIncidents(): Incident[] {
    return this.engine.openIncidents();
  }

  /** The open incident of a key (docker reconcile asks which services are still down). */
  isOpen(key: Incident["key"]): boolean {
    return this.engine.incidentFor(key) !== null;
  }

  async incidentsFor(incidentId: number, message: IncidentMessage | null): Promise<Incident[]> {
    const onMessage = message ? await this.store.incidentsOnMessage(message) : [];
    const ids = new Set([incidentId, ...onMessage.map((i) => i.id)]);
    return [...ids].flatMap((id) => {
      const live = this.engine.findById(id);
      return live ? [live] : [];
    });
  }

  async ack(incidentId: number, message: IncidentMessage | null, actor: AlertActor): Promise<AlertActionResult> {
    const targets = await this.incidentsFor(incidentId, message);
    return this.serial(async () => {
      const at = this.clock.now();
      const effects = targets.flatMap((i) => this.engine.ack(i.id, actor, at));
      await this.apply(effects);
      const changed = effects.map((e) => e.incident);
      return changed.length > 0 ? { status: "done", incidents: changed } : { status: "nothing" };
    });
  }

  async mute(incidentId: number, message: IncidentMessage | null, minutes: number, actor: AlertActor): Promise<AlertActionResult> {
    // Resolved ones too: a mute is about the key (a flapping check), and it outlives resolution.
    const shown = [...(await this.store.incidentsByIds([incidentId])), ...(message ? await this.store.incidentsOnMessage(message) : [])];
    const keys = new Map(shown.map((i) => [keyString(i.key), i]));
    return this.serial(async () => {
      const until = new Date(this.clock.now().getTime() + minutes * 60_000);
      const changed: Incident[] = [];
      for (const [scope, incident] of keys) {
        const { mute, effects } = this.engine.mute(scope, until, actor);
        await this.mutes.saveMute(mute);
        await this.apply(effects);
        changed.push(this.engine.incidentFor(incident.key) ?? incident);
      }
      return changed.length > 0 ? { status: "done", incidents: changed } : { status: "nothing" };
    });
  }

  activeMutes(): Mute[] {
    return this.engine.activeMutes(this.clock.now());
  }

  scopesFor(word: string): string[] {
    if (this.services.has(word)) return [word];
    const targets = new Set<string>();
    for (const [target, names] of this.services) if (names.has(word)) targets.add(target);
    for (const key of this.engine.knownKeys()) if (key.source === "service" && key.subject === word) targets.add(key.target);
    return [...targets].sort().map((target) => keyString({ target, source: "service", subject: word }));
  }

  knownNames(): string[] {
    const names = new Set<string>(this.services.keys());
    for (const set of this.services.values()) for (const n of set) names.add(n);
    for (const key of this.engine.knownKeys()) if (key.source === "service") names.add(key.subject);
    return [...names].sort();
  }

  muteScopes(scopes: readonly string[], minutes: number, actor: AlertActor, reason: string | null): Promise<Mute[]> {
    return this.serial(async () => {
      const until = new Date(this.clock.now().getTime() + minutes * 60_000);
      const saved: Mute[] = [];
      for (const scope of scopes) {
        const { mute, effects } = this.engine.mute(scope, until, actor, reason);
        await this.mutes.saveMute(mute);
        await this.apply(effects);
        saved.push(mute);
      }
      return saved;
    });
  }

  unmuteScopes(scopes: readonly string[]): Promise<string[]> {
    return this.serial(async () => {
      const lifted: string[] = [];
      for (const scope of scopes) {
        const effects = this.engine.unmute(scope, this.clock.now());
        if (effects === null) continue;
        await this.mutes.deleteMute(scope);
        await this.apply(effects);
        lifted.push(scope);
      }
      return lifted;
    });
  }

  /** Waits for everything submitted so far to be persisted. */
  async idle(): Promise<void> {
    await this.queue;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch((err: unknown) => this.log.error({ err }, "health: applying a change failed"));
    return run;
  }

  /**
   * Persists effects in order. An effect the store could not take (the database is down) stays
   * queued, and so does everything after it: the next apply or tick tries again, so an incident
   * that opened during an outage is still alerted once the database is back (in order, with what
   * happened to it meanwhile rendered at that time).
   */
  private async apply(effects: EngineEffect[]): Promise<void> {
    const at = this.clock.now();
    for (const effect of effects) this.unsaved.push({ effect, at });
    let queued = false;
    try {
      while (this.unsaved.length > 0) {
        const { effect, at: seenAt } = this.unsaved[0]!;
        const items = this.outboxFor(effect, seenAt);
        const id = await this.store.saveIncident(effect.incident, items, seenAt);
        this.unsaved.shift();
        effect.incident.id = id;
        if (items.length > 0) queued = true;
        if (effect.type === "open" || effect.type === "resolve") {
          this.log.info(
            { incidentId: id, key: effect.incident.key, error: effect.incident.lastError, notify: effect.notify },
            effect.type === "open" ? "incident opened" : "incident resolved",
          );
        }
      }
    } finally {
      if (queued) this.onQueued();
    }
  }

  private outboxFor(effect: EngineEffect, at: Date): NewOutboxItem[] {
    const incident = effect.incident;
    const each = (kind: NewOutboxItem["kind"], text: string) => this.chats.map((chatId) => ({ chatId, kind, text }));
    switch (effect.type) {
      case "open":
        return effect.notify ? each("open", this.render.alertLine(incident)) : [];
      case "update":
        return each("update", this.render.alertLine(incident));
      case "resolve": {
        if (!effect.notify) return incident.id === 0 ? [] : each("update", this.render.alertLine(incident));
        return [...each("recovery", this.render.recoveryLine(incident)), ...each("update", this.render.alertLine(incident))];
      }
      case "remind":
        return each("reminder", this.render.reminderLine(incident, at));
      case "worse":
        // Posted once more (it was acknowledged, and now something new joined it).
        return each("open", this.render.alertLine(incident));
    }
  }
}
