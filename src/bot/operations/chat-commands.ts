import type { Busy, ButtonResult, OperationsService, RequestResult, RestoreService, StatusService } from "../../operations/index.js";
import type { Actor, SentMessage } from "../../shared/ports.js";
import { parseButtonData } from "./callback-data.js";
import { parse, TargetNames, type Parsed } from "./parse.js";
import { describeLock } from "./render-lock.js";
import { renderCommands, renderRunOutput } from "./render-run.js";
import { confirmUnlockButtons, parseUnlockData } from "./unlock-buttons.js";
import type { InlineButton } from "../../shared/ports.js";
import { renderBackups, renderLogs, renderStatus, type ReadReply } from "./render-status.js";

/** A reply to a command that is not an operation (lock, unlock, backups): plain text. */
export type TextReply = { status: "ok"; text: string; buttons?: InlineButton[][] } | { status: "refused"; reason: string };
/** What an operation request answers in chat: a busy target is told as a refusal naming the holder. */
export type ChatRequestResult = Exclude<RequestResult, Busy>;
export type ChatButtonResult = Exclude<ButtonResult, Busy>;

type Refusal = { status: "refused"; reason: string; operationId?: string };

/** Busy → a refusal that says who holds the target, doing what, since when (plus `hint`). */
function refusedIfBusy<T extends { status: string }>(result: T | Busy, hint = ""): T | Refusal {
  if (result.status !== "busy") return result as T;
  const busy = result as Busy;
  return { status: "refused", reason: `${describeLock(busy.lock, busy.at)}${hint}`, ...(busy.operationId ? { operationId: busy.operationId } : {}) };
}

/**
 * Each chat command as one call: words → typed request (parse.ts) → operations → a reply to send.
 * A parse failure is audited through the service like any other refusal. The handlers only add
 * grammY; tests drive operations through here the way the chat does.
 */
export class ChatOperations {
  private readonly targets: TargetNames;

  constructor(
    private readonly service: OperationsService,
    private readonly status: StatusService,
    targetNames: readonly string[],
    private readonly restore?: RestoreService,
  ) {
    this.targets = new TargetNames(targetNames);
  }

  async deploy(actor: Actor, words: readonly string[]): Promise<ChatRequestResult> {
    return this.request(actor, "deploy", words, parse.deploy(this.targets, words), (r) => this.service.requestDeploy(actor, r));
  }

  async rollback(actor: Actor, words: readonly string[]): Promise<ChatRequestResult> {
    return this.request(actor, "rollback", words, parse.rollback(this.targets, words), (r) => this.service.requestRollback(actor, r));
  }

  async scale(actor: Actor, words: readonly string[]): Promise<ChatRequestResult> {
    return this.request(actor, "scale", words, parse.scale(this.targets, words), (r) => this.service.requestScale(actor, r));
  }

  async restart(actor: Actor, words: readonly string[]): Promise<ChatRequestResult> {
    return this.request(actor, "restart", words, parse.restart(this.targets, words), (r) => this.service.requestRestart(actor, r));
  }

  /** `/run`, waiting for a read-only command's output. */
  async run(actor: Actor, words: readonly string[]): Promise<ChatRequestResult | ReadReply> {
    const reply = await this.startRun(actor, words);
    return reply.status === "running" ? reply.done : reply;
  }

  /**
   * `/run`: the list, a plan to confirm (posted by the reporter), a refusal — or a read-only command
   * that runs on (`running`), so that the chat's next command need not wait for it.
   */
  async startRun(actor: Actor, words: readonly string[]): Promise<ChatRequestResult | ReadReply | { status: "running"; done: Promise<ReadReply> }> {
    const reply = refusedIfBusy(await this.call(actor, "run", words, parse.run(this.targets, words), (r) => this.service.run(actor, r)));
    if (reply.status === "commands") return { status: "ok", html: renderCommands(reply.target, reply.commands, reply.unknown) };
    if (reply.status === "output") {
      const { target } = reply;
      return { status: "running", done: reply.done.then((out): ReadReply => ("error" in out ? { status: "refused", reason: out.error } : renderRunOutput(target, out))) };
    }
    return reply;
  }

  async backup(actor: Actor, words: readonly string[]): Promise<ChatRequestResult> {
    // `/backup drill [target]`: restore the latest backup into a scratch database.
    if (words[0] === "drill" && this.restore) {
      const restore = this.restore;
      return this.request(actor, "backup", words, parse.backup(this.targets, words.slice(1)), (r) => restore.drill(actor, { ...r, input: words }));
    }
    return this.request(actor, "backup", words, parse.backup(this.targets, words), (r) => this.service.backup(actor, r));
  }

  async pausePayouts(actor: Actor, words: readonly string[]): Promise<ChatRequestResult> {
    return this.request(actor, "pause_payouts", words, parse.pausePayouts(this.targets, words), (r) => this.service.requestPausePayouts(actor, r));
  }

  /** `/pause_payouts` while the database is down: runs at once (no Confirm possible) and says so. */
  async pausePayoutsWithoutDatabase(actor: Actor, words: readonly string[]): Promise<TextReply> {
    const parsed = parse.pausePayouts(this.targets, words);
    if (!parsed.ok) return { status: "refused", reason: parsed.reason };
    const result = await this.service.pausePayoutsWithoutDatabase(actor, parsed.value);
    if (result.status === "refused") return result;
    const journal = result.journaled ? " Its audit rows wait in the local journal and go into the audit log once the database is back." : "";
    if (result.status === "failed") return { status: "refused", reason: `❌ payouts on ${result.target} could NOT be paused: ${result.reason}. The database is unreachable.${journal}` };
    return {
      status: "ok",
      text: `⏸ payouts PAUSED on ${result.target} (verified: payouts.status says paused). The database is unreachable, so this ran at once without a Confirm.${journal} /resume_payouts needs the database.`,
    };
  }

  /** What every other mutating command answers while the database is down. */
  refusedWithoutDatabase(command: string): TextReply {
    return { status: "refused", reason: `The database is unreachable: /${command} is refused until it is back (no audit, no action). /pause_payouts still works.` };
  }

  async resumePayouts(actor: Actor, words: readonly string[]): Promise<ChatRequestResult> {
    return this.request(actor, "resume_payouts", words, parse.resumePayouts(this.targets, words), (r) => this.service.requestResumePayouts(actor, r));
  }

  async lock(actor: Actor, words: readonly string[]): Promise<TextReply> {
    const reply = refusedIfBusy(await this.call(actor, "lock", words, parse.lock(this.targets, words), (r) => this.service.lock(actor, r)));
    if (reply.status === "refused") return reply;
    return { status: "ok", text: `🧊 ${reply.target} is frozen${reply.reason ? `: ${reply.reason}` : ""}. Mutating commands are refused until /unlock.` };
  }

  async unlock(actor: Actor, words: readonly string[]): Promise<TextReply> {
    const reply = refusedIfBusy(
      await this.call(actor, "unlock", words, parse.unlock(this.targets, words), (r) => this.service.unlock(actor, r)),
      " Its operation is alive; wait for it to finish.",
    );
    if (reply.status === "refused") return reply;
    if (reply.status === "needs-second") {
      const buttons = confirmUnlockButtons(reply.target, 0, reply.askedBy);
      if (buttons.length === 0) return { status: "refused", reason: `Four eyes: ${reply.target}'s name is too long for an unlock button; lift fourEyes for unlock or rename the target.` };
      return { status: "ok", text: `🔓 Unlock ${reply.target}? Four eyes: someone else must confirm.`, buttons };
    }
    return { status: "ok", text: reply.status === "not-locked" ? `${reply.target} is not locked.` : `🔓 ${reply.target} is unlocked.` };
  }

  async backups(actor: Actor, words: readonly string[]): Promise<TextReply> {
    const reply = await this.call(actor, "backups", words, parse.backups(this.targets, words), (r) => this.service.listBackups(actor, r));
    if (reply.status === "refused") return reply;
    return { status: "ok", text: renderBackups(reply.target, reply.backups, reply.now) };
  }

  async statusOf(actor: Actor, words: readonly string[]): Promise<ReadReply> {
    const reply = await this.call(actor, "status", words, parse.status(this.targets, words), (r) => this.status.status(actor, r));
    return reply.status === "refused" ? reply : { status: "ok", html: renderStatus(reply.value) };
  }

  async logs(actor: Actor, words: readonly string[]): Promise<ReadReply> {
    const reply = await this.call(actor, "logs", words, parse.logs(this.targets, words), (r) => this.status.logs(actor, r));
    return reply.status === "refused" ? reply : renderLogs(reply.value);
  }

  /**
   * A press on [Unlock] under a frozen target (ask → a Confirm; confirm → lifted, audited; keep →
   * nothing). The Confirm lifts only the freeze the message was about (its version).
   */
  async pressUnlock(actor: Actor, data: string): Promise<
    { status: "ask"; text: string; buttons: InlineButton[][] } | { status: "done"; text: string } | { status: "refused"; text: string }
  > {
    const press = parseUnlockData(data);
    if (!press || !this.targets.has(press.target)) return { status: "refused", text: "This button is not known." };
    if (press.action === "keep") return { status: "done", text: `🧊 ${press.target} stays frozen.` };
    if (press.action === "ask") {
      return { status: "ask", text: `Unlock ${press.target}? Check it first (/status ${press.target}): opsgram will run operations there again.`, buttons: confirmUnlockButtons(press.target, press.version, actor.userId) };
    }
    // version 0: the Confirm of a typed /unlock, for whatever freeze is there now.
    const reply = await this.service.unlock(actor, { target: press.target, input: ["unlock", press.target] }, press.version || undefined, press.askedBy);
    if (reply.status === "refused") return { status: "refused", text: reply.reason };
    if (reply.status === "needs-second") {
      return { status: "ask", text: `Unlock ${press.target}? Four eyes: someone else must confirm.`, buttons: confirmUnlockButtons(press.target, press.version, reply.askedBy) };
    }
    if (reply.status === "busy") {
      const changed = reply.lock.kind === "freeze" ? " It was frozen again since this message; use /unlock." : "";
      return { status: "refused", text: `${describeLock(reply.lock, reply.at)}${changed}` };
    }
    return { status: "done", text: reply.status === "not-locked" ? `${press.target} is not locked.` : `🔓 ${press.target} is unlocked by ${actor.username ? `@${actor.username}` : `user ${actor.userId}`}.` };
  }

  /** The command a plan button belongs to (its operation's kind), so its role can be checked; null if unknown. */
  async buttonCommand(data: string): Promise<string | null> {
    const button = parseButtonData(data);
    return button ? this.service.kindOf(button.operationId) : null;
  }

  /** A press on one of the plan's buttons; `pressedOn` is the message it sat on (null: not known). */
  async press(actor: Actor, data: string, pressedOn: SentMessage | null): Promise<ChatButtonResult> {
    const button = parseButtonData(data);
    if (!button) return { status: "refused", text: "This button is not known." };
    const { operationId } = button;
    const result =
      button.action === "confirm"
        ? await this.service.confirm(actor, operationId, pressedOn, button.restoreDatabase ? { restoreDatabase: true } : {})
        : await this.service.cancel(actor, operationId, pressedOn);
    if (result.status !== "busy") return result;
    return { status: "refused", text: `${describeLock(result.lock, result.at)} Press Confirm again once it is free.` };
  }

  private async request<R>(actor: Actor, action: string, words: readonly string[], parsed: Parsed<R>, call: (request: R) => Promise<RequestResult>): Promise<ChatRequestResult> {
    return refusedIfBusy<ChatRequestResult>(await this.call(actor, action, words, parsed, call));
  }

  private async call<R, T>(actor: Actor, action: string, words: readonly string[], parsed: Parsed<R>, call: (request: R) => Promise<T>): Promise<T | { status: "refused"; reason: string }> {
    if (!parsed.ok) return this.service.refuse(actor, action, { input: words }, parsed.reason);
    return call(parsed.value);
  }
}
