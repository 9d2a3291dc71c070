import {
  gitDescribeExactTag,
  gitFetch,
  gitHead,
  gitLogBetween,
  gitRevParse,
  parseGitHead,
  parseGitLog,
  parseRevParse,
  refCandidates,
  type GitHead,
  type GitLogEntry,
} from "../commands/git.js";
import type { TargetHandle } from "./context.js";
import { RefNotFoundError, TargetUnavailableError } from "./errors.js";
import { lastLines } from "../shared/format.js";
import type { ExecResult } from "../shared/ports.js";

/** Read-only git commands while planning: short timeouts, never the operator's lines. */
const READ_TIMEOUT_MS = 30_000;
const FETCH_TIMEOUT_MS = 120_000;
/** Commits listed in a plan; more are counted, not shown. */
export const MAX_PLAN_COMMITS = 10;

async function git(target: TargetHandle, argv: string[], timeoutMs = READ_TIMEOUT_MS): Promise<ExecResult> {
  return target.ports.shell.exec(argv, { cwd: target.config.appDir, timeoutMs, maxOutputBytes: 256 * 1024 });
}

function failure(result: ExecResult): string {
  if (result.timedOut) return "timed out";
  return lastLines(`${result.stderr}\n${result.stdout}`, 3) || `exit ${result.code ?? "killed"}`;
}

/** `git fetch` on the target; throws {@link TargetUnavailableError} with git's own words. */
export async function fetchRemote(target: TargetHandle): Promise<void> {
  const result = await git(target, gitFetch(target.config.deploy.remote), FETCH_TIMEOUT_MS);
  if (result.code !== 0) throw new TargetUnavailableError(target.name, `git fetch failed: ${failure(result)}`);
}

/** The full sha a (validated) ref names after a fetch: remote branch, then tag, then commit id. */
export async function resolveRef(target: TargetHandle, ref: string): Promise<string> {
  for (const candidate of refCandidates(target.config.deploy.remote, ref)) {
    const result = await git(target, gitRevParse(candidate));
    const sha = result.code === 0 ? parseRevParse(result.stdout) : null;
    if (sha) return sha;
  }
  throw new RefNotFoundError(ref, target.config.deploy.remote, target.name);
}

/** The full sha of a commit id that should already be in the target's repository, or null. */
export async function resolveCommit(target: TargetHandle, sha: string): Promise<string | null> {
  const result = await git(target, gitRevParse(sha));
  return result.code === 0 ? parseRevParse(result.stdout) : null;
}

/** What is checked out now. */
export async function readHead(target: TargetHandle): Promise<GitHead> {
  const result = await git(target, gitHead());
  const head = result.code === 0 ? parseGitHead(result.stdout) : null;
  if (!head) throw new TargetUnavailableError(target.name, `cannot read the checked-out commit in ${target.config.appDir}: ${failure(result)}`);
  return head;
}

/** The tag exactly at HEAD, or null. */
export async function readHeadTag(target: TargetHandle): Promise<string | null> {
  const result = await git(target, gitDescribeExactTag());
  const tag = result.stdout.trim();
  return result.code === 0 && tag ? tag : null;
}

/** Commits a plan lists: at most MAX_PLAN_COMMITS, and whether there were more. */
export interface CommitList {
  entries: GitLogEntry[];
  more: boolean;
}

/** Commits in `to` not in `from` (newest first), up to MAX_PLAN_COMMITS (one more is read to tell "more"). */
export async function commitsBetween(target: TargetHandle, from: string, to: string): Promise<CommitList> {
  if (from === to) return { entries: [], more: false };
  const result = await git(target, gitLogBetween(from, to, MAX_PLAN_COMMITS + 1));
  const entries = result.code === 0 ? parseGitLog(result.stdout) : [];
  return { entries: entries.slice(0, MAX_PLAN_COMMITS), more: entries.length > MAX_PLAN_COMMITS };
}
