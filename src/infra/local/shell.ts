import { spawn } from "node:child_process";
import { ENV_NAME, flockArgv, loggableProgram, shellArgv } from "../../commands/exec-line.js";
import { toCommandLine } from "../../commands/quote.js";
import type { ExecOptions, ExecResult, RemoteShell } from "../../shared/ports.js";
import type { Logger } from "../logger.js";
import { DEFAULT_MAX_OUTPUT_BYTES, OutputCapture } from "../ssh/output.js";

/** Default TERM → KILL grace for the process group, as `timeout -k 5` does remotely. */
const KILL_AFTER_MS = 5000;
/** After KILL, how long to wait for the pipes to close (a process that left the group may hold them). */
const CLOSE_GRACE_MS = 1000;

/**
 * Variables passed through from the bot's own environment. Everything else — the bot token, the
 * database URL — stays out of commands on purpose: `host: local` runs on the same machine, but
 * operator commands have no business seeing the bot's secrets.
 */
const PASSED_ENV = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|TZ|TMPDIR|TERM|LC_[A-Z]+|DOCKER_[A-Z_]+|COMPOSE_[A-Z_]+|XDG_RUNTIME_DIR|SSH_AUTH_SOCK)$/;

export interface LocalShellOptions {
  /** Environment every command gets on top of the pass-through list (e.g. DOCKER_HOST). */
  env?: Record<string, string>;
  /** Grace between TERM and KILL of a timed-out command's process group. Default 5000. */
  killAfterMs?: number;
  log?: Logger;
}

function baseEnvironment(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (PASSED_ENV.test(name) && value !== undefined) env[name] = value;
  return { ...env, ...extra };
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Group already gone.
  }
}

/**
 * {@link RemoteShell} for `host: local`: the bot runs on the server itself. Each command is
 * `sh -c` in its own process group (so the timeout kills background children too), with the same
 * `cd`-guard and quoting as over SSH.
 */
export class LocalShell implements RemoteShell {
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: Logger | undefined;
  private readonly running = new Set<number>();
  private readonly killAfterMs: number;

  constructor(options: LocalShellOptions = {}) {
    this.env = baseEnvironment(options.env);
    this.killAfterMs = options.killAfterMs ?? KILL_AFTER_MS;
    this.log = options.log;
  }

  exec(argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    return this.run(toCommandLine(argv), options);
  }

  execTrusted(line: string, options: ExecOptions): Promise<ExecResult> {
    return this.run(line, options);
  }

  /** Nothing to disconnect; kills commands still running so none outlives the bot. */
  async close(): Promise<void> {
    for (const pid of this.running) killGroup(pid, "SIGKILL");
  }

  private async run(line: string, options: ExecOptions): Promise<ExecResult> {
    if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) throw new TypeError("timeoutMs must be a positive number");
    for (const name of Object.keys(options.env ?? {})) {
      if (!ENV_NAME.test(name)) throw new TypeError(`environment variable name ${JSON.stringify(name)} must match [A-Z_][A-Z0-9_]*`);
    }
    const [program, ...args] = [...(options.lockFile !== undefined ? flockArgv(options.lockFile) : []), ...shellArgv(line, options.cwd)];
    this.log?.debug({ program: loggableProgram(line), chars: line.length, cwd: options.cwd }, "local exec");
    const started = Date.now();
    const capture = new OutputCapture(options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES, options.onOutput);

    return new Promise<ExecResult>((resolve, reject) => {
      const child = spawn(program as string, args, {
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...this.env, ...options.env },
      });
      let timedOut = false;
      let code: number | null = null;
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const pid = child.pid;
      if (pid !== undefined) this.running.add(pid);

      const finish = () => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        if (pid !== undefined) this.running.delete(pid);
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ code: timedOut ? null : code, ...capture.finish(), timedOut, durationMs: Date.now() - started });
      };

      child.stdout.on("data", (data: Buffer) => capture.push("stdout", data));
      child.stderr.on("data", (data: Buffer) => capture.push("stderr", data));
      child.on("error", (err) => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        reject(err);
      });
      child.on("exit", (exitCode) => {
        code = exitCode;
      });
      child.on("close", finish);

      timers.push(
        setTimeout(() => {
          timedOut = true;
          if (pid === undefined) return;
          killGroup(pid, "SIGTERM");
          timers.push(
            setTimeout(() => {
              killGroup(pid, "SIGKILL");
              timers.push(setTimeout(finish, CLOSE_GRACE_MS));
            }, this.killAfterMs),
          );
        }, options.timeoutMs),
      );
    });
  }
}
