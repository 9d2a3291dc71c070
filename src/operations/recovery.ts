import { redactText } from "../shared/redact.js";
import { composeProjectName } from "../commands/compose.js";
import { escapeHtml } from "../shared/format.js";
import type { OperationsDeps, StoredPlan, TargetHandle } from "./context.js";
import { readHead } from "./git-state.js";
import { judgeContainers } from "./health-gate.js";
import type { TargetLocks } from "./lock.js";
import type { OperationRecord } from "./model.js";
import { auditFor, header, safe } from "./runner.js";
import { withTimeout } from "./status.js";

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

    const target = handle(deps, op.target);
    const state = target ? await readState(target) : ({ ok: false, error: `target ${op.target} is no longer configured` } as const);
    let lockOutcome: RecoveredOperation["lock"] = "none";
    const lock = await repos.locks.get(op.target);
    if (lock && lock.operationId === op.id) {
      if (state.ok) {
        lockOutcome = (await locks.release(op.target, op.id)) ? "released" : "none";
      } else {
        const converted = await locks.convertToFreeze(lock, `interrupted ${op.kind}: state could not be re-read (${state.error})`);
        lockOutcome = converted ? "frozen" : "none";
      }
    }
    await deps.audit.append(auditFor(interrupted, null, "info", { recovery: { state, lock: lockOutcome } }));
    log.warn({ operationId: op.id, target: op.target, state, lock: lockOutcome }, "operation interrupted by a restart");
    await tellChat(deps, interrupted, state, lockOutcome, deployment?.previousSha ?? null);
    report.push({ operationId: op.id, target: op.target, kind: op.kind, state, lock: lockOutcome });
  }
  return report;
}

function handle(deps: OperationsDeps, name: string): TargetHandle | null {
  const config = deps.config.targets[name];
  const ports = deps.targets[name];
  return config && ports ? { name, config, ports } : null;
}

async function readState(target: TargetHandle): Promise<RecoveredOperation["state"]> {
  try {
    const [head, containers] = await withTimeout(
      Promise.all([readHead(target), target.ports.docker.listContainers(composeProjectName(target.config))]),
      RECOVERY_READ_TIMEOUT_MS,
      `re-reading ${target.name}`,
    );
    return { ok: true, headSha: head.sha, containers: judgeContainers(containers).detail };
  } catch (err) {
    return { ok: false, error: redactText(err instanceof Error ? err.message : String(err)) };
  }
}

async function tellChat(deps: OperationsDeps, op: OperationRecord, state: RecoveredOperation["state"], lock: RecoveredOperation["lock"], previousSha: string | null): Promise<void> {
  if (op.chatId === null) return;
  const plan = op.plan as StoredPlan | null;
  const title = plan ? header(plan) : `<b>${escapeHtml(`${op.kind} ${op.target}`)}</b>`;
  const seen = state.ok
    ? `${escapeHtml(op.target)} now: <code>${state.headSha.slice(0, 7)}</code> checked out · ${escapeHtml(state.containers)}`
    : `⚠ ${escapeHtml(op.target)} could not be re-read: ${escapeHtml(state.error)}`;
  const lockLine =
    lock === "released"
      ? "The lock is released."
      : lock === "frozen"
        ? "The target stays frozen: check it by hand, then /unlock."
        : "";
  const rollbackHint = previousSha ? ` /rollback returns to <code>${previousSha.slice(0, 7)}</code>.` : "";
  const text = `⚠ Interrupted: opsgram restarted while this was running; it did not finish.\n${seen}\n${lockLine}${rollbackHint}`.trim();
  if (op.messageId !== null) {
    await safe(deps.log, () => deps.notifier.edit({ chatId: op.chatId!, messageId: op.messageId! }, `${title}\n${text}`, { html: true, buttons: [] }));
  }
  await safe(deps.log, () => deps.notifier.send(op.chatId!, `${title}\n${text}`, { html: true }));
}
