import type { BackupRecord, LockRecord } from "./model.js";

/**
 * What the chat layer asks of operations, already split into fields (bot/ parses chat words).
 * Values still come from a person: operations validate every one of them against strict patterns
 * and the target's config before anything touches a target. `input` is the words as typed, kept
 * (bounded) in the audit row of a refusal.
 */
export interface TargetRequest {
  target: string;
  input: readonly string[];
}

export interface DeployRequest extends TargetRequest {
  ref: string;
}

/** Where /rollback goes: undo the last deployment, what deployment #id put live, or a commit. */
export type RollbackTarget = { kind: "last" } | { kind: "deployment"; id: number } | { kind: "sha"; sha: string };

export interface RollbackRequest extends TargetRequest {
  to: RollbackTarget;
}

export interface ScaleRequest extends TargetRequest {
  /** `/scale worker 3` is one change, `/scale api=2 worker=3` two. Counts as typed: validated as ASCII digits within each service's [min, max]. */
  changes: { service: string; replicas: string }[];
}

export interface RestartRequest extends TargetRequest {
  service: string;
}

export interface RunRequest extends TargetRequest {
  /** Null: list the target's commands. */
  name: string | null;
  /** The argument values as typed, in the order of the command's declared args. */
  args: string[];
}

export interface LogsRequest extends TargetRequest {
  /** One or several services (`api,worker`). */
  services: string[];
  /** The line count as typed, or undefined for the default. */
  lines: string | undefined;
  /** `since=15m` as typed (without `since=`). */
  since?: string | undefined;
  /** `grep=<regex>` as typed (without `grep=`). */
  grep?: string | undefined;
}

export interface ReasonRequest extends TargetRequest {
  /** Free text, already cleaned of control characters and bounded; null when none was given. */
  reason: string | null;
}

/** Nothing will happen; `reason` is plain text for the person who asked (already audited). */
export type Refused = { status: "refused"; reason: string };

/** The target is held (by an operation or a freeze); nothing happened. `at` is when that was seen. */
export type Busy = { status: "busy"; lock: LockRecord; at: Date; operationId?: string };

export type LockReply = { status: "frozen"; target: string; reason: string | null } | Busy | Refused;
export type UnlockReply =
  | { status: "unlocked"; target: string }
  | { status: "not-locked"; target: string }
  /** `fourEyes` lists unlock: someone other than `askedBy` must confirm it (bot/ offers the button). */
  | { status: "needs-second"; target: string; askedBy: number }
  | Busy
  | Refused;
export type BackupsReply = { status: "backups"; target: string; backups: BackupRecord[]; now: Date } | Refused;

/** What holds a target, as shown in a refusal. */
export type { LockRecord };
