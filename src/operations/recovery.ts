import { redactText } from "../shared/redact.js";
import { composeProjectName } from "../commands/compose.js";
import type { OperationsDeps, TargetHandle } from "./context.js";
import { readHead } from "./git-state.js";
import { judgeContainers } from "./health-gate.js";
import type { TargetLocks } from "./lock.js";
import { auditFor } from "./journal.js";
import { lookupTarget } from "./targets.js";
import { withTimeout } from "./timeout.js";

/** How long recovery waits to re-read one target before keeping it frozen. */
export const RECOVERY_READ_TIMEOUT_MS = 20_000;

/** What recovery did with one interrupted operation. */
export interface RecoveredOperation {
  operationId: string;
  target: string;
  kind: string;
  /** The target's state as re-read, or why it could not be read. */
  state: { ok: true; headSha: string; containers: string } | { ok: false; error: string };
  /** released: the lock is free; frozen: kept as a freeze until a human /unlocks; none: it held no lock. */
  lock: "released" | "frozen" | "none";
}

/**
 * On start: operations still `confirmed`/`running` were cut off by a crash or restart. Each becomes
 * `interrupted` (audited), its deployment row too, the chat is told (the progress message is edited
 * and a new message posted), and its lock is released only after the target's real state — the
 * checked-out commit and the containers — has been read again. When the target cannot be read, the
 * lock turns into a freeze so nobody deploys blind onto a half-finished target.
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
    const state = target ? await readState(target, deps) : ({ ok: false, error: `target ${op.target} is no longer configured` } as const);
    let lockOutcome: RecoveredOperation["lock"] = "none";
    const lock = await repos.locks.get(op.target);
    if (lock && lock.operationId === op.id) {
      if (state.ok) {
        lockOutcome = (await locks.releaseDead(op.target, op.id)) ? "released" : "none";
      } else {
        const converted = await locks.convertToFreeze(lock, `interrupted ${op.kind}: state could not be re-read (${state.error})`);
        lockOutcome = converted ? "frozen" : "none";
      }
    }
    await deps.audit.append(auditFor(interrupted, null, "info", { recovery: { state, lock: lockOutcome } }));
    log.warn({ operationId: op.id, target: op.target, state, lock: lockOutcome }, "operation interrupted by a restart");
    await deps.reporter.interrupted(interrupted, { state, lock: lockOutcome, previousSha: deployment?.previousSha ?? null });
    report.push({ operationId: op.id, target: op.target, kind: op.kind, state, lock: lockOutcome });
  }
  return report;
}

async function readState(target: TargetHandle, deps: OperationsDeps): Promise<RecoveredOperation["state"]> {
  try {
    const [head, containers] = await withTimeout(
      Promise.all([readHead(target), target.ports.docker.listContainers(composeProjectName(target.config))]),
      RECOVERY_READ_TIMEOUT_MS,
      `re-reading ${target.name}`,
      deps.clock,
    );
    return { ok: true, headSha: head.sha, containers: judgeContainers(containers).detail };
  } catch (err) {
    return { ok: false, error: redactText(err instanceof Error ? err.message : String(err)) };
  }
}
