import type { Clock, ExpectedChanges as ExpectedChangesPort } from "../shared/ports.js";

/**
 * The port opsgram's own operations use to say "we are stopping/recreating these containers, do
 * not alert". Deploy, scale and rollback call it before touching containers:
 *
 * ```ts
 * const change = expected.expect(target, ["web"], clock.now().getTime() + 10 * 60_000);
 * try {
 *   await recreateWeb();          // die/kill/stop/unhealthy of web's containers: no alert
 * } finally {
 *   change.end();                 // late events still ignored for a short grace period
 * }
 * ```
 *
 * While a change is in force for a target, failures of its containers (all of them when
 * `services` is empty) raise no alert and do not count towards a restart loop, and the target's
 * HTTP checks do not count failures either (the service behind them is being replaced). Recoveries
 * still count: a deploy that fixes a crashing service resolves its incident. If the operation then
 * fails, the operation reports that; a container still down afterwards alerts on its next event,
 * and a failing HTTP check alerts once its thresholds are reached again.
 *
 * The interface lives in operations/ports.ts (operations may not import health/); this is it.
 * `expect(target, services, untilMs)`: `services` empty = every service of the target; `untilMs`
 * is epoch ms (the operation's own upper bound), ended early by `end()`.
 */
export type ExpectedChanges = ExpectedChangesPort;

/** One expectation; `end()` is idempotent. */
export type ExpectedChange = ReturnType<ExpectedChanges["expect"]>;

/** Events from a change can trail the operation by a moment (the engine reports a die after the CLI returns). */
export const EXPECTED_CHANGE_GRACE_MS = 5_000;

interface Entry {
  target: string;
  /** null = every service */
  services: ReadonlySet<string> | null;
  untilMs: number;
}

/** The in-process ExpectedChanges: the monitors ask it before raising container or HTTP failures. */
export class ExpectedChangeRegistry implements ExpectedChanges {
  private readonly entries = new Set<Entry>();

  constructor(
    private readonly clock: Clock,
    private readonly graceMs = EXPECTED_CHANGE_GRACE_MS,
  ) {}

  expect(target: string, services: readonly string[], untilMs: number): ExpectedChange {
    const entry: Entry = { target, services: services.length > 0 ? new Set(services) : null, untilMs };
    this.entries.add(entry);
    let ended = false;
    return {
      end: () => {
        if (ended) return;
        ended = true;
        entry.untilMs = Math.min(entry.untilMs, this.clock.now().getTime() + this.graceMs);
      },
    };
  }

  /**
   * Whether a failure of `service` on `target`, arriving now, is one of ours. Arrival time, not the
   * engine's event time: the target's clock may differ from ours.
   */
  isExpected(target: string, service: string | undefined): boolean {
    const now = this.clock.now().getTime();
    for (const e of this.entries) {
      if (e.untilMs < now) {
        this.entries.delete(e);
        continue;
      }
      if (e.target !== target) continue;
      if (e.services === null || (service !== undefined && e.services.has(service))) return true;
    }
    return false;
  }

  /** Whether anything on `target` is being changed right now (HTTP checks pause counting). */
  isTargetChanging(target: string): boolean {
    const now = this.clock.now().getTime();
    for (const e of this.entries) if (e.target === target && e.untilMs >= now) return true;
    return false;
  }
}
