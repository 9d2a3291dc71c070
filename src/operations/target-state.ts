import { redactText } from "../shared/redact.js";
import { composeProjectName } from "../commands/compose.js";
import type { OperationsDeps, TargetHandle } from "./context.js";
import { readHead } from "./git-state.js";
import { judgeContainers } from "./health-gate.js";
import type { InterruptedReport } from "./reporter.js";
import { withTimeout } from "./timeout.js";

/** How long re-reading one target may take before it counts as unreadable. */
export const STATE_READ_TIMEOUT_MS = 20_000;

/**
 * What is live on a target now: the checked-out commit and the containers. Read after an operation
 * was cut off (restart, lost lease, dropped link), so the chat says what a human will find there.
 */
export async function readLiveState(target: TargetHandle, deps: Pick<OperationsDeps, "clock">): Promise<InterruptedReport["state"]> {
  try {
    const [head, containers] = await withTimeout(
      Promise.all([readHead(target), target.ports.docker.listContainers(composeProjectName(target.config))]),
      STATE_READ_TIMEOUT_MS,
      `re-reading ${target.name}`,
      deps.clock,
    );
    return { ok: true, headSha: head.sha, containers: judgeContainers(containers).detail };
  } catch (err) {
    return { ok: false, error: redactText(err instanceof Error ? err.message : String(err)) };
  }
}
