import { isHealthy } from "../shared/containers.js";
import type { Logger } from "../infra/logger.js";
import type { Clock, ContainerSummary, DockerApi, DockerEvent } from "../shared/ports.js";
import { formatDuration } from "../shared/format.js";
import type { ExpectedChangeRegistry } from "./expected-changes.js";
import { after, every } from "./timers.js";
import type { AlertPolicy, IncidentKey, Signal } from "./types.js";

/**
 * Container health from the Docker event stream of one compose project: a `die` (exit code, OOM
 * when an `oom` event preceded it) or `health_status: unhealthy` is a failure at once — an event,
 * not a poll — and a service is healthy again when every one of its containers runs and is not
 * unhealthy/starting, as `listContainers` shows after a `start`/`healthy` event. Services still
 * down are re-listed every `recheckMs` (a missed start event, a restart of the bot). Deaths during
 * a stream outage are not polled for: DockerApi.events replays them (`since`) when it reconnects.
 * Listing is not free (an inspect per container over SSH), so nothing is listed while all is well.
 *
 * One incident per service (subject = service): 20 replicas dying are one incident listing them.
 * A service dying `restartLoopCount` times within the window is a restart loop, and counts as
 * recovered only after a whole window without a death, so a crash-looping container does not
 * alternate alert/recovery.
 */
export interface DockerMonitorOptions {
  target: string;
  project: string;
  docker: DockerApi;
  expected: ExpectedChangeRegistry;
  clock: Clock;
  log: Logger;
  emit: (signal: Signal) => void;
  /** Services with an unresolved incident (after a restart, the engine knows them). */
  openServices: () => string[];
  restartLoopCount: number;
  restartLoopWindowMs: number;
  remindEveryMs: number | null;
  /** Wait after a start before believing it (a container dying at once is not a recovery). */
  settleMs?: number;
  /** Re-list the project's containers this often while a service is down (a missed start event). */
  recheckMs?: number;
}

const ONE_OFF_NAME = /[_-]run[_-][0-9a-f]{6,}$/;
const OOM_MEMORY_MS = 10_000;
/** This monitor's signal within a service incident. */
const SIGNAL = "container";

interface ServiceState {
  /** container name → why it is down */
  down: Map<string, string>;
  /** container name → times (ms) of its unexpected deaths, for restart-loop detection */
  deaths: Map<string, number[]>;
  lastExitCode: number | null;
  /** Bumped on every failure; a listing started before the last bump is stale. */
  failureSeq: number;
  /** Cancels the pending verification, if any. */
  verifyTimer: (() => void) | null;
}

export class DockerMonitor {
  private readonly o: DockerMonitorOptions;
  private readonly services = new Map<string, ServiceState>();
  private readonly oomAt = new Map<string, number>();
  /** service → replicas at the last listing (to name the container when one of several died) */
  private replicas = new Map<string, number>();
  private verifying = false;
  private stream: { stop(): void } | null = null;
  private cancelRecheck: (() => void) | null = null;
  private stopped = false;
  private readonly policy: AlertPolicy;

  constructor(options: DockerMonitorOptions) {
    this.o = options;
    this.policy = { failuresBeforeAlert: 1, successesBeforeRecovery: 1, remindEveryMs: options.remindEveryMs };
  }

  start(): void {
    this.stream = this.o.docker.events(
      this.o.project,
      (e) => this.onEvent(e),
      (err) => this.o.log.warn({ err, target: this.o.target }, "docker event stream error; it reconnects"),
    );
    void this.recheck();
    const everyMs = this.o.recheckMs ?? 15_000;
    this.cancelRecheck = every(this.o.clock, everyMs, () => void this.recheck());
  }

  stop(): void {
    this.stopped = true;
    this.stream?.stop();
    this.cancelRecheck?.();
    for (const s of this.services.values()) s.verifyTimer?.();
  }

  /** Exposed for tests: feed one event as if it came from the stream. */
  onEvent(e: DockerEvent): void {
    if (this.stopped || !e.service || ONE_OFF_NAME.test(e.containerName)) return;
    if (e.project !== undefined && e.project !== this.o.project) return;
    const now = this.o.clock.now().getTime();
    switch (e.action) {
      case "oom":
        this.oomAt.set(e.containerId, now);
        return;
      case "die": {
        if (this.o.expected.isExpected(this.o.target, e.service)) return;
        const oom = now - (this.oomAt.get(e.containerId) ?? -Infinity) < OOM_MEMORY_MS;
        this.oomAt.delete(e.containerId);
        const code = e.exitCode ?? null;
        const why = `exited (${code === null ? "no exit code" : `code ${code}`}${oom ? ", OOM" : ""})`;
        this.fail(e.service, e.containerName, why, now, true, code);
        return;
      }
      case "health_status: unhealthy":
        if (this.o.expected.isExpected(this.o.target, e.service)) return;
        this.fail(e.service, e.containerName, "is unhealthy", now, false, null);
        return;
      case "start":
      case "restart":
      case "health_status: healthy":
      case "destroy": {
        const st = this.services.get(e.service);
        if ((st && st.down.size > 0) || this.o.openServices().includes(e.service)) this.scheduleVerify(e.service, this.o.settleMs ?? 1_000);
        return;
      }
      default:
        return;
    }
  }

  private stateOf(service: string): ServiceState {
    let st = this.services.get(service);
    if (!st) {
      st = { down: new Map(), deaths: new Map(), lastExitCode: null, failureSeq: 0, verifyTimer: null };
      this.services.set(service, st);
    }
    return st;
  }

  private fail(service: string, container: string, why: string, now: number, death: boolean, exitCode: number | null): void {
    const st = this.stateOf(service);
    const isNew = st.down.get(container) !== why;
    st.down.set(container, why);
    st.failureSeq++;
    if (death) {
      const times = (st.deaths.get(container) ?? []).filter((t) => now - t < this.o.restartLoopWindowMs);
      times.push(now);
      st.deaths.set(container, times);
      st.lastExitCode = exitCode;
    }
    this.o.emit({
      key: this.key(service),
      at: new Date(now),
      ok: false,
      error: this.describe(service, st),
      policy: this.policy,
      signal: SIGNAL,
      viaTarget: true,
      weight: isNew || death ? 1 : 0,
    });
  }

  /** Most deaths of one container within the window (a loop is one container restarting, not 20 replicas dying once). */
  private loopDeaths(st: ServiceState, now: number): number {
    let most = 0;
    for (const times of st.deaths.values()) most = Math.max(most, times.filter((t) => now - t < this.o.restartLoopWindowMs).length);
    return most;
  }

  private inLoop(st: ServiceState, now: number): boolean {
    return this.loopDeaths(st, now) >= this.o.restartLoopCount;
  }

  private lastDeath(st: ServiceState): number {
    let last = 0;
    for (const times of st.deaths.values()) last = Math.max(last, times.at(-1) ?? 0);
    return last;
  }

  /** "web exited (code 137, OOM)", "worker: 20 containers down — app_worker_1 exited (code 137), …" */
  private describe(service: string, st: ServiceState): string {
    const now = this.o.clock.now().getTime();
    if (this.inLoop(st, now)) {
      const n = this.loopDeaths(st, now);
      const last = st.lastExitCode === null ? "" : ` (last exit code ${st.lastExitCode})`;
      return `${service} is in a restart loop: ${n} exits in ${formatDuration(this.o.restartLoopWindowMs)}${last}`;
    }
    const entries = [...st.down];
    const [first] = entries;
    if (entries.length === 1 && first) {
      const replicas = this.replicasOf(service);
      return replicas > 1 ? `${service} ${first[1]} (${first[0]})` : `${service} ${first[1]}`;
    }
    const reasons = new Map<string, string[]>();
    for (const [name, why] of entries) reasons.set(why, [...(reasons.get(why) ?? []), name]);
    const parts = [...reasons].map(([why, names]) => `${names.length} ${why}: ${listNames(names)}`);
    return `${service}: ${entries.length} containers down — ${parts.join("; ")}`;
  }

  private replicasOf(service: string): number {
    return this.replicas.get(service) ?? 1;
  }

  private scheduleVerify(service: string, delayMs: number): void {
    const st = this.stateOf(service);
    st.verifyTimer?.();
    st.verifyTimer = after(this.o.clock, delayMs, () => {
      st.verifyTimer = null;
      void this.verify([service]);
    });
  }

  /** Lists the project and settles the state of the given services (recovered or still down). */
  private async verify(services: string[]): Promise<void> {
    const seqs = new Map(services.map((s) => [s, this.stateOf(s).failureSeq]));
    let list: ContainerSummary[];
    try {
      list = (await this.o.docker.listContainers(this.o.project)).filter((c) => !ONE_OFF_NAME.test(c.name));
    } catch (err) {
      this.o.log.warn({ err, target: this.o.target }, "listing containers failed; will re-check");
      return;
    }
    if (this.stopped) return;
    this.replicas = new Map();
    for (const c of list) this.replicas.set(c.service, (this.replicas.get(c.service) ?? 0) + 1);
    for (const service of services) this.settle(service, list, seqs.get(service) ?? 0);
  }

  private settle(service: string, list: ContainerSummary[], seqAtListing: number): void {
    const st = this.stateOf(service);
    // A failure that arrived while we were listing is newer than the listing.
    if (st.failureSeq !== seqAtListing) return;
    const mine = list.filter((c) => c.service === service);
    const bad = mine.filter((c) => !isHealthy(c));
    const now = this.o.clock.now().getTime();
    if (mine.length > 0 && bad.length === 0) {
      const lastDeath = this.lastDeath(st);
      if (this.inLoop(st, now) && now - lastDeath < this.o.restartLoopWindowMs) {
        this.scheduleVerify(service, this.o.restartLoopWindowMs - (now - lastDeath) + 100);
        return;
      }
      st.down.clear();
      this.o.emit({ key: this.key(service), at: new Date(now), ok: true, policy: this.policy, signal: SIGNAL, viaTarget: true });
      return;
    }
    // Still down. After a restart the engine knows the incident but not which containers: refill.
    const refill = st.down.size === 0;
    for (const c of bad) {
      if (c.health === "starting" && c.state === "running") continue; // wait for its healthy event
      if (refill || !st.down.has(c.name)) st.down.set(c.name, summaryReason(c));
    }
    for (const name of [...st.down.keys()]) {
      const c = mine.find((x) => x.name === name);
      // Gone (scaled down, removed) or healthy again: no longer down.
      if (!c || isHealthy(c)) st.down.delete(name);
    }
    if (st.down.size > 0 && this.o.openServices().includes(service)) {
      this.o.emit({ key: this.key(service), at: new Date(now), ok: false, error: this.describe(service, st), policy: this.policy, signal: SIGNAL, viaTarget: true, weight: 0 });
    }
  }

  private async recheck(): Promise<void> {
    const wanted = new Set<string>(this.o.openServices());
    for (const [service, st] of this.services) if (st.down.size > 0) wanted.add(service);
    if (wanted.size === 0 || this.verifying) return;
    this.verifying = true;
    try {
      await this.verify([...wanted]);
    } finally {
      this.verifying = false;
    }
  }

  /** The service's incident (other signals, such as its HTTP check, join the same one). */
  private key(service: string): IncidentKey {
    return { target: this.o.target, source: "service", subject: service };
  }
}

function summaryReason(c: ContainerSummary): string {
  if (c.state === "running") return c.health === "unhealthy" ? "is unhealthy" : "is starting";
  const code = c.exitCode === null ? "" : `code ${c.exitCode}`;
  const detail = [code, c.oomKilled ? "OOM" : ""].filter(Boolean).join(", ");
  return c.state === "exited" || c.state === "dead" ? `exited${detail ? ` (${detail})` : ""}` : `is ${c.state}`;
}

function listNames(names: string[]): string {
  const shown = names.slice(0, 8).join(", ");
  return names.length > 8 ? `${shown}, … (+${names.length - 8})` : shown;
}
