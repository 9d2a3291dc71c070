import type { ButtonResult, OperationsService, RequestResult, StatusService } from "../../operations/index.js";
import type { Actor } from "../../shared/ports.js";
import { parseButtonData } from "./callback-data.js";
import { parse, TargetNames, type Parsed } from "./parse.js";
import { renderBackups, renderLogs, renderStatus, type ReadReply } from "./render-status.js";

/** A reply to a command that is not an operation (lock, unlock, backups): plain text. */
export type TextReply = { status: "ok"; text: string } | { status: "refused"; reason: string };

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
  ) {
    this.targets = new TargetNames(targetNames);
  }

  deploy(actor: Actor, words: readonly string[]): Promise<RequestResult> {
    return this.run(actor, "deploy", words, parse.deploy(this.targets, words), (r) => this.service.requestDeploy(actor, r));
  }

  rollback(actor: Actor, words: readonly string[]): Promise<RequestResult> {
    return this.run(actor, "rollback", words, parse.rollback(this.targets, words), (r) => this.service.requestRollback(actor, r));
  }

  scale(actor: Actor, words: readonly string[]): Promise<RequestResult> {
    return this.run(actor, "scale", words, parse.scale(this.targets, words), (r) => this.service.requestScale(actor, r));
  }

  backup(actor: Actor, words: readonly string[]): Promise<RequestResult> {
    return this.run(actor, "backup", words, parse.backup(this.targets, words), (r) => this.service.backup(actor, r));
  }

  pausePayouts(actor: Actor, words: readonly string[]): Promise<RequestResult> {
    return this.run(actor, "pause_payouts", words, parse.pausePayouts(this.targets, words), (r) => this.service.requestPausePayouts(actor, r));
  }

  resumePayouts(actor: Actor, words: readonly string[]): Promise<RequestResult> {
    return this.run(actor, "resume_payouts", words, parse.resumePayouts(this.targets, words), (r) => this.service.requestResumePayouts(actor, r));
  }

  async lock(actor: Actor, words: readonly string[]): Promise<TextReply> {
    const reply = await this.run(actor, "lock", words, parse.lock(this.targets, words), (r) => this.service.lock(actor, r));
    if (reply.status === "refused") return reply;
    return { status: "ok", text: `🧊 ${reply.target} is frozen${reply.reason ? `: ${reply.reason}` : ""}. Mutating commands are refused until /unlock.` };
  }

  async unlock(actor: Actor, words: readonly string[]): Promise<TextReply> {
    const reply = await this.run(actor, "unlock", words, parse.unlock(this.targets, words), (r) => this.service.unlock(actor, r));
    if (reply.status === "refused") return reply;
    return { status: "ok", text: reply.status === "not-locked" ? `${reply.target} is not locked.` : `🔓 ${reply.target} is unlocked.` };
  }

  async backups(actor: Actor, words: readonly string[]): Promise<TextReply> {
    const reply = await this.run(actor, "backups", words, parse.backups(this.targets, words), (r) => this.service.listBackups(actor, r));
    if (reply.status === "refused") return reply;
    return { status: "ok", text: renderBackups(reply.target, reply.backups, reply.now) };
  }

  async statusOf(actor: Actor, words: readonly string[]): Promise<ReadReply> {
    const reply = await this.run(actor, "status", words, parse.status(this.targets, words), (r) => this.status.status(actor, r));
    return reply.status === "refused" ? reply : { status: "ok", html: renderStatus(reply.value) };
  }

  async logs(actor: Actor, words: readonly string[]): Promise<ReadReply> {
    const reply = await this.run(actor, "logs", words, parse.logs(this.targets, words), (r) => this.status.logs(actor, r));
    return reply.status === "refused" ? reply : renderLogs(reply.value);
  }

  /** A press on one of the plan's buttons. */
  async press(actor: Actor, data: string): Promise<ButtonResult> {
    const button = parseButtonData(data);
    if (!button) return { status: "refused", text: "This button is not known." };
    return button.action === "confirm" ? this.service.confirm(actor, button.operationId) : this.service.cancel(actor, button.operationId);
  }

  private async run<R, T>(actor: Actor, action: string, words: readonly string[], parsed: Parsed<R>, call: (request: R) => Promise<T>): Promise<T | { status: "refused"; reason: string }> {
    if (!parsed.ok) return this.service.refuse(actor, action, { input: words }, parsed.reason);
    return call(parsed.value);
  }
}
