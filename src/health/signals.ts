import type { Incident } from "./types.js";

/** The engine's per-signal bookkeeping: one key (a service on a target) has several signals. */

/** One signal's run of failures or successes. `failing`: it crossed its threshold and counts. */
export interface SignalState {
  failures: number;
  successes: number;
  firstFailureAt: Date | null;
  firstSuccessAt: Date | null;
  failing: boolean;
  error: string;
  viaTarget: boolean;
}

export function newSignalState(): SignalState {
  return { failures: 0, successes: 0, firstFailureAt: null, firstSuccessAt: null, failing: false, error: "", viaTarget: false };
}

/**
 * Copies the signal states onto the incident (keeping the order they joined: a recovered signal
 * stays listed, ticked) and sets its summary line to the failing signals' errors.
 */
export function syncSignals(incident: Incident | null, signals: ReadonlyMap<string, SignalState>): void {
  if (!incident) return;
  const listed = new Map(incident.signals.map((s) => [s.name, s]));
  for (const [name, s] of signals) {
    const seen = listed.get(name);
    if (seen) Object.assign(seen, { error: s.error, failing: s.failing });
    else if (s.failing) incident.signals.push({ name, error: s.error, failing: true });
  }
  const failing = incident.signals.filter((s) => s.failing);
  incident.lastError = (failing.length > 0 ? failing : incident.signals).map((s) => s.error).join("; ");
}
