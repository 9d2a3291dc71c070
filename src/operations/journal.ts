import type { Actor, AuditEventInput, AuditLog, AuditOutcome, Clock, JournalingAuditLog } from "../shared/ports.js";
import { plainText } from "../shared/rich-text.js";
import type { RunOutcome } from "./context.js";
import type { OperationRecord, OperationsRepo, OpsLogger } from "./model.js";
import type { FrozenTarget } from "./reporter.js";
import type { StepFailure, StepRecord } from "./steps.js";

/** The audit log with bounded retries and the local journal, when the wiring provides one. */
export function journaling(audit: AuditLog): JournalingAuditLog | null {
  const j = audit as Partial<JournalingAuditLog>;
  return typeof j.appendRetrying === "function" && typeof j.appendOrJournal === "function" ? (audit as JournalingAuditLog) : null;
}

/** Audit-row fields for an operation, as `actor` (null: opsgram itself). */
export function auditFor(op: OperationRecord, actor: Actor | null, outcome: AuditOutcome, detail: unknown, action: string = op.kind) {
  return {
    chatId: actor?.chatId ?? op.chatId,
    userId: actor?.userId ?? null,
    username: actor ? actor.username : "opsgram",
    action,
    target: op.target,
    args: op.args ?? null,
    outcome,
    operationId: op.id,
    detail,
  };
}

/** What the run left behind, for the final row. */
export interface RunEnd {
  outcome: RunOutcome;
  steps: readonly StepRecord[];
  failure: StepFailure | null;
  durationMs: number;
  /** The target was left frozen. */
  frozen?: FrozenTarget | null;
}

/**
 * The written record of one run: each status transition and its audit row are one call here
 * (no audit, no action: `started` is committed before the first command that changes the target).
 */
export class OperationJournal {
  constructor(
    private readonly deps: { repos: { operations: OperationsRepo }; audit: AuditLog; clock: Clock; log: OpsLogger },
    private readonly confirmedBy: Actor,
  ) {}

  /**
   * confirmed/requested → running with its `started` row. Null when it must not run: the row
   * moved on already, or the audit row could not be written (then it ends as failed).
   */
  async begin(op: OperationRecord, startedAt: Date): Promise<{ op: OperationRecord } | { op: null; auditFailed: boolean }> {
    const { repos, audit, clock, log } = this.deps;
    const running = await repos.operations.transition(op.id, ["confirmed", "requested"], "running", { startedAt, heartbeatAt: startedAt });
    if (!running) return { op: null, auditFailed: false };
    try {
      await audit.append(auditFor(running, this.confirmedBy, "started", { confirmedBy: this.confirmedBy.username }));
      return { op: running };
    } catch (err) {
      log.error({ err, operationId: op.id }, "could not write the started audit row; not running");
      await repos.operations.transition(op.id, ["running"], "failed", { finishedAt: clock.now(), error: "audit log unavailable" }).catch(() => null);
      return { op: null, auditFailed: true };
    }
  }

  /** An audit row about the running operation (a step, a rollback decision). */
  async record(op: OperationRecord, outcome: AuditOutcome, detail: unknown, action: string = op.kind): Promise<void> {
    await this.deps.audit.append(auditFor(op, this.confirmedBy, outcome, detail, action));
  }

  /**
   * The row of a finished step. Its remote work already happened, so a failed write is retried
   * (bounded) before the step counts as failed. A rollback step never waits on the database: when
   * the retries run out, its row goes to the local journal (replayed once the database is back) and
   * the rollback goes on.
   */
  async recordStep(op: OperationRecord, step: StepRecord, action: string): Promise<void> {
    const event: AuditEventInput = auditFor(op, this.confirmedBy, "info", { step }, action);
    const audit = journaling(this.deps.audit);
    if (!audit) {
      await this.deps.audit.append(event);
      return;
    }
    try {
      await audit.appendRetrying(event);
    } catch (err) {
      if (!step.id.startsWith("rollback-") && step.id !== "restore") throw err;
      this.deps.log.error({ err, operationId: op.id, step: step.id }, "audit row of a rollback step went to the local journal");
      await audit.appendOrJournal(event);
    }
  }

  /**
   * running → final status with its audit row. Bookkeeping may fail (the database went away
   * mid-deploy): that is logged, the row stays `running`, and restart recovery marks it interrupted.
   */
  async end(op: OperationRecord, end: RunEnd, redact: (text: string) => string): Promise<OperationRecord | null> {
    const { repos, audit, clock, log } = this.deps;
    const { outcome, failure, durationMs } = end;
    let final: OperationRecord | null = null;
    try {
      final = await repos.operations.transition(op.id, ["running"], outcome.status, {
        finishedAt: clock.now(),
        result: { ...outcome.result, steps: end.steps.length ? end.steps : undefined, durationMs },
        error: outcome.status === "succeeded" ? null : failure ? `${failure.title}: ${failure.message}` : plainText(outcome.summary),
      });
    } catch (err) {
      log.error({ err, operationId: op.id }, "could not record the operation's final status");
    }
    try {
      await audit.append(
        auditFor(op, this.confirmedBy, outcome.status, {
          durationMs,
          summary: plainText(outcome.summary),
          failedStep: failure?.id,
          error: failure ? redact(failure.message) : undefined,
          frozen: end.frozen ? { version: end.frozen.version, reason: end.frozen.reason } : undefined,
        }),
      );
    } catch (err) {
      log.error({ err, operationId: op.id }, "could not write the final audit row");
    }
    return final;
  }
}
