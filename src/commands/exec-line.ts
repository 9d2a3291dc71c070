import { toCommandLine } from "./quote.js";

/**
 * How a command line is wrapped before it runs on a target: working directory, extra environment
 * and a remote-side deadline. Pure, so the exact wrapping is unit-tested and run under /bin/sh with
 * hostile input; the SSH and local shells both use it.
 */

/** Environment variable names a caller may set (ports.ts ExecOptions.env). */
export const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/**
 * Runs `$2` in directory `$1`, and only if `cd` worked. The line travels as an argument, never
 * pasted next to the `cd`, so `a; b` in it cannot escape the `&&` and nothing in it is parsed twice.
 */
const CD_THEN_RUN = 'cd -- "$1" && exec sh -c "$2"';

export interface WrapOptions {
  /** Directory to run in; the line does not run when it cannot `cd` there. */
  cwd?: string | undefined;
  /** Extra environment (names must match {@link ENV_NAME}). */
  env?: Readonly<Record<string, string>> | undefined;
  /**
   * Remote deadline in whole seconds: `timeout` sends TERM to the whole process group (background
   * children included), then KILL `killAfterSeconds` later. Omitted: no remote deadline.
   */
  timeoutSeconds?: number | undefined;
  /** Grace between TERM and KILL. Default 5. */
  killAfterSeconds?: number | undefined;
  /** Holds `flock` on this file while the command runs (see {@link targetLockFile}). */
  lockFile?: string | undefined;
}

/**
 * The file every command of an operation locks on the target, one per app directory:
 * `/tmp/opsgram-srv_app.lock` for `/srv/app`. On the target, not in the database, so two opsgram
 * processes — or a command a dead one left running — can never interleave there.
 */
export function targetLockFile(appDir: string): string {
  return `/tmp/opsgram-${appDir.replace(/^\/+/, "").replace(/[^A-Za-z0-9._-]/g, "_") || "root"}.lock`;
}

/**
 * `flock <file>` in front of a command: waits for the lock (the outer `timeout` bounds the wait)
 * and holds it for the command and every child it leaves behind (they inherit the descriptor).
 */
export function flockArgv(lockFile: string): string[] {
  if (!lockFile.startsWith("/") || lockFile.includes("\0")) throw new TypeError("lockFile must be an absolute path");
  return ["flock", lockFile];
}

function assertEnv(env: Readonly<Record<string, string>>): string[] {
  return Object.entries(env).map(([name, value]) => {
    if (!ENV_NAME.test(name)) throw new TypeError(`environment variable name ${JSON.stringify(name)} must match [A-Z_][A-Z0-9_]*`);
    return `${name}=${value}`;
  });
}

/**
 * The `sh -c` part: `["sh", "-c", line]`, or with a cwd
 * `["sh", "-c", 'cd -- "$1" && exec sh -c "$2"', "sh", cwd, line]`.
 */
export function shellArgv(line: string, cwd?: string): string[] {
  if (line.length === 0) throw new TypeError("empty command line");
  if (cwd === undefined) return ["sh", "-c", line];
  if (cwd.length === 0) throw new TypeError("empty cwd");
  return ["sh", "-c", CD_THEN_RUN, "sh", cwd, line];
}

/**
 * The full argument list for a remote command:
 * `timeout -s TERM -k 5 <secs> flock <file> env K=V … sh -c …` (each part only when asked for).
 */
export function wrapArgv(line: string, options: WrapOptions = {}): string[] {
  const argv: string[] = [];
  if (options.timeoutSeconds !== undefined) {
    const secs = options.timeoutSeconds;
    const kill = options.killAfterSeconds ?? 5;
    if (!Number.isInteger(secs) || secs < 1) throw new TypeError("timeoutSeconds must be a positive integer");
    if (!Number.isInteger(kill) || kill < 1) throw new TypeError("killAfterSeconds must be a positive integer");
    argv.push("timeout", "-s", "TERM", "-k", String(kill), String(secs));
  }
  if (options.lockFile !== undefined) argv.push(...flockArgv(options.lockFile));
  const assignments = options.env ? assertEnv(options.env) : [];
  if (assignments.length > 0) argv.push("env", ...assignments);
  argv.push(...shellArgv(line, options.cwd));
  return argv;
}

/**
 * The string handed to the remote login shell. `exec` replaces that shell with `timeout`, so a
 * signal sent over the SSH channel reaches `timeout`, which passes it to the whole process group.
 */
export function remoteCommandLine(line: string, options: WrapOptions = {}): string {
  return `exec ${toCommandLine(wrapArgv(line, options))}`;
}

/**
 * The first word of a command line, for logs: the program, never an argument or an inline
 * `NAME=value` assignment (operator lines such as `PGPASSWORD=… ./migrate` may carry secrets).
 */
export function loggableProgram(line: string): string {
  const first = line.trimStart().split(/\s/, 1)[0] ?? "";
  return first.includes("=") ? "(env assignment)" : first.slice(0, 64);
}
