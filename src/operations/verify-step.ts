import { formatDuration } from "../shared/format.js";
import type { RunContext } from "./context.js";
import { StepFailedError } from "./errors.js";
import { waitUntilHealthy, type Probe } from "./health-gate.js";

export interface VerifyStepOptions {
  timeoutMs: number;
  /** The step's failure line, given how long it waited and the probe's last word. */
  failed(elapsed: string, detail: string): string;
  /** The step's summary once the probe is satisfied. */
  summary: string;
}

/**
 * The "verify" step after a change to containers (/scale, /restart): asks `probe` every second
 * until it is satisfied or the deadline passes, noting each attempt in the step's output and the
 * live progress line. Returns the probe's last detail.
 */
export async function verifyStep(ctx: RunContext, probe: Probe, options: VerifyStepOptions): Promise<string> {
  return ctx.steps.run<string>("verify", "verify", async (io) => {
    const result = await waitUntilHealthy(probe, {
      timeoutMs: options.timeoutMs,
      intervalMs: 1_000,
      clock: ctx.deps.clock,
      signal: ctx.signal,
      onAttempt: (r, attempt) => {
        io.note(`attempt ${attempt}: ${r.detail}`);
        ctx.note(`verify: ${r.detail}`);
      },
    });
    ctx.note(null);
    if (result.status === "unhealthy") throw new StepFailedError(options.failed(formatDuration(result.elapsedMs), result.detail), io.output);
    return { summary: options.summary, value: result.detail };
  });
}
