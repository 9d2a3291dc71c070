import { escapeHtml, formatDuration, lastLines, personName } from "../../shared/format.js";
import type { StoredPlan } from "../../operations/context.js";
import type { OperationRecord, OpsLogger } from "../../operations/model.js";
import type { FinalReport, FrozenTarget, InterruptedReport, OperationReporter, ProgressSnapshot } from "../../operations/reporter.js";
import type { StepView } from "../../operations/steps.js";
import type { Actor, Clock, Notifier, SentMessage } from "../../shared/ports.js";
import { confirmButtons } from "./callback-data.js";
import { ProgressMessage, clip } from "./progress-message.js";
import { unlockButton } from "./unlock-buttons.js";
import { formatTimeout, header, headerOf, mention, renderPlanBody, richHtml } from "./render-plan.js";

/** Lines of the failing step's output shown in the ❌ message (the rest goes as a document). */
export const FAILURE_TAIL_LINES = 20;
/** Characters of that tail: keeps the final message within Telegram's 4096. */
const FAILURE_TAIL_CHARS = 2500;
/** Escaped characters of a command's output shown in the final message; longer goes as a file. */
export const RUN_OUTPUT_INLINE_CHARS = 3000;

const MARK: Record<StepView["state"], string> = { pending: "○", running: "⏳", done: "✓", failed: "✗", skipped: "–" };

/** "✓ fetched · ✓ backup 12.3 MB · ⏳ build · ○ up" — one line a phone can read. */
export function renderSteps(steps: readonly StepView[]): string {
  return steps.map((s) => `${MARK[s.state]} ${escapeHtml(s.state === "done" && s.summary ? s.summary : s.title)}`).join(" · ");
}

/** The end of `escaped` within `max` characters, starting at a whole line. */
export function fitTail(escaped: string, max: number): string {
  if (escaped.length <= max) return escaped;
  const cut = escaped.slice(-max);
  const newline = cut.indexOf("\n");
  return newline >= 0 ? cut.slice(newline + 1) : cut.replace(/^[a-z0-9#]{1,6};/, "");
}

/**
 * Renders an operation's typed events into its one chat message: the plan under [Confirm]
 * [Cancel], progress edits (paced by {@link ProgressMessage}), the final ✅/❌/↩ line at once, and
 * a failing step's full output as a file. Chat failures are logged, never thrown into the work.
 */
/** Messages queued in the database and retried until Telegram takes them (a 429 included). */
export interface DurableNotices {
  /** `chatIds` null: the alert chats. */
  notice(chatIds: readonly number[] | null, html: string): Promise<void>;
  alertChatIds: readonly number[];
}

export class ChatReporter implements OperationReporter {
  private readonly live = new Map<string, ProgressMessage>();

  constructor(
    private readonly notifier: Notifier,
    private readonly clock: Clock,
    private readonly log: OpsLogger,
    /**
     * The durable path (the alert outbox, retried until delivered): final outcomes whose edit could
     * not be delivered, and frozen targets, which also go to the alert chats.
     */
    private readonly durable?: DurableNotices,
  ) {}

  async planned(op: OperationRecord, info: { requester: Actor; expiresInSeconds: number; fourEyes: boolean }): Promise<SentMessage | null> {
    const plan = op.plan as StoredPlan;
    const text = `${header(op.kind, plan)}\n${renderPlanBody(op.kind, plan.data)}\n<i>Requested by ${mention(info.requester)} · expires in ${formatTimeout(info.expiresInSeconds)}${info.fourEyes ? " · someone else must confirm" : ""}</i>`;
    const dump = op.kind === "rollback" ? (plan.data as { dbBackup?: { path: string } | null }).dbBackup : null;
    const withDatabase = dump ? { file: dump.path.split("/").at(-1) ?? dump.path } : undefined;
    return this.safe(() => this.notifier.send(op.chatId!, text, { html: true, buttons: confirmButtons(op.id, withDatabase, op.kind === "rollback") }));
  }

  async starting(op: OperationRecord): Promise<SentMessage | null> {
    return this.safe(() => this.notifier.send(op.chatId!, `${header(op.kind, op.plan as StoredPlan)}\n⏳ starting…`, { html: true }));
  }

  async cancelled(op: OperationRecord, by: Actor): Promise<void> {
    await this.editFinal(op, `${header(op.kind, op.plan as StoredPlan)}\n✖ Cancelled by ${mention(by)}. Nothing ran.`);
  }

  async expired(op: OperationRecord): Promise<void> {
    await this.editFinal(op, `${headerOf(op, (t) => t)}\n⌛ Expired: nobody confirmed in time. Nothing ran.`);
  }

  async notStarted(op: OperationRecord): Promise<void> {
    await this.editFinal(op, `${header(op.kind, op.plan as StoredPlan)}\n❌ not started: the audit log could not be written`);
  }

  progress(op: OperationRecord, snapshot: ProgressSnapshot): void {
    this.message(op)?.update(this.render(op, snapshot, null));
  }

  async finished(op: OperationRecord, report: FinalReport): Promise<void> {
    const { outcome, failure } = report;
    const icon = outcome.status === "succeeded" ? "✅" : outcome.status === "rolled_back" ? "↩" : "❌";
    let finalLine = `${icon} ${richHtml(outcome.summary)} in ${formatDuration(report.durationMs)}${outcome.suffix ? richHtml(outcome.suffix) : ""}`;
    if (outcome.status !== "succeeded" && failure) {
      // Escaped first, then cut at a line boundary, so the cut never splits an entity or the <pre>.
      const tail = fitTail(escapeHtml(lastLines(failure.output, FAILURE_TAIL_LINES)), FAILURE_TAIL_CHARS);
      if (tail) finalLine += `\n<b>${escapeHtml(failure.title)}</b>, last lines:\n<pre>${tail}</pre>`;
    }
    // Output a command printed for the asker (/run): under the result when it fits, else as a file.
    const printed = outcome.output;
    const printedHtml = printed ? escapeHtml(printed.text.trimEnd()) : "";
    const printedFits = printed !== undefined && printedHtml.length <= RUN_OUTPUT_INLINE_CHARS;
    if (printed && printedFits) finalLine += printedHtml ? `\n<pre>${printedHtml}</pre>` : "\n(no output)";
    else if (printed) finalLine += "\nThe output is attached as a file.";
    if (outcome.footer) finalLine += `\n${richHtml(outcome.footer)}`;
    const progress = this.message(op);
    this.live.delete(op.id);
    const finalText = this.render(op, report, finalLine);
    const edited = progress ? await progress.finish(finalText) : false;
    if (!edited && op.chatId !== null && this.durable) {
      // The outcome must reach the chat: queue it as a message of its own, retried until delivered.
      await this.durable.notice([op.chatId], clip(finalText)).catch((err: unknown) => this.log.error({ err, operationId: op.id }, "could not queue the final result"));
    }
    if (printed && !printedFits && op.chatId !== null) await this.attachOutput(op, printed);
    if (outcome.status !== "succeeded" && failure && op.chatId !== null) {
      const plan = op.plan as StoredPlan;
      const filename = `${op.kind}-${op.target}-${op.id}-${failure.id}.log`;
      await this.safe(() => this.notifier.sendDocument(op.chatId!, filename, failure.output, `${plan.title}: full output of “${failure.title}”`));
    }
    if (report.frozen) await this.frozen(op, report.frozen);
  }

  /** The long output of a finished operation, as a file. */
  private async attachOutput(op: OperationRecord, output: { filename: string; text: string }): Promise<void> {
    const plan = op.plan as StoredPlan;
    await this.safe(() => this.notifier.sendDocument(op.chatId!, output.filename, output.text, `${plan.title}: output`));
  }

  async interrupted(op: OperationRecord, report: InterruptedReport): Promise<void> {
    if (op.chatId === null) return;
    const title = headerOf(op, (t) => `<b>${t}</b>`);
    const { state, lock, previousSha } = report;
    const seen = state.ok
      ? `${escapeHtml(op.target)} now: <code>${state.headSha.slice(0, 7)}</code> checked out · ${escapeHtml(state.containers)}`
      : `⚠ ${escapeHtml(op.target)} could not be re-read: ${escapeHtml(state.error)}`;
    const lockLine = lock === "released" ? "The lock is released." : lock === "frozen" ? "The target stays frozen: its commands may still be running there. Check it, then [Unlock] (or /unlock)." : "";
    const rollbackHint = previousSha ? ` /rollback returns to <code>${previousSha.slice(0, 7)}</code>.` : "";
    const text = `${title}\n${`⚠ Interrupted: opsgram restarted while this was running; it did not finish.\n${seen}\n${lockLine}${rollbackHint}`.trim()}`;
    await this.editFinal(op, text);
    const buttons = lock === "frozen" && report.freezeVersion !== undefined ? unlockButton(op.target, report.freezeVersion) : [];
    await this.safe(() => this.notifier.send(op.chatId!, text, { html: true, ...(buttons.length ? { buttons } : {}) }));
  }

  /** One message for a target a run left frozen: why, what is live now, and [Unlock]. */
  private async frozen(op: OperationRecord, frozen: FrozenTarget): Promise<void> {
    if (op.chatId === null) return;
    const { state } = frozen;
    const seen = state.ok
      ? `${escapeHtml(frozen.target)} now: <code>${state.headSha.slice(0, 7)}</code> checked out · ${escapeHtml(state.containers)}`
      : `⚠ ${escapeHtml(frozen.target)} could not be re-read: ${escapeHtml(state.error)}`;
    const text = `🧊 <b>${escapeHtml(frozen.target)} is frozen</b>: ${escapeHtml(frozen.reason)}.\n${seen}\nWas running: ${escapeHtml((op.plan as StoredPlan | null)?.title ?? op.kind)}.\nNo operation runs there until someone checks it and presses [Unlock] (or sends /unlock).`;
    const sent = await this.safe(() => this.notifier.send(op.chatId!, text, { html: true, buttons: unlockButton(frozen.target, frozen.version) }));
    if (!sent && this.durable) await this.durable.notice([op.chatId], text).catch((err: unknown) => this.log.error({ err, operationId: op.id }, "could not queue the frozen-target message"));
    if (this.durable) {
      // A human is needed: the alert chats get it through the durable outbox (the [Unlock] button
      // stays in the operation's chat, where the person who ran it is).
      const others = this.durable.alertChatIds.filter((id) => id !== op.chatId);
      if (others.length > 0) await this.durable.notice(others, text).catch((err: unknown) => this.log.error({ err, operationId: op.id }, "could not queue the frozen-target alert"));
    }
  }

  private render(op: OperationRecord, snapshot: ProgressSnapshot, finalLine: string | null): string {
    const by = snapshot.confirmedBy;
    const who = escapeHtml(personName(by));
    const byLine = by.userId === op.requestedBy ? `by ${who}` : `confirmed by ${who}`;
    const tail = finalLine ?? (snapshot.note ? `<i>${escapeHtml(snapshot.note)}</i>` : null);
    return [header(op.kind, op.plan as StoredPlan), byLine, renderSteps(snapshot.steps), tail].filter((l): l is string => Boolean(l)).join("\n");
  }

  /** The operation's one progress message, created on first use. */
  private message(op: OperationRecord): ProgressMessage | null {
    if (op.chatId === null || op.messageId === null) return null;
    let progress = this.live.get(op.id);
    if (!progress) {
      progress = new ProgressMessage(this.notifier, { chatId: op.chatId, messageId: op.messageId }, this.clock, this.log);
      this.live.set(op.id, progress);
    }
    return progress;
  }

  private async editFinal(op: OperationRecord, text: string): Promise<void> {
    if (op.chatId === null || op.messageId === null) return;
    await this.safe(() => this.notifier.edit({ chatId: op.chatId!, messageId: op.messageId! }, text, { html: true, buttons: [] }));
  }

  private async safe<T>(fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn();
    } catch (err) {
      this.log.warn({ err }, "chat call failed");
      return null;
    }
  }
}
