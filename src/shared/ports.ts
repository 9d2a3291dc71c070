/**
 * The ports that operations depend on. Operations know no grammY, ssh2 or SQL: they get these
 * small interfaces, which infra/ implements for real and unit tests fake.
 */

/** Result of one remote command. `code` is null when the process was killed (timeout, signal). */
export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The wall-clock timeout fired; the remote process was killed. */
  timedOut: boolean;
  /** Output went over the cap; the kept part is the tail. */
  truncated: boolean;
  durationMs: number;
}

export interface ExecOptions {
  /** Directory to run in. The command does not run when it cannot `cd` there. */
  cwd?: string;
  /** Wall-clock limit; the remote process is killed when it passes. */
  timeoutMs: number;
  /** Bytes of stdout+stderr kept (the tail). Default 1 MiB. */
  maxOutputBytes?: number;
  /** Streamed output, as it arrives. */
  onOutput?: (chunk: string, stream: "stdout" | "stderr") => void;
  /** Extra environment for the command (names must be [A-Z_][A-Z0-9_]*). */
  env?: Record<string, string>;
  /**
   * Runs the command under `flock` on this file on the target: it waits (within its timeout) while
   * any other command holding the file runs, including one left behind by a dropped connection.
   */
  lockFile?: string;
}

/**
 * The connection to a target dropped while a command ran: the command's outcome is unknown and it
 * may still be running there. Adapters throw a subclass; operations only need to recognise it.
 */
export class LinkLostError extends Error {
  override name = "LinkLostError";
}

/**
 * Runs commands on a target. `exec` takes an argument list that is quoted once, in
 * commands/quote.ts; `execTrusted` runs an operator-written line from opsgram.yml as written.
 * Nothing typed in chat may ever reach `execTrusted`.
 */
export interface RemoteShell {
  exec(argv: readonly string[], options: ExecOptions): Promise<ExecResult>;
  execTrusted(line: string, options: ExecOptions): Promise<ExecResult>;
  /** Drops the connection (if any); the next exec reconnects. */
  close(): Promise<void>;
}

export type ContainerState = "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";
export type ContainerHealth = "healthy" | "unhealthy" | "starting" | "none";

export interface ContainerSummary {
  id: string;
  name: string;
  service: string;
  /** Compose's container-number label (1-based replica index). */
  number: number;
  state: ContainerState;
  health: ContainerHealth;
  image: string;
  startedAt: Date | null;
  exitCode: number | null;
  oomKilled: boolean;
}

export interface DockerEvent {
  /** die, oom, start, stop, kill, restart, health_status: healthy|unhealthy, create, destroy … */
  action: string;
  containerId: string;
  containerName: string;
  service: string | undefined;
  project: string | undefined;
  exitCode: number | undefined;
  time: Date;
}

export interface DockerApi {
  listContainers(project: string): Promise<ContainerSummary[]>;
  inspect(containerId: string): Promise<ContainerSummary>;
  /** Streams container events of a project until `stop()`; reconnects with backoff when the stream drops. */
  events(project: string, onEvent: (e: DockerEvent) => void, onError?: (err: Error) => void): { stop(): void };
  /** The last `tail` lines; `sinceSeconds` only lines newer than that; `timestamps` prefixes each with Docker's RFC 3339 time. */
  logs(containerId: string, tail: number, options?: { sinceSeconds?: number; timestamps?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export type AuditOutcome =
  | "requested"
  | "confirmed"
  | "started"
  | "succeeded"
  | "failed"
  | "rolled_back"
  | "cancelled"
  | "expired"
  | "denied"
  | "interrupted"
  | "info";

export interface AuditEventInput {
  chatId: number | null;
  userId: number | null;
  username: string | null;
  action: string;
  target: string | null;
  args: unknown;
  outcome: AuditOutcome;
  operationId: string | null;
  detail: unknown;
}

export interface AuditEvent extends AuditEventInput {
  id: number;
  createdAt: Date;
  prevHash: string;
  hash: string;
}

/** Append-only audit log. `append` resolves only once the row is committed. */
export interface AuditLog {
  append(event: AuditEventInput): Promise<AuditEvent>;
  recent(limit: number): Promise<AuditEvent[]>;
}

export interface Clock {
  now(): Date;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/** Who asked or pressed, as Telegram told us. Ids are up to 52 bits: safe as JS numbers. */
export interface Actor {
  chatId: number;
  userId: number;
  username: string | null;
}

export interface InlineButton {
  text: string;
  /** 1–64 bytes (Telegram's limit). */
  data: string;
}

export interface MessageOptions {
  /** Rows of inline buttons; an empty array removes the keyboard on edit. */
  buttons?: InlineButton[][];
  /** Send as HTML (callers escape with escapeHtml). Default plain text. */
  html?: boolean;
  /**
   * Skip the per-chat pacing gap (the request still waits its turn in the chat's order). For
   * callers that pace themselves, and for an operation's final word, which must not wait.
   */
  unpaced?: boolean;
}

export interface SentMessage {
  chatId: number;
  messageId: number;
}

/**
 * Talks to chats. Implemented over grammY's Api (with bounded retries) in infra/telegram; operations
 * and monitors never depend on the chat being up: a failed send is reported, not thrown into the work.
 */
export interface Notifier {
  send(chatId: number, text: string, options?: MessageOptions): Promise<SentMessage>;
  edit(message: SentMessage, text: string, options?: MessageOptions): Promise<void>;
  sendDocument(chatId: number, filename: string, content: string | Buffer, caption?: string): Promise<SentMessage>;
}

/**
 * How operations tell the health monitors "we are stopping/recreating containers of this target,
 * do not alert". Implemented by src/health (ExpectedChangeRegistry).
 */
export interface ExpectedChanges {
  /** Expects changes to `services` of `target` (every service when empty) until `untilMs` or `end()`. */
  expect(target: string, services: readonly string[], untilMs: number): { end(): void };
}

/** Where an audit event ended up: committed in the database, or in the local journal for later. */
export type JournaledAppend =
  | { stored: "database"; event: AuditEvent }
  /** The database could not take it; it is fsync'd in the journal and replayed, once, when it can. */
  | { stored: "journal"; entryId: string };

/**
 * The audit log for work that must go on while the database is down (the payouts kill switch) and
 * for writes that must not be lost after the remote work already happened.
 */
export interface JournalingAuditLog extends AuditLog {
  /** Appends to the database, or — when it is unreachable — to the local journal. */
  appendOrJournal(event: AuditEventInput): Promise<JournaledAppend>;
  /** Appends with bounded retries and backoff (for an audit write after the remote work succeeded). */
  appendRetrying(event: AuditEventInput): Promise<AuditEvent>;
}
