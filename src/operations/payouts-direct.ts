import type { Actor, AuditEventInput, JournaledAppend } from "../shared/ports.js";
import type { OperationsDeps } from "./context.js";
import { journaling } from "./journal.js";
import { lookupTarget } from "./targets.js";

/** The kill switch is quick: each command gets this long. */
const SWITCH_TIMEOUT_MS = 60_000;

/** What `/pause_payouts` did while the database was down. */
export type DirectPauseResult =
  | { status: "paused"; target: string; verified: true; journaled: boolean }
  | { status: "failed"; target: string; reason: string; journaled: boolean }
  | { status: "refused"; reason: string };

/**
 * `/pause_payouts` while the database is unreachable: the P0 action of the payouts runbook must not
 * depend on it. There is no operations row to hang a Confirm on, so it runs at once — pausing is the
 * safe direction, and the reply says it ran without one. Its audit rows go through
 * `appendOrJournal` (the database when it answers, else the fsync'd local journal, replayed in order
 * and exactly once when it is back): requested before the command runs (no audit, no action), then
 * the verified outcome. `/resume_payouts` stays database-only: it re-enables money leaving, which
 * deserves the Confirm and the four eyes the database carries.
 */
export async function pausePayoutsWithoutDatabase(deps: OperationsDeps, actor: Actor, targetName: string, reason: string | null): Promise<DirectPauseResult> {
  const audit = journaling(deps.audit);
  if (!audit) return { status: "refused", reason: "The database is unreachable and no local audit journal is configured, so nothing can be recorded: not run." };
  const target = lookupTarget(deps, targetName);
  const payouts = target?.config.payouts;
  if (!target || !payouts) return { status: "refused", reason: `No payouts switch is configured for ${targetName} (payouts.pause/resume/status in opsgram.yml).` };

  const row = (outcome: AuditEventInput["outcome"], detail: Record<string, unknown>): AuditEventInput => ({
    chatId: actor.chatId,
    userId: actor.userId,
    username: actor.username,
    action: "pause_payouts",
    target: targetName,
    args: { reason },
    outcome,
    operationId: null,
    detail: { database: "unreachable", confirm: "none: ran at once while the database was down", ...detail },
  });
  // No audit, no action: if even the journal cannot be written, nothing runs.
  const requested: JournaledAppend = await audit.appendOrJournal(row("requested", {}));
  const shell = target.ports.shell;
  const opts = { cwd: target.config.appDir, timeoutMs: SWITCH_TIMEOUT_MS };
  let outcome: Exclude<DirectPauseResult, { status: "refused" }>;
  try {
    const pause = await shell.execTrusted(payouts.pause, opts);
    if (pause.code !== 0 || pause.timedOut) throw new Error(`payouts.pause ${pause.timedOut ? "timed out" : `exited ${pause.code}`}`);
    const status = await shell.execTrusted(payouts.status, opts);
    if (status.code !== 0 || status.timedOut) throw new Error(`payouts.status ${status.timedOut ? "timed out" : `exited ${status.code}`}`);
    if (status.stdout.trim().length === 0) throw new Error("payouts.status says payouts are NOT paused");
    outcome = { status: "paused", target: targetName, verified: true, journaled: requested.stored === "journal" };
  } catch (err) {
    const message = deps.redact ? deps.redact(err instanceof Error ? err.message : String(err)) : err instanceof Error ? err.message : String(err);
    outcome = { status: "failed", target: targetName, reason: message, journaled: requested.stored === "journal" };
  }
  const final = await audit
    .appendOrJournal(row(outcome.status === "paused" ? "succeeded" : "failed", outcome.status === "paused" ? { verified: true } : { error: outcome.reason }))
    .catch((err: unknown) => {
      deps.log.error({ err }, "could not record the kill switch's outcome, not even in the journal");
      return null;
    });
  deps.log.warn({ target: targetName, outcome: outcome.status, stored: final?.stored }, "payouts kill switch ran without the database");
  return { ...outcome, journaled: requested.stored === "journal" || final?.stored === "journal" };
}
