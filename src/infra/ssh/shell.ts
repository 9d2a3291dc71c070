import type { Duplex } from "node:stream";
import type { Client } from "ssh2";
import { loggableProgram, remoteCommandLine } from "../../commands/exec-line.js";
import { toCommandLine } from "../../commands/quote.js";
import type { ExecOptions, ExecResult, RemoteShell } from "../../shared/ports.js";
import type { Logger } from "../logger.js";
import { SshChannelError, SshConnection, type SshTargetOptions } from "./connection.js";
import { SshDisconnectedError } from "./errors.js";
import { DEFAULT_MAX_OUTPUT_BYTES, OutputCapture } from "./output.js";

/**
 * The remote `timeout` gets the same deadline as the local timer (rounded up to whole seconds).
 * It must not trail it: OpenSSH refuses "signal" channel requests for root logins (no post-auth
 * privilege separation: "session signalling requires privilege separation"), so for root the
 * remote deadline is what actually stops the process group, and it should do so on time.
 */
const remoteDeadlineSeconds = (timeoutMs: number) => Math.ceil(timeoutMs / 1000);
/** Exit codes of GNU `timeout` when it killed the command (TERM, then KILL after -k). */
const TIMEOUT_EXIT_CODES = new Set([124, 137]);
/** TERM → KILL grace on the remote side (`timeout -k`). */
const KILL_AFTER_S = 5;
/**
 * After the local deadline: how long to wait for the channel to close by itself (the TERM we sent,
 * or the remote `timeout` firing moments later) before closing it ourselves.
 */
const STOP_GRACE_MS = 1500;
/** After closing the channel ourselves, how long to wait for the server to confirm. */
const CLOSE_GRACE_MS = 2000;

function checkTimeout(options: ExecOptions): void {
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) throw new TypeError("timeoutMs must be a positive number");
}

/**
 * {@link RemoteShell} over one pinned, pooled SSH connection.
 *
 * Every command runs as `exec timeout -s TERM -k 5 <secs> [env K=V…] sh -c …` in the login shell,
 * with `cd` guarding the working directory (commands/exec-line.ts). A local timer enforces
 * `timeoutMs`: it sends TERM over the channel (reaching `timeout`, which signals the whole process
 * group, background children included), then closes the channel.
 */
export class SshShell implements RemoteShell {
  readonly connection: SshConnection;
  private readonly log: Logger | undefined;

  constructor(options: SshTargetOptions) {
    this.connection = new SshConnection(options);
    this.log = options.log;
  }

  exec(argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    return this.run(toCommandLine(argv), options);
  }

  execTrusted(line: string, options: ExecOptions): Promise<ExecResult> {
    return this.run(line, options);
  }

  /** A stream to a Unix socket on the target over the same connection (the Docker socket). */
  forwardUnixSocket(remotePath: string): Promise<Duplex> {
    return this.connection.forwardUnixSocket(remotePath);
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  private async run(line: string, options: ExecOptions): Promise<ExecResult> {
    checkTimeout(options);
    const command = remoteCommandLine(line, {
      cwd: options.cwd,
      env: options.env,
      timeoutSeconds: remoteDeadlineSeconds(options.timeoutMs),
      killAfterSeconds: KILL_AFTER_S,
      lockFile: options.lockFile,
    });
    this.log?.debug(
      { host: this.connection.host, program: loggableProgram(line), chars: line.length, cwd: options.cwd, env: Object.keys(options.env ?? {}) },
      "ssh exec",
    );
    const result = await this.connection.withSession((client, drop) => this.runOnChannel(client, drop, command, options));
    this.log?.debug(
      { host: this.connection.host, code: result.code, timedOut: result.timedOut, ms: result.durationMs },
      "ssh exec finished",
    );
    return result;
  }

  private runOnChannel(client: Client, drop: () => void, command: string, options: ExecOptions): Promise<ExecResult> {
    const { host, port } = this.connection;
    return new Promise<ExecResult>((resolve, reject) => {
      // A channel open that never answers means the connection is broken: drop it so the open
      // fails (and is retried once on a fresh connection) instead of hanging.
      const openTimer = setTimeout(drop, this.connection.options.connectTimeoutMs);
      const onOpen = (err: Error | undefined, channel: import("ssh2").ClientChannel) => {
        clearTimeout(openTimer);
        if (err) return reject(new SshChannelError(host, port, err));
        const started = Date.now();
        const capture = new OutputCapture(options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES, options.onOutput);
        let code: number | null = null;
        let exited = false;
        let timedOut = false;
        let settled = false;
        const timers: NodeJS.Timeout[] = [];

        const finish = () => {
          if (settled) return;
          settled = true;
          for (const t of timers) clearTimeout(t);
          const output = capture.finish();
          if (!exited && !timedOut) {
            // Closed without an exit status: the connection died under the command.
            reject(new SshDisconnectedError(host, port));
            return;
          }
          const durationMs = Date.now() - started;
          // The remote deadline can beat the local timer by a few milliseconds.
          const remoteTimeout =
            code !== null && TIMEOUT_EXIT_CODES.has(code) && durationMs >= remoteDeadlineSeconds(options.timeoutMs) * 1000 - 250;
          timedOut ||= remoteTimeout;
          resolve({ code: timedOut ? null : code, ...output, timedOut, durationMs });
        };

        channel.on("data", (data: Buffer) => capture.push("stdout", data));
        channel.stderr.on("data", (data: Buffer) => capture.push("stderr", data));
        channel.on("exit", (exitCode: number | null) => {
          exited = true;
          code = typeof exitCode === "number" ? exitCode : null;
        });
        channel.on("error", () => undefined);
        channel.on("close", finish);

        timers.push(
          setTimeout(() => {
            timedOut = true;
            try {
              channel.signal("TERM");
            } catch {
              // Connection already gone: the remote deadline still kills the process group.
            }
            timers.push(
              setTimeout(() => {
                channel.close();
                timers.push(setTimeout(finish, CLOSE_GRACE_MS));
              }, STOP_GRACE_MS),
            );
          }, options.timeoutMs),
        );
      };
      try {
        client.exec(command, onOpen);
      } catch (err) {
        clearTimeout(openTimer);
        reject(new SshChannelError(host, port, err as Error));
      }
    });
  }
}
