import type { OpsFile, TargetConfig } from "../config/file.js";
import type { OperationRepositories, OperationKind, OperationRecord, OpsLogger } from "./model.js";
import type { Actor, AuditLog, AuditOutcome, Clock, DockerApi, ExpectedChanges, RemoteShell } from "../shared/ports.js";
import type { OperationReporter, RunOutcome } from "./reporter.js";
import type { ProbeResult } from "./health-gate.js";
import type { Steps } from "./steps.js";

/** How operations reach one target: its shell and its Docker engine. */
export interface TargetPorts {
  shell: RemoteShell;
  docker: DockerApi;
}

/** The part of opsgram.yml operations read. */
export type OperationsConfig = Pick<OpsFile, "targets" | "confirmTimeoutSeconds" | "fourEyes">;

/** Everything the operations layer needs from the outside, handed in by main.ts. */
export interface OperationsDeps {
  repos: OperationRepositories;
  audit: AuditLog;
  /** Where plans, progress and results go (bot/ renders them into the chat). */
  reporter: OperationReporter;
  targets: Readonly<Record<string, TargetPorts>>;
  config: OperationsConfig;
  clock: Clock;
  log: OpsLogger;
  /** For health checks `from: bot`. Default: the global fetch. */
  fetch?: typeof fetch;
  /** Masks secrets in command output before it reaches chat (main passes the logger's redactText). */
  redact?: (text: string) => string;
  /** Told while an operation recreates containers, so our own changes raise no health alert. */
  expected?: ExpectedChanges;
}

/** A resolved target: its name, config and ports. */
export interface TargetHandle {
  name: string;
  config: TargetConfig;
  ports: TargetPorts;
}

/**
 * The plan stored with an operation (JSON in the operations row): what a confirm runs, and the
 * facts bot/ renders under the buttons. Dates inside `data` are ISO strings: it round-trips JSON.
 */
export interface StoredPlan<Data = unknown> {
  /** "🚀 Deploy main → prod" (plain text): names the operation in every message and answer. */
  title: string;
  /** What others see while it holds the lock: "deploy main". */
  lockReason: string;
  data: Data;
}

/** What planning produced: a plan to confirm, or a reason a human can act on. */
export type PlanOutcome<Data> = { status: "planned"; plan: StoredPlan<Data> } | { status: "refused"; reason: string };

/** What an executor reports when it is done (defined with the reporter, which carries it to the chat). */
export type { RunOutcome };

/** What an executor gets while it runs. */
export interface RunContext<Data = unknown> {
  op: OperationRecord;
  plan: StoredPlan<Data>;
  target: TargetHandle;
  /** Who confirmed (the requester for operations without confirmation). */
  confirmedBy: Actor;
  steps: Steps;
  deps: OperationsDeps;
  signal: AbortSignal;
  /** A live line under the steps ("health: HTTP 502, attempt 4"); null clears it. */
  note(text: string | null): void;
  /** An audit row for this operation (committed when the promise resolves). */
  audit(outcome: AuditOutcome, detail: Record<string, unknown>, action?: string): Promise<void>;
}

/** One kind of guarded operation. */
export interface OperationDefinition<Data = unknown> {
  kind: OperationKind;
  /** Takes the target lock while running (everything but the payout kill switch). */
  usesLock: boolean;
  /** Stops or recreates containers (deploy, rollback, scale): health alerts hold off meanwhile. */
  changesContainers?: boolean;
  execute(ctx: RunContext<Data>): Promise<RunOutcome>;
}

/** The probe result handed to progress notes. */
export type { ProbeResult };

/**
 * Registers a kind's executor for the runner, which holds plans of every kind. The one narrowing
 * of `plan.data` happens here: the plan was written by this kind's own planner.
 */
export function defineOperation<Data>(definition: OperationDefinition<Data>): OperationDefinition {
  return { ...definition, execute: (ctx) => definition.execute(ctx as RunContext<Data>) };
}
