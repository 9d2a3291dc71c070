import { httpProbeArgv, judgeHttpResponse, lastHttpStatus, wantsBody, type HttpExpectation } from "../commands/http-probe.js";
import { isHealthy, unhealthyWord } from "../shared/containers.js";
import type { Clock, ContainerSummary, DockerApi, RemoteShell } from "../shared/ports.js";

/** One look at the thing being waited for. */
export interface ProbeResult {
  healthy: boolean;
  /** What was seen, for the progress line and the failure report: "HTTP 503", "worker 2/3 running". */
  detail: string;
}

/** A probe gets the time it may take; it must not throw for an unhealthy answer (throwing counts as unhealthy). */
export type Probe = (timeoutMs: number) => Promise<ProbeResult>;

export type GateResult =
  /** The probe said healthy before the deadline. */
  | { status: "healthy"; elapsedMs: number; attempts: number; detail: string }
  /** The deadline passed; `detail` is the last thing seen. */
  | { status: "unhealthy"; elapsedMs: number; attempts: number; detail: string };

export interface GateOptions {
  timeoutMs: number;
  intervalMs: number;
  clock: Clock;
  signal?: AbortSignal;
  /** Called after each unhealthy attempt (progress line). */
  onAttempt?: (result: ProbeResult, attempt: number) => void;
  /** Longest a single probe may take. Default 5 s. */
  probeTimeoutMs?: number;
}

/**
 * Polls `probe` until healthy or `timeoutMs` has passed (runbook: "health check with retries").
 * At least one probe always runs, and the last one still counts when it started before the deadline.
 */
export async function waitUntilHealthy(probe: Probe, options: GateOptions): Promise<GateResult> {
  const { clock } = options;
  const started = clock.now().getTime();
  const deadline = started + options.timeoutMs;
  let attempts = 0;
  let detail = "not probed";
  for (;;) {
    options.signal?.throwIfAborted();
    attempts++;
    const remaining = Math.max(200, deadline - clock.now().getTime());
    const timeout = Math.min(options.probeTimeoutMs ?? 5_000, remaining);
    let result: ProbeResult;
    try {
      result = await probe(timeout);
    } catch (err) {
      result = { healthy: false, detail: err instanceof Error ? err.message : String(err) };
    }
    detail = result.detail;
    const elapsedMs = clock.now().getTime() - started;
    if (result.healthy) return { status: "healthy", elapsedMs, attempts, detail };
    options.onAttempt?.(result, attempts);
    const now = clock.now().getTime();
    if (now >= deadline) return { status: "unhealthy", elapsedMs, attempts, detail };
    await clock.sleep(Math.min(options.intervalMs, Math.max(0, deadline - now)), options.signal);
  }
}

/** A gate check: what to expect, and the headers to send (values resolved from opsgram's env). */
export type HttpCheck = HttpExpectation & { headers?: Readonly<Record<string, string>> | undefined };

/** Largest body judged; a health endpoint's answer is small. */
const MAX_BODY_BYTES = 65_536;

function asCheck(expect: number | HttpCheck): HttpCheck {
  return typeof expect === "number" ? { expectStatus: expect } : expect;
}

/**
 * Asks the target itself for the URL (the app often listens on 127.0.0.1 only) with the one HTTP
 * probe builder. The URL comes from opsgram.yml, never from chat, and travels as one quoted argument.
 */
export function httpProbeFromTarget(shell: RemoteShell, url: string, expect: number | HttpCheck): Probe {
  const check = asCheck(expect);
  const body = wantsBody(check);
  return async (timeoutMs) => {
    const argv = httpProbeArgv(url, timeoutMs / 1000, { headers: check.headers ?? {}, body });
    const result = await shell.exec(argv, { timeoutMs: timeoutMs + 2_000, maxOutputBytes: body ? MAX_BODY_BYTES + 16_384 : 16_384 });
    if (result.code === 127) return { healthy: false, detail: "wget is not installed on the target" };
    // With the body on stdout, the status lines are on stderr only.
    const status = lastHttpStatus(body ? result.stderr : `${result.stderr}\n${result.stdout}`);
    if (status === null) return { healthy: false, detail: `no HTTP answer (wget exit ${result.code ?? "killed"})` };
    return judgeHttpResponse(check, status, body ? result.stdout : "");
  };
}

/** Asks from the bot's own host (for URLs the bot can reach: a public health endpoint). */
export function httpProbeFromBot(fetchFn: typeof fetch, url: string, expect: number | HttpCheck): Probe {
  const check = asCheck(expect);
  return async (timeoutMs) => {
    try {
      const response = await fetchFn(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual", headers: { ...(check.headers ?? {}) } });
      if (!wantsBody(check)) {
        await response.body?.cancel();
        return judgeHttpResponse(check, response.status, "");
      }
      const text = (await response.text()).slice(0, MAX_BODY_BYTES);
      return judgeHttpResponse(check, response.status, text);
    } catch (err) {
      return { healthy: false, detail: `no HTTP answer (${err instanceof Error ? err.message : String(err)})` };
    }
  };
}

/**
 * Without a health URL: every container of the project (or of `services`) is running, those with a
 * compose healthcheck report healthy, and none restarted since the previous look. The first look
 * never passes on its own, so a container that dies right after `up` is caught.
 */
export function containersProbe(docker: DockerApi, project: string, services?: readonly string[]): Probe {
  let previous: Map<string, number> | null = null;
  return async () => {
    const all = await docker.listContainers(project);
    const containers = services ? all.filter((c) => services.includes(c.service)) : all;
    const verdict = judgeContainers(containers);
    const starts = new Map(containers.map((c) => [c.id, c.startedAt?.getTime() ?? 0]));
    const stable = previous !== null && [...starts].every(([id, t]) => previous!.get(id) === t);
    previous = starts;
    if (!verdict.healthy) return verdict;
    return stable ? verdict : { healthy: false, detail: `${verdict.detail} (settling)` };
  };
}

/** Running and (where checked) healthy, per service: "web 1/1 · worker 2/3 (1 exited)". */
export function judgeContainers(containers: readonly ContainerSummary[]): ProbeResult {
  if (containers.length === 0) return { healthy: false, detail: "no containers" };
  const byService = new Map<string, ContainerSummary[]>();
  for (const c of containers) byService.set(c.service, [...(byService.get(c.service) ?? []), c]);
  let healthy = true;
  const parts: string[] = [];
  for (const [service, list] of [...byService].sort(([a], [b]) => a.localeCompare(b))) {
    const bad = list.filter((c) => !isHealthy(c));
    if (bad.length > 0) healthy = false;
    const why = bad.length > 0 ? ` (${bad.map(unhealthyWord).join(", ")})` : "";
    parts.push(`${service} ${list.length - bad.length}/${list.length}${why}`);
  }
  return { healthy, detail: parts.join(" · ") };
}
