import { escapeHtml, formatDuration } from "../shared/format.js";
import type { OperationDefinition, OperationsDeps, RunContext, RunOutcome, StoredPlan, TargetHandle } from "./context.js";
import type { TargetLocks } from "./lock.js";
import { HEARTBEAT_INTERVAL_MS } from "./lock.js";
import type { OperationRecord } from "./model.js";
import { ProgressMessage, lastLines, renderSteps } from "./progress.js";
import type { Actor, AuditOutcome } from "../shared/ports.js";
import { Steps } from "./steps.js";

/** Lines of the failing step's output shown in the ❌ message (the rest goes as a document). */
export const FAILURE_TAIL_LINES = 20;

export interface RunOptions {
  deps: OperationsDeps;
  locks: TargetLocks;
  definition: OperationDefinition;
  op: OperationRecord;
  target: TargetHandle;
  confirmedBy: Actor;
  signal: AbortSignal;
}

/** Audit-row fields for an operation, as `actor` (null: opsgram itself). */
export function auditFor(op: OperationRecord, actor: Actor | null, outcome: AuditOutcome, detail: unknown, action: string = op.kind) {
  return {
    chatId: actor?.chatId ?? op.chatId,
    userId: actor?.userId ?? null,
    username: actor ? actor.username : "opsgram",
    action,
    target: op.target,
    args: op.args ?? null,
    outcome,
    operationId: op.id,
    detail,
  };
}

/** The title and headline every message about an operation starts with. */
export function header(plan: StoredPlan): string {
  return `<b>${escapeHtml(plan.title)}</b>${plan.headline ? `\n${plan.headline}` : ""}`;
}

/** Upper bound of an expected change, should an operation never end (the bot crashed mid-way). */
const EXPECTED_CHANGE_MAX_MS = 2 * 3_600_000;

/**
 * Runs a confirmed operation to its end: running (with `started` committed before the first remote
 * command), heartbeat on the lock, steps with one edited progress message, the final status and
 * audit row, the lock released, and — on failure — the failing step's tail in the message and its
 * full output as a document. Never throws: every failure ends as a `failed` operation.
 */
export async function runOperation(options: RunOptions): Promise<OperationRecord> {
  const { deps, locks, definition, op, target, confirmedBy, signal } = options;
  const { repos, clock, log, notifier } = deps;
  const redact = deps.redact ?? ((t: string) => t);
  const plan = op.plan as StoredPlan;
  const startedAt = clock.now();
  const releaseLock = async () => {
    if (!definition.usesLock) return;
    try {
      await locks.release(op.target, op.id);
    } catch (err) {
      log.error({ err, operationId: op.id }, "could not release the lock (it will be taken over as its holder is finished)");
    }
  };

  const running = await repos.operations.transition(op.id, ["confirmed", "requested"], "running", { startedAt, heartbeatAt: startedAt });
  if (!running) {
    await releaseLock();
    return (await repos.operations.get(op.id)) ?? op;
  }
  try {
    await deps.audit.append(auditFor(running, confirmedBy, "started", { confirmedBy: confirmedBy.username }));
  } catch (err) {
    // No audit, no action.
    log.error({ err, operationId: op.id }, "could not write the started audit row; not running");
    const failed = await repos.operations
      .transition(op.id, ["running"], "failed", { finishedAt: clock.now(), error: "audit log unavailable" })
      .catch(() => null);
    await releaseLock();
    if (running.chatId !== null && running.messageId !== null) {
      await safe(log, () => notifier.edit({ chatId: running.chatId!, messageId: running.messageId! }, `${header(plan)}\n❌ not started: the audit log could not be written`, { html: true, buttons: [] }));
    }
    return failed ?? running;
  }

  const progress =
    running.chatId !== null && running.messageId !== null
      ? new ProgressMessage(notifier, { chatId: running.chatId, messageId: running.messageId }, clock, log)
      : null;
  const who = confirmedBy.username ? `@${escapeHtml(confirmedBy.username)}` : `user ${confirmedBy.userId}`;
  const byLine = confirmedBy.userId === running.requestedBy ? `by ${who}` : `confirmed by ${who}`;
  let note: string | null = null;
  const render = (final?: string) =>
    [header(plan), byLine, renderSteps(steps.views), final ?? (note ? `<i>${escapeHtml(note)}</i>` : null)]
      .filter((l): l is string => Boolean(l))
      .join("\n");

  const steps: Steps = new Steps({
    shell: target.ports.shell,
    cwd: target.config.appDir,
    clock,
    signal,
    onChange: () => progress?.update(render()),
    onStepEnd: async (record) => {
      await deps.audit.append(auditFor(running, confirmedBy, "info", { step: record }, `${op.kind}.step`));
    },
  });

  const heartbeat = setInterval(() => {
    const at = clock.now();
    void Promise.all([
      definition.usesLock ? locks.heartbeat(op.target, op.id) : Promise.resolve(true),
      repos.operations.heartbeat(op.id, at),
    ]).catch((err: unknown) => log.warn({ err, operationId: op.id }, "heartbeat failed"));
  }, HEARTBEAT_INTERVAL_MS);
  heartbeat.unref();

  const ctx: RunContext = {
    op: running,
    plan,
    target,
    confirmedBy,
    steps,
    deps,
    signal,
    note(text) {
      note = text;
      progress?.update(render());
    },
    async audit(outcome, detail, action) {
      await deps.audit.append(auditFor(running, confirmedBy, outcome, detail, action ?? op.kind));
    },
  };

  let outcome: RunOutcome;
  // Our own container changes are not incidents; if the operation fails, it reports that itself.
  const change = definition.changesContainers ? deps.expected?.expect(op.target, [], clock.now().getTime() + EXPECTED_CHANGE_MAX_MS) : undefined;
  try {
    outcome = await definition.execute(ctx);
  } catch (err) {
    log.error({ err, operationId: op.id }, "operation failed");
    const message = err instanceof Error ? err.message : String(err);
    const where = steps.failure ? ` at ${escapeHtml(steps.failure.title)}` : "";
    outcome = { status: "failed", summary: `failed${where}: ${escapeHtml(redact(message))}` };
  } finally {
    change?.end();
    clearInterval(heartbeat);
  }

  const finishedAt = clock.now();
  const durationMs = finishedAt.getTime() - startedAt.getTime();
  const failure = steps.failure;
  // Bookkeeping may fail (the database went away mid-deploy): the lock is released and the chat
  // told regardless; the row stays `running` and restart recovery marks it interrupted.
  let final: OperationRecord | null = null;
  try {
    final = await repos.operations.transition(op.id, ["running"], outcome.status, {
      finishedAt,
      result: { ...outcome.result, steps: steps.records.length ? steps.records : undefined, durationMs },
      error: outcome.status === "succeeded" ? null : failure ? `${failure.title}: ${failure.message}` : outcome.summary,
    });
  } catch (err) {
    log.error({ err, operationId: op.id }, "could not record the operation's final status");
  }
  try {
    await deps.audit.append(
      auditFor(running, confirmedBy, outcome.status, {
        durationMs,
        summary: stripHtml(outcome.summary),
        failedStep: failure?.id,
        error: failure ? redact(failure.message) : undefined,
      }),
    );
  } catch (err) {
    log.error({ err, operationId: op.id }, "could not write the final audit row");
  }
  await releaseLock();

  const icon = outcome.status === "succeeded" ? "✅" : outcome.status === "rolled_back" ? "↩" : "❌";
  let finalLine = `${icon} ${outcome.summary} in ${formatDuration(durationMs)}`;
  if (outcome.status !== "succeeded" && failure) {
    // Bounded so the message stays within Telegram's 4096 characters; the document has it all.
    // Escaped first, then cut at a line boundary, so the cut never splits an entity or the <pre>.
    const tail = fitTail(escapeHtml(lastLines(redact(failure.output), FAILURE_TAIL_LINES)), 2500);
    if (tail) finalLine += `\n<b>${escapeHtml(failure.title)}</b>, last lines:\n<pre>${tail}</pre>`;
  }
  if (progress) await progress.finish(render(finalLine));
  if (outcome.status !== "succeeded" && failure && running.chatId !== null) {
    const filename = `${op.kind}-${op.target}-${op.id}-${failure.id}.log`;
    await safe(log, () =>
      notifier.sendDocument(running.chatId!, filename, redact(failure.output), `${plan.title}: full output of “${failure.title}”`),
    );
  }
  return final ?? (await repos.operations.get(op.id).catch(() => null)) ?? running;
}

/** The end of `escaped` within `max` characters, starting at a whole line. */
function fitTail(escaped: string, max: number): string {
  if (escaped.length <= max) return escaped;
  const cut = escaped.slice(-max);
  const newline = cut.indexOf("\n");
  return newline >= 0 ? cut.slice(newline + 1) : cut.replace(/^[a-z0-9#]{1,6};/, "");
}

/** Runs a chat call whose failure must not break the operation. */
export async function safe<T>(log: RunOptions["deps"]["log"], fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch (err) {
    log.warn({ err }, "chat call failed");
    return null;
  }
}

function stripHtml(html: string): string {
  return html.replace(/<[^>]+>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}
