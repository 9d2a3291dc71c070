/**
 * Git commands for a target's checkout, as argument lists (Kamal style): no I/O here. Run them with
 * `RemoteShell.exec(argv, { cwd: appDir, … })` — the cwd makes git work in the app's checkout and
 * keeps the command from running at all when the directory is missing.
 *
 * Refs and shas reaching these builders were validated (commands/validate.ts). As a second wall,
 * builders refuse a value that could be read as an option, and use `--end-of-options` where git
 * 2.39 supports it (fetch, rev-parse, log, describe; checkout does not).
 */

const SHA = /^[0-9a-f]{7,40}$/;
const REMOTE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function assertSha(sha: string): string {
  if (!SHA.test(sha)) throw new TypeError(`not a lower-case commit id: ${JSON.stringify(sha)}`);
  return sha;
}

function assertRemote(remote: string): string {
  if (!REMOTE.test(remote)) throw new TypeError(`not a plain remote name: ${JSON.stringify(remote)}`);
  return remote;
}

function assertNotOption(value: string, what: string): string {
  if (value.length === 0 || value.startsWith("-")) throw new TypeError(`${what} must not be empty or start with '-'`);
  return value;
}

/**
 * Fetches branches and tags from `remote`, forcing moved tags and pruning deleted branches.
 * The explicit refspec makes every remote branch land in `refs/remotes/<remote>/…` even in a
 * single-branch clone, so {@link refCandidates} can resolve any branch afterwards.
 */
export function gitFetch(remote: string): string[] {
  assertRemote(remote);
  return [
    "git",
    "fetch",
    "--prune",
    "--tags",
    "--force",
    "--end-of-options",
    remote,
    `+refs/heads/*:refs/remotes/${remote}/*`,
  ];
}

/**
 * Revisions to try, in order, when resolving a ref typed in chat after {@link gitFetch}: the fetched
 * branch, then the tag, then (when it looks like one) a commit id. Fully qualified names mean a
 * local branch or a stale ref of the same name can never win over what the remote has now.
 */
export function refCandidates(remote: string, ref: string): string[] {
  assertRemote(remote);
  assertNotOption(ref, "ref");
  const candidates = [`refs/remotes/${remote}/${ref}`, `refs/tags/${ref}`];
  if (SHA.test(ref)) candidates.push(ref);
  return candidates;
}

/**
 * Resolves a revision to the full commit id it names (`^{commit}` peels annotated tags). Exit code
 * 1 and empty output when it does not exist (`--quiet`), so "not found" is not an error message.
 */
export function gitRevParse(rev: string): string[] {
  assertNotOption(rev, "revision");
  return ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`];
}

/** Moves the checkout to exactly `sha` (detached), discarding local changes to tracked files. */
export function gitCheckoutDetached(sha: string): string[] {
  // checkout has no --end-of-options in git 2.39; the trailing `--` marks the sha as a revision.
  return ["git", "-c", "advice.detachedHead=false", "checkout", "--detach", "--force", assertSha(sha), "--"];
}

/** Commits in `to` that are not in `from`, newest first: `<short sha>\t<subject>` per line. */
export function gitLogBetween(from: string, to: string, maxCount = 20): string[] {
  assertSha(from);
  assertSha(to);
  if (!Number.isInteger(maxCount) || maxCount < 1) throw new TypeError("maxCount must be a positive integer");
  return ["git", "log", "--format=%h%x09%s", `--max-count=${maxCount}`, "--end-of-options", `${from}..${to}`];
}

/** The checked-out commit: `<full sha>\t<short sha>\t<subject>` on one line. */
export function gitHead(): string[] {
  return ["git", "log", "-1", "--format=%H%x09%h%x09%s", "--end-of-options", "HEAD"];
}

/** The tag pointing exactly at HEAD; exits non-zero (128) when there is none. */
export function gitDescribeExactTag(): string[] {
  return ["git", "describe", "--tags", "--exact-match", "--end-of-options", "HEAD"];
}

/** Local modifications to tracked files (empty output when clean). */
export function gitStatusPorcelain(): string[] {
  return ["git", "status", "--porcelain", "--untracked-files=no"];
}

/** One commit as {@link gitHead} prints it. */
export interface GitHead {
  sha: string;
  shortSha: string;
  subject: string;
}

/** Parses {@link gitHead} output; null when it is not what git prints. */
export function parseGitHead(stdout: string): GitHead | null {
  const line = stdout.trim().split("\n")[0] ?? "";
  const [sha, shortSha, ...subject] = line.split("\t");
  if (!sha || !/^[0-9a-f]{40}$/.test(sha) || !shortSha) return null;
  return { sha, shortSha, subject: subject.join("\t") };
}

/** One line of {@link gitLogBetween}. */
export interface GitLogEntry {
  shortSha: string;
  subject: string;
}

/** Parses {@link gitLogBetween} output, skipping anything that is not `<sha>\t<subject>`. */
export function parseGitLog(stdout: string): GitLogEntry[] {
  const entries: GitLogEntry[] = [];
  for (const line of stdout.split("\n")) {
    const tab = line.indexOf("\t");
    if (tab < 0) continue;
    const shortSha = line.slice(0, tab);
    if (!/^[0-9a-f]{4,40}$/.test(shortSha)) continue;
    entries.push({ shortSha, subject: line.slice(tab + 1) });
  }
  return entries;
}

/** Parses {@link gitRevParse} output: the full commit id, or null. */
export function parseRevParse(stdout: string): string | null {
  const sha = stdout.trim();
  return /^[0-9a-f]{40}$/.test(sha) ? sha : null;
}
