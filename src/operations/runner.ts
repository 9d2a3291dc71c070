import { targetLockFile } from "../commands/exec-line.js";
import type { OperationDefinition, OperationsDeps, RunContext, RunOutcome, StoredPlan, TargetHandle } from "./context.js";
import { OperationJournal } from "./journal.js";
import { LeaseLostError, type HeldLock } from "./lock.js";
import type { OperationRecord } from "./model.js";
import type { FinalReport, FrozenTarget, ProgressSnapshot } from "./reporter.js";
import type { Actor, RemoteShell } from "../shared/ports.js";
import { Steps } from "./steps.js";
import { readLiveState } from "./target-state.js";

/** A running operation refreshes its lock and row this often. */
export const HEARTBEAT_INTERVAL_MS = 10_000;
/** Upper bound of an expected change, should an operation never end (the bot crashed mid-way). */
const EXPECTED_CHANGE_MAX_MS = 2 * 3_600_000;

export interface RunOptions {
  deps: OperationsDeps;
  definition: OperationDefinition;
  op: OperationRecord;
  target: TargetHandle;
  confirmedBy: Actor;
  signal: AbortSignal;
  /** The lease on the target (renewed by the heartbeat, checked before every step); absent for operations without a lock. */
  lease?: HeldLock;
  /** Heartbeat period; default {@link HEARTBEAT_INTERVAL_MS}. */
  heartbeatMs?: number;
}

/** How a run ended: the row, and the final report to send once the lock is released. */
export interface RunResult {
  record: OperationRecord;
  report: { op: OperationRecord; report: FinalReport } | null;
}

/**
 * Every remote command of a locked operation runs under `flock` on the target's lock file, so two
 * operations never interleave on the box — from two processes, or beside a command a dropped
 * connection left running (a second `up` waits for the first).
 */
function underTargetLock(shell: RemoteShell, lockFile: string): RemoteShell {
  return {
    exec: (argv, options) => shell.exec(argv, { ...options, lockFile }),
    execTrusted: (line, options) => shell.execTrusted(line, { ...options, lockFile }),
    close: () => shell.close(),
  };
}

/**
 * Runs a confirmed operation inside its lock: the journal records each transition with its audit
 * row and the steps report progress to the reporter. Never throws: every failure ends as a
 * `failed` operation. Before each step the lease is checked; one that was lost stops the run there.
 * The caller holds the lock, releases it, then sends `report` (so whoever reads ✅ finds the target
 * free — or frozen, when the run says it must stay so).
 */
export async function runOperation(options: RunOptions): Promise<RunResult> {
  const { deps, definition, op, confirmedBy, lease } = options;
  const { clock, log, reporter } = deps;
  const redact = deps.redact ?? ((t: string) => t);
  const journal = new OperationJournal(deps, confirmedBy);
  const startedAt = clock.now();
  // Aborted when the lease is lost: StepIO refuses to start another command after that.
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort(options.signal.reason);
  options.signal.addEventListener("abort", onOuterAbort, { once: true });
  const target: TargetHandle = lease
    ? { ...options.target, ports: { ...options.target.ports, shell: underTargetLock(options.target.ports.shell, targetLockFile(options.target.config.appDir)) } }
    : options.target;

  const begun = await journal.begin(op, startedAt);
  if (!begun.op) {
    options.signal.removeEventListener("abort", onOuterAbort);
    if (begun.auditFailed) await reporter.notStarted(op);
    return { record: (await deps.repos.operations.get(op.id)) ?? op, report: null };
  }
  const running = begun.op;

  let note: string | null = null;
  const snapshot = (): ProgressSnapshot => ({ steps: steps.views, note, confirmedBy });
  const checkLease = async () => {
    if (stop.signal.reason instanceof LeaseLostError) throw stop.signal.reason;
    try {
      await lease?.check();
    } catch (err) {
      if (err instanceof LeaseLostError) stop.abort(err);
      throw err;
    }
  };
  const steps: Steps = new Steps({
    shell: target.ports.shell,
    cwd: target.config.appDir,
    clock,
    signal: stop.signal,
    beforeStep: checkLease,
    onChange: () => reporter.progress(running, snapshot()),
    onStepEnd: (record) => journal.recordStep(running, record, `${op.kind}.step`),
  });
  const ctx: RunContext = {
    op: running,
    plan: op.plan as StoredPlan,
    target,
    confirmedBy,
    steps,
    deps,
    signal: stop.signal,
    note(text) {
      note = text;
      reporter.progress(running, snapshot());
    },
    audit: (outcome, detail, action) => journal.record(running, outcome, detail, action ?? op.kind),
  };

  const stopHeartbeat = startHeartbeat(deps, op.id, lease ? checkLease : undefined, options.heartbeatMs ?? HEARTBEAT_INTERVAL_MS);
  // Our own container changes are not incidents; if the operation fails, it reports that itself.
  const change = definition.changesContainers ? deps.expected?.expect(op.target, [], clock.now().getTime() + EXPECTED_CHANGE_MAX_MS) : undefined;
  let outcome: RunOutcome;
  try {
    outcome = await definition.execute(ctx);
  } catch (err) {
    const lost = err instanceof LeaseLostError ? err : stop.signal.reason instanceof LeaseLostError ? stop.signal.reason : null;
    if (lost) {
      log.error({ operationId: op.id, why: lost.why }, "operation stopped: it lost its lease");
      outcome = { status: "failed", summary: [`stopped${steps.failure ? ` at ${steps.failure.title}` : " before its next step"}: ${lost.message}`], freeze: `${op.kind} stopped: ${lost.why}` };
    } else {
      log.error({ err, operationId: op.id }, "operation failed");
      const message = err instanceof Error ? err.message : String(err);
      outcome = { status: "failed", summary: [`failed${steps.failure ? ` at ${steps.failure.title}` : ""}: ${redact(message)}`] };
    }
  } finally {
    change?.end();
    stopHeartbeat();
    options.signal.removeEventListener("abort", onOuterAbort);
  }

  const frozen = outcome.freeze && lease ? await freezeAfter(deps, lease, options.target, outcome.freeze) : null;
  const durationMs = clock.now().getTime() - startedAt.getTime();
  const failure = steps.failure ? { ...steps.failure, output: redact(steps.failure.output) } : null;
  const final = await journal.end(running, { outcome, steps: steps.records, failure, durationMs, frozen }, redact);
  const record = final ?? (await deps.repos.operations.get(op.id).catch(() => null)) ?? running;
  return { record, report: { op: running, report: { ...snapshot(), outcome, durationMs, failure, frozen } } };
}

/**
 * Keeps the target from the next operation: the lock becomes a freeze at the version this run
 * held (never someone else's lock), and what is live now is re-read for the chat.
 */
async function freezeAfter(deps: OperationsDeps, lease: HeldLock, target: TargetHandle, reason: string): Promise<FrozenTarget | null> {
  const frozen = await lease.freeze(reason).catch((err: unknown) => {
    deps.log.error({ err, target: target.name }, "could not freeze the target after the run");
    return null;
  });
  if (!frozen) return null;
  deps.log.warn({ target: target.name, reason }, "target frozen until a human unlocks it");
  return { target: target.name, version: frozen.version, reason, state: await readLiveState(target, deps) };
}

/**
 * Renews the lease and beats the operation's row until stopped. A lost lease aborts the run (via
 * `checkLease`); a failed row beat is logged, not fatal.
 */
function startHeartbeat(deps: OperationsDeps, operationId: string, checkLease: (() => Promise<void>) | undefined, everyMs: number): () => void {
  const timer = setInterval(() => {
    checkLease?.().catch((err: unknown) => deps.log.warn({ err, operationId }, "lease renewal failed"));
    deps.repos.operations.heartbeat(operationId, deps.clock.now()).catch((err: unknown) => deps.log.warn({ err, operationId }, "heartbeat failed"));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
