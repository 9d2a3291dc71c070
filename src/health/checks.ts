import type { HttpCheckConfig } from "../config/file.js";
import type { Clock, ExecResult, RemoteShell } from "../shared/ports.js";
import { formatDuration } from "../shared/format.js";
import type { BackupAges, PayoutsStates } from "./ports.js";
import type { AlertPolicy, IncidentKey } from "./types.js";

/**
 * Polled checks: HTTP (from the bot or from the target), disk usage, backup age, payouts paused,
 * SSH reachability. Each is a small object the scheduler runs at its interval; parsing is pure and
 * unit-tested, the I/O goes through ports (RemoteShell, fetch, the stores).
 *
 * `unknown` means "could not look" — a target-side check while SSH is down reports that rather
 * than a failure, so one outage is one (reachability) alert, not one per check.
 */
export type CheckOutcome = { status: "ok" } | { status: "failed"; error: string } | { status: "unknown"; reason: string };

export interface PolledCheck {
  key: IncidentKey;
  /** The signal's name within its key ("http:web" on a service incident); default: the source. */
  signal?: string;
  /** Runs through the target's SSH link: held back while the target is unreachable. */
  viaTarget?: boolean;
  intervalMs: number;
  policy: AlertPolicy;
  run(): Promise<CheckOutcome>;
}

/** The probe's argv is built in commands/ (one builder for the deploy health gate and these checks). */
export { httpProbeArgv as wgetArgv } from "../commands/http-probe.js";
import { httpProbeArgv as wgetArgv, lastHttpStatus } from "../commands/http-probe.js";

/** Reads a `wget -S` run: the last status line wins (redirects print several). */
export function parseWgetResult(result: ExecResult, expectStatus: number, name: string, timeoutSeconds: number): CheckOutcome {
  if (result.timedOut) return { status: "failed", error: `HTTP check ${name}: no answer within ${timeoutSeconds} s` };
  if (result.code === 127) return { status: "unknown", reason: "wget is not installed on the target" };
  const text = `${result.stderr}\n${result.stdout}`;
  const status = lastHttpStatus(text) ?? undefined;
  if (status === expectStatus) return { status: "ok" };
  if (status === undefined && result.code === 0 && expectStatus === 200) return { status: "ok" };
  if (status !== undefined) return { status: "failed", error: `HTTP check ${name}: status ${status} (expected ${expectStatus})` };
  return { status: "failed", error: `HTTP check ${name}: ${lastLine(text) || `wget exited with code ${result.code}`}` };
}

function lastLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("--"));
  return (lines.at(-1) ?? "").slice(0, 200);
}

export interface CheckContext {
  target: string;
  clock: Clock;
  /** Expected changes on the target (a deploy): HTTP failures are not counted meanwhile. */
  isTargetChanging: () => boolean;
  /** The target's configured services (an HTTP check of the same name watches that service). */
  services?: ReadonlySet<string>;
}

/**
 * Where an HTTP check's failures go: the incident of the service it names (one incident per
 * failing thing, whatever the signal), or its own when it names none.
 */
function httpKey(ctx: CheckContext, c: HttpCheckConfig): Pick<PolledCheck, "key" | "signal"> {
  const service = c.service ?? (ctx.services?.has(c.name) ? c.name : undefined);
  if (service === undefined) return { key: { target: ctx.target, source: "http", subject: c.name } };
  return { key: { target: ctx.target, source: "service", subject: service }, signal: `http:${c.name}` };
}

function httpPolicy(c: HttpCheckConfig, remindEveryMs: number | null): AlertPolicy {
  return { failuresBeforeAlert: c.failuresBeforeAlert, successesBeforeRecovery: c.successesBeforeRecovery, remindEveryMs };
}

/** An HTTP check run on the target with its wget (the URL is usually a loopback address there). */
export function httpFromTarget(ctx: CheckContext, shell: RemoteShell, c: HttpCheckConfig, remindEveryMs: number | null): PolledCheck {
  return {
    ...httpKey(ctx, c),
    viaTarget: true,
    intervalMs: c.intervalSeconds * 1000,
    policy: httpPolicy(c, remindEveryMs),
    async run() {
      let result: ExecResult;
      try {
        result = await shell.exec(wgetArgv(c.url, c.timeoutSeconds), { timeoutMs: (c.timeoutSeconds + 5) * 1000, maxOutputBytes: 16_384 });
      } catch (err) {
        return { status: "unknown", reason: `cannot reach the target: ${(err as Error).message}` };
      }
      const outcome = parseWgetResult(result, c.expectStatus, c.name, c.timeoutSeconds);
      if (outcome.status === "failed" && ctx.isTargetChanging()) return { status: "unknown", reason: "expected change in progress" };
      return outcome;
    },
  };
}

/** An HTTP check run by the bot itself (fetch with a timeout). */
export function httpFromBot(ctx: CheckContext, c: HttpCheckConfig, remindEveryMs: number | null, fetchFn: typeof fetch = fetch): PolledCheck {
  return {
    ...httpKey(ctx, c),
    intervalMs: c.intervalSeconds * 1000,
    policy: httpPolicy(c, remindEveryMs),
    async run() {
      let outcome: CheckOutcome;
      try {
        const res = await fetchFn(c.url, { signal: AbortSignal.timeout(c.timeoutSeconds * 1000), redirect: "follow" });
        await res.body?.cancel();
        outcome =
          res.status === c.expectStatus
            ? { status: "ok" }
            : { status: "failed", error: `HTTP check ${c.name}: status ${res.status} (expected ${c.expectStatus})` };
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        const why = e.name === "TimeoutError" ? `no answer within ${c.timeoutSeconds} s` : (e.cause?.code ?? e.message);
        outcome = { status: "failed", error: `HTTP check ${c.name}: ${why}` };
      }
      if (outcome.status === "failed" && ctx.isTargetChanging()) return { status: "unknown", reason: "expected change in progress" };
      return outcome;
    },
  };
}

/** `df -P <path>`: POSIX output, one line per filesystem, capacity as "85%". */
export function parseDfPercent(stdout: string): number | null {
  const lines = stdout.trim().split("\n");
  const data = lines.slice(1).join(" ").trim().split(/\s+/);
  const capacity = data.find((f) => /^\d{1,3}%$/.test(f));
  return capacity ? Number(capacity.slice(0, -1)) : null;
}

export interface DiskCheckConfig {
  path: string;
  warnPercent: number;
  intervalSeconds: number;
}

export function diskUsage(ctx: CheckContext, shell: RemoteShell, c: DiskCheckConfig, remindEveryMs: number | null): PolledCheck {
  return {
    key: { target: ctx.target, source: "disk", subject: c.path },
    viaTarget: true,
    intervalMs: c.intervalSeconds * 1000,
    // Hovering around the threshold should not flap: two readings below it before recovery.
    policy: { failuresBeforeAlert: 1, successesBeforeRecovery: 2, remindEveryMs },
    async run() {
      let result: ExecResult;
      try {
        result = await shell.exec(["df", "-P", c.path], { timeoutMs: 20_000, maxOutputBytes: 16_384 });
      } catch (err) {
        return { status: "unknown", reason: `cannot reach the target: ${(err as Error).message}` };
      }
      if (result.code !== 0) return { status: "failed", error: `disk ${c.path}: df failed (${lastLine(result.stderr) || `code ${result.code}`})` };
      const used = parseDfPercent(result.stdout);
      if (used === null) return { status: "unknown", reason: "unreadable df output" };
      if (used >= c.warnPercent) return { status: "failed", error: `disk ${c.path} is ${used}% full (warning at ${c.warnPercent}%)` };
      return { status: "ok" };
    },
  };
}

/** What an unreachable target's alert hides (inhibition: one alert, not one per check). */
const HELD = " — its Docker, HTTP and disk alerts are held back until it answers";

/** The target answering a trivial command over SSH. */
export function reachability(ctx: CheckContext, shell: RemoteShell, intervalSeconds: number, remindEveryMs: number | null): PolledCheck {
  return {
    key: { target: ctx.target, source: "reachability", subject: "ssh" },
    intervalMs: intervalSeconds * 1000,
    policy: { failuresBeforeAlert: 2, successesBeforeRecovery: 1, remindEveryMs },
    async run() {
      try {
        const r = await shell.exec(["true"], { timeoutMs: 15_000, maxOutputBytes: 1024 });
        if (r.timedOut) return { status: "failed", error: `not answering over SSH (no reply within 15 s)${HELD}` };
        if (r.code !== 0) return { status: "failed", error: `not answering over SSH (\`true\` exited with ${r.code})${HELD}` };
        return { status: "ok" };
      } catch (err) {
        return { status: "failed", error: `not answering over SSH: ${(err as Error).message}${HELD}` };
      }
    },
  };
}

/**
 * Backup age. With no backup yet, the age counts from when opsgram first watched the target, so
 * day one raises no false alarm; after the window it says "no backup yet" once (no reminders).
 */
export function backupAge(ctx: CheckContext, backups: BackupAges, maxAgeHours: number, intervalMs: number, remindEveryMs: number | null): PolledCheck {
  const policy: AlertPolicy = { failuresBeforeAlert: 1, successesBeforeRecovery: 1, remindEveryMs };
  const check: PolledCheck = {
    key: { target: ctx.target, source: "backup", subject: "age" },
    intervalMs,
    policy,
    async run() {
      const now = ctx.clock.now();
      const last = (await backups.lastSucceeded(ctx.target))?.createdAt ?? null;
      const maxMs = maxAgeHours * 3_600_000;
      if (!last) {
        const since = await backups.watchingSince(ctx.target, now);
        check.policy = { ...policy, remindEveryMs: null };
        if (now.getTime() - since.getTime() <= maxMs) return { status: "ok" };
        return { status: "failed", error: `no backup yet (watching since ${since.toISOString().slice(0, 16).replace("T", " ")} UTC, max age ${maxAgeHours} h)` };
      }
      check.policy = policy;
      if (now.getTime() - last.getTime() <= maxMs) return { status: "ok" };
      // Stable text (no "30 h ago" that changes every poll and would edit the message each time).
      return { status: "failed", error: `no successful backup since ${last.toISOString().slice(0, 16).replace("T", " ")} UTC (max age ${maxAgeHours} h)` };
    },
  };
  return check;
}

/** Payouts paused for longer than the reminder: an incident whose reminders repeat at that interval. */
export function payoutsPaused(ctx: CheckContext, states: PayoutsStates, reminderMinutes: number, intervalMs: number): PolledCheck {
  const every = reminderMinutes * 60_000;
  return {
    key: { target: ctx.target, source: "payouts", subject: "paused" },
    intervalMs,
    policy: { failuresBeforeAlert: 1, successesBeforeRecovery: 1, remindEveryMs: every },
    async run() {
      const s = await states.get(ctx.target);
      if (!s || !s.paused) return { status: "ok" };
      const pausedFor = ctx.clock.now().getTime() - s.since.getTime();
      if (pausedFor < every) return { status: "ok" };
      const by = s.byName ? ` by @${s.byName}` : "";
      const why = s.reason ? `: ${s.reason}` : "";
      return { status: "failed", error: `payouts paused since ${s.since.toISOString().slice(0, 16).replace("T", " ")} UTC${by}${why} (over ${formatDuration(every)})` };
    },
  };
}
