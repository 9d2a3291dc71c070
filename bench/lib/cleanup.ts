/**
 * Everything a benchmark started, stopped in reverse order exactly once — on success, on an
 * exception, on Ctrl-C/SIGTERM, or when the run overstays its time limit.
 */
export class Cleanup {
  private readonly steps: { name: string; run: () => unknown }[] = [];
  private running: Promise<void> | undefined;

  /** Registers a step; returns a function that runs that step now (and only once). */
  add(name: string, run: () => unknown): () => Promise<void> {
    const step = { name, run };
    this.steps.push(step);
    return async () => {
      const index = this.steps.indexOf(step);
      if (index === -1) return;
      this.steps.splice(index, 1);
      await runStep(step);
    };
  }

  /** Runs every remaining step, newest first; a failing step is reported and the rest still run. */
  runAll(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) await runStep(this.steps.pop()!);
    })();
    return this.running;
  }

  /**
   * Cleans up and exits on SIGINT/SIGTERM, on an uncaught exception or unhandled rejection, and
   * after `limitMs` whatever the benchmark is doing.
   * Returns a function that disarms the time limit.
   */
  armExits(limitMs: number): () => void {
    const bail = (why: string, code: number) => {
      process.stderr.write(`\nbench: ${why}; cleaning up\n`);
      void this.runAll().finally(() => process.exit(code));
    };
    process.once("SIGINT", () => bail("interrupted", 130));
    process.once("SIGTERM", () => bail("terminated", 143));
    // A stray rejection (e.g. a query cut off by cleanup itself) must not kill the process before
    // the remaining steps have run: report it and clean up instead.
    process.on("uncaughtException", (err) => bail(`uncaught exception: ${err.stack ?? String(err)}`, 1));
    process.on("unhandledRejection", (reason) => bail(`unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}`, 1));
    const timer = setTimeout(() => bail(`time limit of ${limitMs / 1000} s reached`, 1), limitMs);
    return () => clearTimeout(timer);
  }
}

async function runStep(step: { name: string; run: () => unknown }): Promise<void> {
  try {
    await step.run();
  } catch (err) {
    process.stderr.write(`bench: cleanup step "${step.name}" failed: ${(err as Error).message}\n`);
  }
}

/** Runs a benchmark's main, always disarms and cleans up, and exits 0, or 1 with the error. */
export async function runAndExit(main: () => Promise<void>, cleanup: Cleanup, disarm: () => void): Promise<never> {
  let exitCode = 0;
  try {
    await main();
  } catch (err) {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    exitCode = 1;
  } finally {
    disarm();
    await cleanup.runAll();
  }
  process.exit(exitCode);
}
