import type { OperationsDeps } from "./context.js";
import type { TargetLocks } from "./lock.js";
import { auditFor } from "./journal.js";
import type { OperationKind } from "./model.js";
import { lookupTarget } from "./targets.js";
import { readLiveState } from "./target-state.js";

/** Kinds that change what runs: cut off half-way, their target stays frozen until a human looks. */
const CHANGES_TARGET: readonly OperationKind[] = ["deploy", "rollback", "scale"];

/** What recovery did with one interrupted operation. */
export interface RecoveredOperation {
  operationId: string;
  target: string;
  kind: string;
  /** The target's state as re-read, or why it could not be read. */
  state: { ok: true; headSha: string; containers: string } | { ok: false; error: string };
  /** released: the lock is free; frozen: kept as a freeze until a human /unlocks; none: it held no lock. */
  lock: "released" | "frozen" | "none";
  /** The freeze's version (the [Unlock] button is bound to it). */
  freezeVersion?: number;
}

/**
 * On start: operations still `confirmed`/`running` were cut off by a crash or restart. Each becomes
 * `interrupted` (audited), its deployment row too, and the target's real state — the checked-out
 * commit and the containers — is read again for the chat. The lock of an operation that changes
 * what runs (deploy, rollback, scale) becomes a freeze: its build or `up` may still be running on
 * the target, and a human decides when it is safe ([Unlock], with a Confirm). Other locks (a
 * backup) are released once the target was re-read and the dead holder's heartbeat is stale.
 */
export async function recoverInterrupted(deps: OperationsDeps, locks: TargetLocks): Promise<RecoveredOperation[]> {
  const { repos, clock, log } = deps;
  const report: RecoveredOperation[] = [];

  // A plan cut off while being made never reached a button: close it.
  for (const op of await repos.operations.listByStatus(["requested"])) {
    const failed = await repos.operations.transition(op.id, ["requested"], "failed", { finishedAt: clock.now(), error: "interrupted while planning" });
    if (failed) await deps.audit.append(auditFor(failed, null, "failed", { phase: "plan", reason: "opsgram restarted while planning" }));
  }

  for (const op of await repos.operations.listByStatus(["confirmed", "running"])) {
    const interrupted = await repos.operations.transition(op.id, ["confirmed", "running"], "interrupted", {
      finishedAt: clock.now(),
      error: "opsgram stopped while this was running",
    });
    if (!interrupted) continue;
    await deps.audit.append(auditFor(interrupted, null, "interrupted", { was: op.status, startedAt: op.startedAt?.toISOString() ?? null }));
    const deployment = await repos.deployments.byOperation(op.id);
    if (deployment && deployment.status === "running") await repos.deployments.finish(deployment.id, "interrupted", clock.now());

    const target = lookupTarget(deps, op.target);
    const state = target ? await readLiveState(target, deps) : ({ ok: false, error: `target ${op.target} is no longer configured` } as const);
    let lockOutcome: RecoveredOperation["lock"] = "none";
    let freezeVersion: number | undefined;
    const lock = await repos.locks.get(op.target);
    if (lock && lock.operationId === op.id) {
      if (CHANGES_TARGET.includes(op.kind) || !state.ok) {
        const why = state.ok ? `interrupted ${op.kind}: its commands may still be running on the target` : `interrupted ${op.kind}: state could not be re-read (${state.error})`;
        const frozen = await locks.convertToFreeze(lock, why);
        if (frozen) {
          lockOutcome = "frozen";
          freezeVersion = frozen.version;
        }
      } else if (await locks.releaseDead(lock)) {
        // A heartbeat still fresh by the database's clock is left to go stale; the next taker clears it then.
        lockOutcome = "released";
      }
    }
    await deps.audit.append(auditFor(interrupted, null, "info", { recovery: { state, lock: lockOutcome, freezeVersion } }));
    log.warn({ operationId: op.id, target: op.target, state, lock: lockOutcome }, "operation interrupted by a restart");
    await deps.reporter.interrupted(interrupted, { state, lock: lockOutcome, previousSha: deployment?.previousSha ?? null, ...(freezeVersion !== undefined ? { freezeVersion } : {}) });
    report.push({ operationId: op.id, target: op.target, kind: op.kind, state, lock: lockOutcome, ...(freezeVersion !== undefined ? { freezeVersion } : {}) });
  }
  return report;
}
