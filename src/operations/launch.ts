import type { OperationDefinition, OperationsDeps, TargetHandle } from "./context.js";
import type { HeldLock, TargetLocks } from "./lock.js";
import type { LockRecord, OperationKind, OperationRecord } from "./model.js";
import { runOperation, type RunResult } from "./runner.js";
import { lookupTarget } from "./targets.js";
import type { Actor } from "../shared/ports.js";

/**
 * Decides, inside the hold on the target, whether the operation really runs (a confirmation is
 * claimed there, so two presses cannot both pass). `answer` goes back to whoever asked.
 */
export type Admission<A> = { run: OperationRecord; confirmedBy: Actor; answer: A } | { run: null; answer: A };

export type StartResult<A> =
  /** Someone else holds the target; nothing was admitted. */
  | { status: "held"; lock: LockRecord }
  /** `done` settles when the operation (if admitted) has finished and its result was reported. */
  | { status: "admitted"; answer: A; done: Promise<OperationRecord> };

/**
 * Starts operations in the background, each inside `withLock` (when its kind takes the lock), and
 * keeps track of them until they end. The lock is released before the final report is sent.
 */
export class OperationLauncher {
  private readonly running = new Set<Promise<OperationRecord>>();
  /** Handed to every run; stop() lets runs finish on purpose, so nothing in the process aborts it today. */
  private readonly abort = new AbortController();

  constructor(
    private readonly deps: OperationsDeps,
    private readonly locks: TargetLocks,
    private readonly definitionOf: (kind: OperationKind) => OperationDefinition,
  ) {}

  /** Resolves once admission is decided; the run goes on in the background. Rejects when `admit` throws. */
  start<A>(op: OperationRecord, lockReason: string, admit: () => Promise<Admission<A>>): Promise<StartResult<A>> {
    const definition = this.definitionOf(op.kind);
    let decide!: (result: StartResult<A>) => void;
    const decided = new Promise<StartResult<A>>((resolve) => (decide = resolve));
    // Set by the body when the run ends; read after the lock is released.
    const outcome: { finished: RunResult | null } = { finished: null };

    const body = async (held: HeldLock | null): Promise<void> => {
      const admission = await admit();
      decide({ status: "admitted", answer: admission.answer, done });
      if (!admission.run) return;
      const target = lookupTarget(this.deps, op.target);
      if (!target) {
        await this.deps.repos.operations.transition(op.id, ["confirmed", "requested"], "failed", { finishedAt: this.deps.clock.now(), error: `unknown target ${op.target}` });
        return;
      }
      outcome.finished = await this.run(definition, admission.run, admission.confirmedBy, target, held);
    };

    const work = (async () => {
      if (!definition.usesLock) return body(null);
      const request = { target: op.target, operationId: op.id, holderUserId: op.requestedBy, holderName: op.requestedByName, reason: lockReason };
      try {
        const locked = await this.locks.withLock(request, body);
        if (locked.status === "held") decide(locked);
      } catch (err) {
        // The run ended (it never throws) and only the release failed: the lock of a finished
        // operation counts as dead, so the next taker clears it. Report the run regardless.
        if (!outcome.finished) throw err;
        this.deps.log.error({ err, operationId: op.id }, "could not release the lock after the run");
      }
    })();

    const done: Promise<OperationRecord> = work.then(async () => {
      const result = outcome.finished;
      if (result?.report) await this.deps.reporter.finished(result.report.op, result.report.report);
      return result?.record ?? (await this.deps.repos.operations.get(op.id)) ?? op;
    });
    this.running.add(done);
    void done.finally(() => this.running.delete(done)).catch(() => {});
    // Before admission, a failure is the asker's to see (the press answers with an error).
    return Promise.race([decided, work.then(() => decided)]);
  }

  /** Operations started by this process that have not finished yet. */
  inFlight(): Promise<OperationRecord>[] {
    return [...this.running];
  }

  /** Waits for every operation this process started (tests; graceful stop). */
  async whenIdle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }


  private run(definition: OperationDefinition, op: OperationRecord, confirmedBy: Actor, target: TargetHandle, held: HeldLock | null): Promise<RunResult> {
    return runOperation({ deps: this.deps, definition, op, target, confirmedBy, signal: this.abort.signal, ...(held ? { lease: held } : {}) });
  }
}
