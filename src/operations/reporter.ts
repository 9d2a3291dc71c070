import type { Actor, SentMessage } from "../shared/ports.js";
import type { RichText } from "../shared/rich-text.js";
import type { OperationRecord } from "./model.js";
import type { StepFailure, StepView } from "./steps.js";

/** What an executor reports when it is done. `summary` is the final line, without markup. */
export interface RunOutcome {
  status: "succeeded" | "rolled_back" | "failed";
  summary: RichText;
  /** After the duration on the same line: " · safety backup /b/prod-….dump". */
  suffix?: RichText;
  /** The very last line, after any failure output: how to get back ("/restore → pick …"). */
  footer?: RichText;
  result?: Record<string, unknown>;
  /** What the operation printed for the person who asked (`/run`), already masked: in the message, or as a file when long. */
  output?: { filename: string; text: string };
  /**
   * The target must stay frozen after this run (a failed rollback, a link lost during `up`, a lost
   * lease): why, in words. The runner turns its lock into a freeze instead of releasing it.
   */
  freeze?: string;
}

/** A target left frozen by a run, as the chat shows it under an [Unlock] button. */
export interface FrozenTarget {
  target: string;
  /** The freeze's version: the [Unlock] button lifts this freeze and no later one. */
  version: number;
  reason: string;
  /** What is live now, re-read after the run, or why it could not be read. */
  state: InterruptedReport["state"];
}

/** Where the operation stands while it runs: the steps and a live note ("health: HTTP 502, attempt 4"). */
export interface ProgressSnapshot {
  steps: readonly StepView[];
  note: string | null;
  /** Who confirmed (the requester for operations without confirmation). */
  confirmedBy: Actor;
}

/** How it ended. `failure.output` is already masked and may be long (bot/ sends it as a file). */
export interface FinalReport extends ProgressSnapshot {
  outcome: RunOutcome;
  durationMs: number;
  failure: StepFailure | null;
  /** Set when the run left the target frozen. */
  frozen?: FrozenTarget | null;
}

/** What recovery found for an operation a restart cut off. */
export interface InterruptedReport {
  state: { ok: true; headSha: string; containers: string } | { ok: false; error: string };
  lock: "released" | "frozen" | "none";
  /** What was live before the deployment started, when there was one. */
  previousSha: string | null;
  /** The freeze left on the target (`lock: "frozen"`): the [Unlock] button lifts this version. */
  freezeVersion?: number;
}

/**
 * The chat side of an operation's life, as typed events (bot/ renders them; operations never see a
 * message format). The operation's plan is in `op.plan`. Implementations never throw into the
 * work: the operation must not depend on the chat being up.
 */
export interface OperationReporter {
  /** A plan waits for confirmation; returns where it was shown (stored on the operation). */
  planned(op: OperationRecord, info: { requester: Actor; expiresInSeconds: number; fourEyes: boolean }): Promise<SentMessage | null>;
  /** An operation without confirmation is about to start. */
  starting(op: OperationRecord): Promise<SentMessage | null>;
  cancelled(op: OperationRecord, by: Actor): Promise<void>;
  expired(op: OperationRecord): Promise<void>;
  /** Confirmed, but the `started` audit row could not be written: nothing ran. */
  notStarted(op: OperationRecord): Promise<void>;
  /** Steps changed; may be called often (the chat side paces its edits). */
  progress(op: OperationRecord, snapshot: ProgressSnapshot): void;
  /** The final word; shown at once, not paced. */
  finished(op: OperationRecord, report: FinalReport): Promise<void>;
  interrupted(op: OperationRecord, report: InterruptedReport): Promise<void>;
}
