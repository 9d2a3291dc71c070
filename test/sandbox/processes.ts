import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";

/** A command that exited non-zero or timed out; carries its output so a failed start explains itself. */
export class CommandFailedError extends Error {
  override name = "CommandFailedError";
  constructor(
    readonly command: string,
    readonly exitCode: number | string | null,
    readonly stderr: string,
    readonly stdout: string,
  ) {
    super(`${command} failed (${exitCode ?? "killed"}): ${(stderr || stdout).trim().slice(-2000)}`);
  }
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
  /** Milliseconds before the command is SIGKILLed. */
  timeoutMs?: number;
}

/**
 * Runs a command to completion without a shell and returns its stdout. Async so independent
 * start steps overlap (the machine has 2 cores, most steps wait on I/O).
 */
export function run(cmd: string, args: string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        env: options.env ?? process.env,
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 60_000,
        killSignal: "SIGKILL",
        maxBuffer: 64 * 1024 * 1024,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        if (error) {
          const code = (error as NodeJS.ErrnoException & { code?: number | string }).code ?? null;
          reject(new CommandFailedError([cmd, ...args].join(" "), error.killed ? "timeout" : code, stderr, stdout));
        } else {
          resolve(stdout);
        }
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Like `run`, but resolves to whether it succeeded instead of throwing. */
export async function succeeds(cmd: string, args: string[], options: RunOptions = {}): Promise<boolean> {
  try {
    await run(cmd, args, options);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a long-running daemon in the foreground as our child (so we can always stop it), its
 * output appended to `logPath`. Unref'd: a sandbox someone forgot to stop does not hang Node.
 */
export function startDaemon(cmd: string, args: string[], logPath: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const log = openSync(logPath, "a");
  try {
    const child = spawn(cmd, args, { stdio: ["ignore", log, log], env: env ?? process.env });
    child.on("error", () => {
      // Reported through exitCode/pid checks by the caller's readiness wait; never crash the runner.
    });
    child.unref();
    return child;
  } finally {
    closeSync(log);
  }
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL; resolves once the child is reaped. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (hasExited(child)) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  if (await settlesWithin(exited, graceMs)) return;
  child.kill("SIGKILL");
  await settlesWithin(exited, 5_000);
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** True while `pid` is a live process (a zombie counts as gone: it runs nothing and holds nothing). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return statState(stat) !== "Z";
  } catch {
    return false;
  }
}

function statState(stat: string): string {
  // Format: "pid (comm) S ppid ..."; comm may itself contain ") ".
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] ?? "";
}

function statParent(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

function livePids(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

/** Live processes whose command line mentions `text` (e.g. the run dir: containerd, its shims). */
export function processesMentioning(text: string): number[] {
  return livePids().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text) && isAlive(pid);
    } catch {
      return false;
    }
  });
}

/** All live descendants of `root` (sshd's per-connection children outlive a killed master). */
export function descendantsOf(root: number): number[] {
  const parents = new Map<number, number>();
  for (const pid of livePids()) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (statState(stat) !== "Z") parents.set(pid, statParent(stat));
    } catch {
      // Exited while we looked.
    }
  }
  const found: number[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const current = frontier.pop()!;
    for (const [pid, parent] of parents) {
      if (parent === current && !found.includes(pid)) {
        found.push(pid);
        frontier.push(pid);
      }
    }
  }
  return found;
}

/** Sends SIGKILL to each pid, ignoring ones already gone. */
export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Waits until `pids` are all gone, up to `ms`; returns the ones still alive. */
export async function waitGone(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(50);
    alive = alive.filter(isAlive);
  }
  return alive;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `probe` until it returns a value other than undefined, or fails with the last error and
 * `describe()` (e.g. a log tail) after `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; describe?: () => string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : "";
      const detail = options.describe ? `\n${options.describe()}` : "";
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${reason}${detail}`);
    }
    await sleep(options.intervalMs ?? 100);
  }
}

/** The last `lines` lines of a log file, for error messages. */
export function logTail(path: string, lines = 20): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return `(no log at ${path})`;
  }
}
