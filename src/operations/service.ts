import { validateCount, validateRef, validateServiceName } from "../commands/validate.js";
import { BUTTON_DATA_PATTERN, who, type ButtonResult, type OperationEngine, type RequestResult } from "./approvals.js";
import { planBackup, renderBackups } from "./backup.js";
import type { OperationsDeps, TargetHandle } from "./context.js";
import { planDeploy } from "./deploy.js";
import { describeLock } from "./errors.js";
import type { OperationKind } from "./model.js";
import { MAX_REASON_LENGTH, planPayouts } from "./payouts.js";
import type { Actor } from "../shared/ports.js";
import { parseRollbackArg, planRollback } from "./rollback.js";
import { planScale } from "./scale.js";
import { clipWords } from "./status.js";
import { cleanReason, leadingTarget, splitTarget } from "./target-args.js";

/** A reply to a command that is not an operation (lock, unlock, backups): plain text. */
export type TextReply = { status: "ok"; text: string } | { status: "refused"; reason: string };

/** Inline button data carries at most this much; anything longer is not ours. */
const MAX_BUTTON_DATA = 64;

/**
 * What the chat handlers call. Every method takes the words typed after the command, validates all
 * of them (strict patterns, then the target's config) before anything touches a target, and writes
 * an audit row for a refusal. Replies that are plans or progress go to the chat through the
 * Notifier; refusals come back as `reason` for the handler to send.
 */
export class OperationsService {
  constructor(
    private readonly deps: OperationsDeps,
    private readonly engine: OperationEngine,
  ) {}

  /** `/deploy <ref> [target]` */
  async requestDeploy(actor: Actor, words: readonly string[]): Promise<RequestResult> {
    const args = splitTarget(this.deps, words, { required: 1, optional: 0, usage: "/deploy <branch|tag> [target]" });
    if (!args.ok) return this.refuse(actor, "deploy", words, args.reason);
    const ref = validateRef(args.rest[0] ?? "", args.target.config.deploy.allowedRefs);
    if (!ref.ok) return this.refuse(actor, "deploy", words, ref.reason, args.target.name);
    const target = args.target;
    return this.engine.request(actor, "deploy", target, { ref: ref.value }, () => planDeploy(target, ref.value), { confirm: true });
  }

  /** `/rollback [sha|#deployment] [target]` */
  async requestRollback(actor: Actor, words: readonly string[]): Promise<RequestResult> {
    const args = splitTarget(this.deps, words, { required: 0, optional: 1, usage: "/rollback [sha|#deployment] [target]" });
    if (!args.ok) return this.refuse(actor, "rollback", words, args.reason);
    const to = parseRollbackArg(args.rest[0]);
    if (!to.ok) return this.refuse(actor, "rollback", words, to.reason, args.target.name);
    const target = args.target;
    return this.engine.request(actor, "rollback", target, { to: to.value }, () => planRollback(target, this.deps, to.value), { confirm: true });
  }

  /** `/scale <service> <n> [target]` */
  async requestScale(actor: Actor, words: readonly string[]): Promise<RequestResult> {
    const args = splitTarget(this.deps, words, { required: 2, optional: 0, usage: "/scale <service> <replicas> [target]" });
    if (!args.ok) return this.refuse(actor, "scale", words, args.reason);
    const target = args.target;
    const service = validateServiceName(args.rest[0] ?? "", target.config.services);
    if (!service.ok) return this.refuse(actor, "scale", words, `${service.reason} (only services listed under services: in opsgram.yml can be scaled)`, target.name);
    const bounds = target.config.services[service.value]!;
    const count = validateCount(args.rest[1] ?? "", bounds.min, bounds.max);
    if (!count.ok) return this.refuse(actor, "scale", words, `${service.value}: ${count.reason}`, target.name);
    return this.engine.request(actor, "scale", target, { service: service.value, replicas: count.value }, () => planScale(target, service.value, count.value), { confirm: true });
  }

  /** `/backup [target]`: no confirmation (it changes nothing), but it takes the lock. */
  async backup(actor: Actor, words: readonly string[]): Promise<RequestResult> {
    const args = splitTarget(this.deps, words, { required: 0, optional: 0, usage: "/backup [target]" });
    if (!args.ok) return this.refuse(actor, "backup", words, args.reason);
    const target = args.target;
    return this.engine.request(actor, "backup", target, {}, async () => planBackup(target), { confirm: false });
  }

  /** `/pause_payouts [target] [reason…]` */
  async requestPausePayouts(actor: Actor, words: readonly string[]): Promise<RequestResult> {
    return this.payouts(actor, words, true);
  }

  /** `/resume_payouts [target]` */
  async requestResumePayouts(actor: Actor, words: readonly string[]): Promise<RequestResult> {
    return this.payouts(actor, words, false);
  }

  private async payouts(actor: Actor, words: readonly string[], pause: boolean): Promise<RequestResult> {
    const kind: OperationKind = pause ? "pause_payouts" : "resume_payouts";
    const args = leadingTarget(this.deps, words);
    if (!args.ok) return this.refuse(actor, kind, words, args.reason);
    const target = args.target;
    const reason = pause ? cleanReason(args.rest, MAX_REASON_LENGTH) : null;
    const current = await this.deps.repos.payouts.get(target.name);
    return this.engine.request(actor, kind, target, { reason }, async () => planPayouts(target, pause, reason, current, this.deps.clock.now()), { confirm: true });
  }

  /** A button press: `op:c:<id>` confirms, `op:x:<id>` cancels. */
  async press(actor: Actor, data: string): Promise<ButtonResult> {
    const match = data.length <= MAX_BUTTON_DATA ? BUTTON_DATA_PATTERN.exec(data) : null;
    if (!match) return { status: "refused", text: "This button is not known." };
    const [, action, id] = match;
    return action === "c" ? this.engine.confirm(id!, actor) : this.engine.cancel(id!, actor);
  }

  async confirm(actor: Actor, operationId: string): Promise<ButtonResult> {
    return this.engine.confirm(operationId, actor);
  }

  async cancel(actor: Actor, operationId: string): Promise<ButtonResult> {
    return this.engine.cancel(operationId, actor);
  }

  /** `/lock [target] [reason…]`: freezes mutating commands on a target. */
  async lock(actor: Actor, words: readonly string[]): Promise<TextReply> {
    const args = leadingTarget(this.deps, words);
    if (!args.ok) return this.refuseText(actor, "lock", words, args.reason);
    const reason = cleanReason(args.rest, MAX_REASON_LENGTH);
    // No audit, no action: the request is on record before the lock table changes.
    await this.deps.audit.append({ ...who(actor), action: "lock", target: args.target.name, args: { reason }, outcome: "requested", operationId: null, detail: null });
    const result = await this.engine.locks.freeze(args.target.name, actor, reason);
    if (result.status === "held") return this.refuseText(actor, "lock", words, describeLock(result.lock, this.deps.clock.now()), args.target.name);
    await this.deps.audit.append({ ...who(actor), action: "lock", target: args.target.name, args: { reason }, outcome: "succeeded", operationId: null, detail: null });
    return { status: "ok", text: `🧊 ${args.target.name} is frozen${reason ? `: ${reason}` : ""}. Mutating commands are refused until /unlock.` };
  }

  /** `/unlock [target]`: lifts a freeze, or clears the lock of an operation that is dead. */
  async unlock(actor: Actor, words: readonly string[]): Promise<TextReply> {
    const args = splitTarget(this.deps, words, { required: 0, optional: 0, usage: "/unlock [target]" });
    if (!args.ok) return this.refuseText(actor, "unlock", words, args.reason);
    const name = args.target.name;
    await this.deps.audit.append({ ...who(actor), action: "unlock", target: name, args: null, outcome: "requested", operationId: null, detail: null });
    const result = await this.engine.locks.unfreeze(name);
    if (result.status === "free") return { status: "ok", text: `${name} is not locked.` };
    if (result.status === "held") {
      return this.refuseText(actor, "unlock", words, `${describeLock(result.lock, this.deps.clock.now())} Its operation is alive; wait for it to finish.`, name);
    }
    await this.deps.audit.append({
      ...who(actor),
      action: "unlock",
      target: name,
      args: null,
      outcome: "succeeded",
      operationId: result.lock.operationId,
      detail: { lifted: { kind: result.lock.kind, holder: result.lock.holderName, reason: result.lock.reason, since: result.lock.since.toISOString() } },
    });
    return { status: "ok", text: `🔓 ${name} is unlocked.` };
  }

  /** `/backups [target]`: the recent backups. */
  async listBackups(actor: Actor, words: readonly string[]): Promise<TextReply> {
    const args = splitTarget(this.deps, words, { required: 0, optional: 0, usage: "/backups [target]" });
    if (!args.ok) return this.refuseText(actor, "backups", words, args.reason);
    const list = await this.deps.repos.backups.recent(args.target.name, 10);
    return { status: "ok", text: renderBackups(args.target.name, list, this.deps.clock.now()) };
  }

  /** The target a command would use, for handlers that need its name. */
  target(name: string): TargetHandle | null {
    const config = this.deps.config.targets[name];
    const ports = this.deps.targets[name];
    return config && ports ? { name, config, ports } : null;
  }

  private async refuse(actor: Actor, action: string, words: readonly string[], reason: string, target: string | null = null): Promise<RequestResult> {
    await this.auditRefusal(actor, action, words, reason, target);
    return { status: "refused", reason };
  }

  private async refuseText(actor: Actor, action: string, words: readonly string[], reason: string, target: string | null = null): Promise<TextReply> {
    await this.auditRefusal(actor, action, words, reason, target);
    return { status: "refused", reason };
  }

  private async auditRefusal(actor: Actor, action: string, words: readonly string[], reason: string, target: string | null): Promise<void> {
    await this.deps.audit.append({ ...who(actor), action, target, args: { words: clipWords(words) }, outcome: "denied", operationId: null, detail: { reason } });
  }
}
