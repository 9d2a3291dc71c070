import { toCommandLine } from "../commands/quote.js";
import { StepFailedError } from "./errors.js";
import type { Clock, ExecOptions, ExecResult, RemoteShell } from "../shared/ports.js";

/** Bytes of output kept per step for the failure document. */
const MAX_STEP_OUTPUT = 2 * 1024 * 1024;

export type StepState = "pending" | "running" | "done" | "failed" | "skipped";

/** One step as the progress line shows it. */
export interface StepView {
  title: string;
  state: StepState;
  /** Shown instead of the title once done, e.g. "backup 12.3 MB", "healthy in 4.2 s". */
  summary?: string | undefined;
}

/** How a step ended, for the audit row and the operation's result. */
export interface StepRecord {
  id: string;
  title: string;
  ok: boolean;
  summary?: string | undefined;
  durationMs: number;
  error?: string | undefined;
}

/** Runs commands for one step and keeps everything they print. */
export class StepIO {
  private chunks: string[] = [];
  private size = 0;

  constructor(
    private readonly shell: RemoteShell,
    private readonly defaults: { cwd: string; timeoutMs: number; signal?: AbortSignal | undefined },
  ) {}

  /** The output so far, commands included (`$ git fetch …`). */
  get output(): string {
    return this.chunks.join("");
  }

  /** Appends a line of our own to the step output. */
  note(line: string): void {
    this.append(`${line}\n`);
  }

  /**
   * Runs a built argv in the app dir (unless `cwd` says otherwise). A non-zero exit, a timeout or a
   * kill throws {@link StepFailedError}; pass `allowFailure` to inspect the result instead.
   */
  async exec(argv: readonly string[], options: Partial<ExecOptions> & { allowFailure?: boolean } = {}): Promise<ExecResult> {
    this.append(`$ ${toCommandLine(argv)}\n`);
    return this.finish(await this.shell.exec(argv, this.options(options)), options.allowFailure, argv.slice(0, 3).join(" "));
  }

  /**
   * Runs an operator-written line from opsgram.yml. `label` is what the output and errors show
   * instead of the line itself, which may carry credentials.
   */
  async execTrusted(line: string, label: string, options: Partial<ExecOptions> & { allowFailure?: boolean } = {}): Promise<ExecResult> {
    this.append(`$ (${label} from opsgram.yml)\n`);
    return this.finish(await this.shell.execTrusted(line, this.options(options)), options.allowFailure, label);
  }

  private options(options: Partial<ExecOptions>): ExecOptions {
    this.defaults.signal?.throwIfAborted();
    return {
      cwd: options.cwd ?? this.defaults.cwd,
      timeoutMs: options.timeoutMs ?? this.defaults.timeoutMs,
      maxOutputBytes: options.maxOutputBytes ?? 1024 * 1024,
      ...(options.onOutput ? { onOutput: options.onOutput } : {}),
      ...(options.env ? { env: options.env } : {}),
    };
  }

  private finish(result: ExecResult, allowFailure: boolean | undefined, what: string): ExecResult {
    if (result.truncated) this.append("[output truncated: only the tail was kept]\n");
    this.append(result.stdout);
    if (result.stdout && !result.stdout.endsWith("\n")) this.append("\n");
    this.append(result.stderr);
    if (result.stderr && !result.stderr.endsWith("\n")) this.append("\n");
    if (result.timedOut) this.append(`[killed after ${Math.round(result.durationMs / 1000)} s: timeout]\n`);
    else if (result.code !== 0) this.append(`[exit ${result.code ?? "killed"}]\n`);
    if (!allowFailure && (result.code !== 0 || result.timedOut)) {
      const why = result.timedOut ? "timed out" : result.code === null ? "was killed" : `exited ${result.code}`;
      throw new StepFailedError(`${what} ${why}`, this.output);
    }
    return result;
  }

  private append(text: string): void {
    if (!text) return;
    this.chunks.push(text);
    this.size += text.length;
    while (this.size > MAX_STEP_OUTPUT && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
}

export interface StepsOptions {
  shell: RemoteShell;
  cwd: string;
  clock: Clock;
  signal?: AbortSignal;
  /** Called whenever a step changes state (progress message). */
  onChange: () => void;
  /**
   * Called before each step starts; a throw stops the run there (the lease check: an operation
   * that lost its lock changes nothing more). The step is not marked failed: it never began.
   */
  beforeStep?: () => Promise<void>;
  /** Called when a step ends (audit row). Awaited, so the row is committed before the next step. */
  onStepEnd: (record: StepRecord) => Promise<void>;
  /** Default per-command timeout. */
  timeoutMs?: number;
}

/** The failing step and everything it printed, for the ❌ message and the document. */
export interface StepFailure {
  id: string;
  title: string;
  message: string;
  output: string;
}

/**
 * The ordered steps of one operation: what the progress line shows and what the audit records.
 * Declare the expected steps up front (so the line shows what is still to come), then `run` each.
 */
export class Steps {
  readonly views: (StepView & { id: string })[] = [];
  readonly records: StepRecord[] = [];
  failure: StepFailure | null = null;

  constructor(private readonly options: StepsOptions) {}

  declare(steps: readonly { id: string; title: string }[]): void {
    for (const s of steps) if (!this.views.some((v) => v.id === s.id)) this.views.push({ ...s, state: "pending" });
    this.options.onChange();
  }

  /** Marks a declared step as not needed. */
  skip(id: string): void {
    const view = this.views.find((v) => v.id === id);
    if (view && view.state === "pending") {
      view.state = "skipped";
      this.options.onChange();
    }
  }

  /**
   * Runs one step. `fn` returns the done-summary ("backup 12.3 MB") and a value. A thrown error
   * marks the step failed, keeps its output as {@link failure}, and is rethrown.
   */
  async run<T = void>(id: string, title: string, fn: (io: StepIO) => Promise<{ summary?: string; value?: T } | void>): Promise<T> {
    await this.options.beforeStep?.();
    let view = this.views.find((v) => v.id === id);
    if (!view) {
      view = { id, title, state: "pending" };
      this.views.push(view);
    }
    view.title = title;
    view.state = "running";
    this.options.onChange();
    const io = new StepIO(this.options.shell, {
      cwd: this.options.cwd,
      timeoutMs: this.options.timeoutMs ?? 300_000,
      signal: this.options.signal,
    });
    const started = this.options.clock.now().getTime();
    try {
      const out = (await fn(io)) ?? {};
      view.state = "done";
      view.summary = out.summary;
      this.options.onChange();
      await this.ended({ id, title, ok: true, summary: out.summary, durationMs: this.options.clock.now().getTime() - started });
      return out.value as T;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      view.state = "failed";
      this.failure = { id, title, message, output: io.output || message };
      this.options.onChange();
      await this.ended({ id, title, ok: false, error: message, durationMs: this.options.clock.now().getTime() - started });
      throw err;
    }
  }

  /** Keeps the step's record (it ends up in the operation's result) and tells the listener. */
  private async ended(record: StepRecord): Promise<void> {
    this.records.push(record);
    await this.options.onStepEnd(record);
  }
}
