import type { OperationDefinition, OperationsDeps, RunContext, RunOutcome, StoredPlan, TargetHandle } from "./context.js";
import { OperationJournal } from "./journal.js";
import type { OperationRecord } from "./model.js";
import type { FinalReport, ProgressSnapshot } from "./reporter.js";
import type { Actor } from "../shared/ports.js";
import { Steps } from "./steps.js";


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
  /** Keeps the hold on the target fresh (the lock's heartbeat); absent for operations without a lock. */
  heartbeat?: () => Promise<unknown>;
}

/** How a run ended: the row, and the final report to send once the lock is released. */
export interface RunResult {
  record: OperationRecord;
  report: { op: OperationRecord; report: FinalReport } | null;
}

/**
 * Runs a confirmed operation inside its lock: the journal records each transition with its audit
 * row and the steps report progress to the reporter. Never throws: every failure ends as a
 * `failed` operation. The caller holds the lock, releases it, then sends `report` (so whoever reads
 * ✅ finds the target free).
 */
export async function runOperation(options: RunOptions): Promise<RunResult> {
  const { deps, definition, op, target, confirmedBy, signal } = options;
  const { clock, log, reporter } = deps;
  const redact = deps.redact ?? ((t: string) => t);
  const journal = new OperationJournal(deps, confirmedBy);
  const startedAt = clock.now();

  const begun = await journal.begin(op, startedAt);
  if (!begun.op) {
    if (begun.auditFailed) await reporter.notStarted(op);
    return { record: (await deps.repos.operations.get(op.id)) ?? op, report: null };
  }
  const running = begun.op;

  let note: string | null = null;
  const snapshot = (): ProgressSnapshot => ({ steps: steps.views, note, confirmedBy });
  const steps: Steps = new Steps({
    shell: target.ports.shell,
    cwd: target.config.appDir,
    clock,
    signal,
    onChange: () => reporter.progress(running, snapshot()),
    onStepEnd: (record) => journal.record(running, "info", { step: record }, `${op.kind}.step`),
  });
  const ctx: RunContext = {
    op: running,
    plan: op.plan as StoredPlan,
    target,
    confirmedBy,
    steps,
    deps,
    signal,
    note(text) {
      note = text;
      reporter.progress(running, snapshot());
    },
    audit: (outcome, detail, action) => journal.record(running, outcome, detail, action ?? op.kind),
  };

  const stopHeartbeat = startHeartbeat(deps, op.id, options.heartbeat);
  // Our own container changes are not incidents; if the operation fails, it reports that itself.
  const change = definition.changesContainers ? deps.expected?.expect(op.target, [], clock.now().getTime() + EXPECTED_CHANGE_MAX_MS) : undefined;
  let outcome: RunOutcome;
  try {
    outcome = await definition.execute(ctx);
  } catch (err) {
    log.error({ err, operationId: op.id }, "operation failed");
    const message = err instanceof Error ? err.message : String(err);
    outcome = { status: "failed", summary: [`failed${steps.failure ? ` at ${steps.failure.title}` : ""}: ${redact(message)}`] };
  } finally {
    change?.end();
    stopHeartbeat();
  }

  const durationMs = clock.now().getTime() - startedAt.getTime();
  const failure = steps.failure ? { ...steps.failure, output: redact(steps.failure.output) } : null;
  const final = await journal.end(running, { outcome, steps: steps.records, failure, durationMs }, redact);
  const record = final ?? (await deps.repos.operations.get(op.id).catch(() => null)) ?? running;
  return { record, report: { op: running, report: { ...snapshot(), outcome, durationMs, failure } } };
}

/** Beats the operation's row (and its lock) until stopped; a failed beat is logged, not fatal. */
function startHeartbeat(deps: OperationsDeps, operationId: string, lockBeat: (() => Promise<unknown>) | undefined): () => void {
  const timer = setInterval(() => {
    void Promise.all([lockBeat?.(), deps.repos.operations.heartbeat(operationId, deps.clock.now())]).catch((err: unknown) =>
      deps.log.warn({ err, operationId }, "heartbeat failed"),
    );
  }, HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
