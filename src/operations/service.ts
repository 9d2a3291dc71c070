import { validateCount, validateRef, validateServiceName, validateSha } from "../commands/validate.js";
import { lockInfo, who, type ButtonResult, type OperationEngine, type RequestResult } from "./approvals.js";
import { planBackup } from "./backup.js";
import type { OperationsDeps, TargetHandle } from "./context.js";
import { planDeploy } from "./deploy.js";
import type { LockRecord, OperationKind } from "./model.js";
import { planPayouts } from "./payouts.js";
import { pausePayoutsWithoutDatabase, type DirectPauseResult } from "./payouts-direct.js";
import type { Actor, SentMessage } from "../shared/ports.js";
import type { BackupsReply, Busy, DeployRequest, LockReply, ReasonRequest, RollbackRequest, ScaleRequest, TargetRequest, UnlockReply } from "./requests.js";
import { planRollback } from "./rollback.js";
import { planScale } from "./scale.js";
import { lookupTarget } from "./targets.js";

/** Chat input as stored in the audit log: bounded, so a 10,000-character payload does not bloat it. */
export function clipWords(words: readonly string[]): string[] {
  return words.slice(0, 10).map((w) => (w.length > 200 ? `${w.slice(0, 200)}…(${w.length} chars)` : w));
}

/** Backups listed by /backups. */
const BACKUPS_LISTED = 10;

/**
 * What the chat layer calls with typed requests. Every method validates the values (strict
 * patterns, then the target's config) before anything touches a target, and writes an audit row for
 * a refusal. Plans and progress reach the chat through the reporter; refusals come back as `reason`.
 */
export class OperationsService {
  constructor(
    private readonly deps: OperationsDeps,
    private readonly engine: OperationEngine,
  ) {}

  /** `/deploy <ref> [target]` */
  async requestDeploy(actor: Actor, request: DeployRequest): Promise<RequestResult> {
    const target = this.target(request);
    if (!target.ok) return this.refuse(actor, "deploy", request, target.reason);
    const ref = validateRef(request.ref, target.handle.config.deploy.allowedRefs);
    if (!ref.ok) return this.refuse(actor, "deploy", request, ref.reason, request.target);
    return this.engine.request(actor, "deploy", target.handle, { ref: ref.value }, () => planDeploy(target.handle, ref.value), { confirm: true });
  }

  /** `/rollback [sha|#deployment] [target]` */
  async requestRollback(actor: Actor, request: RollbackRequest): Promise<RequestResult> {
    const target = this.target(request);
    if (!target.ok) return this.refuse(actor, "rollback", request, target.reason);
    let to = request.to;
    if (to.kind === "sha") {
      const sha = validateSha(to.sha);
      if (!sha.ok) return this.refuse(actor, "rollback", request, `${sha.reason}, or a deployment id like #12`, request.target);
      to = { kind: "sha", sha: sha.value };
    }
    const value = to;
    return this.engine.request(actor, "rollback", target.handle, { to: value }, () => planRollback(target.handle, this.deps, value), { confirm: true });
  }

  /** `/scale <service> <n> [target]` */
  async requestScale(actor: Actor, request: ScaleRequest): Promise<RequestResult> {
    const target = this.target(request);
    if (!target.ok) return this.refuse(actor, "scale", request, target.reason);
    const { config } = target.handle;
    const service = validateServiceName(request.service, config.services);
    if (!service.ok) return this.refuse(actor, "scale", request, `${service.reason} (only services listed under services: in opsgram.yml can be scaled)`, request.target);
    const bounds = config.services[service.value]!;
    const count = validateCount(request.replicas, bounds.min, bounds.max);
    if (!count.ok) return this.refuse(actor, "scale", request, `${service.value}: ${count.reason}`, request.target);
    const args = { service: service.value, replicas: count.value };
    return this.engine.request(actor, "scale", target.handle, args, () => planScale(target.handle, service.value, count.value), { confirm: true });
  }

  /** `/backup [target]`: no confirmation (it changes nothing), but it takes the lock. */
  async backup(actor: Actor, request: TargetRequest): Promise<RequestResult> {
    const target = this.target(request);
    if (!target.ok) return this.refuse(actor, "backup", request, target.reason);
    return this.engine.request(actor, "backup", target.handle, {}, async () => planBackup(target.handle), { confirm: false });
  }

  /** `/pause_payouts [target] [reason…]` */
  async requestPausePayouts(actor: Actor, request: ReasonRequest): Promise<RequestResult> {
    return this.payouts(actor, request, true);
  }

  /** `/pause_payouts` while the database is unreachable: runs at once, audited through the journal. */
  async pausePayoutsWithoutDatabase(actor: Actor, request: ReasonRequest): Promise<DirectPauseResult> {
    return pausePayoutsWithoutDatabase(this.deps, actor, request.target, request.reason);
  }

  /** `/resume_payouts [target]` */
  async requestResumePayouts(actor: Actor, request: TargetRequest): Promise<RequestResult> {
    return this.payouts(actor, { ...request, reason: null }, false);
  }

  private async payouts(actor: Actor, request: ReasonRequest, pause: boolean): Promise<RequestResult> {
    const kind: OperationKind = pause ? "pause_payouts" : "resume_payouts";
    const target = this.target(request);
    if (!target.ok) return this.refuse(actor, kind, request, target.reason);
    const reason = pause ? request.reason : null;
    const current = await this.deps.repos.payouts.get(request.target);
    const now = this.deps.clock.now();
    return this.engine.request(actor, kind, target.handle, { reason }, async () => planPayouts(target.handle, pause, reason, current, now), { confirm: true });
  }

  /** A press on [Confirm]; `pressedOn` is the message the button sat on (the plan's). */
  async confirm(actor: Actor, operationId: string, pressedOn?: SentMessage): Promise<ButtonResult> {
    return this.engine.confirm(operationId, actor, pressedOn);
  }

  async cancel(actor: Actor, operationId: string, pressedOn?: SentMessage): Promise<ButtonResult> {
    return this.engine.cancel(operationId, actor, pressedOn);
  }

  /** `/lock [target] [reason…]`: freezes mutating commands on a target. */
  async lock(actor: Actor, request: ReasonRequest): Promise<LockReply> {
    const target = this.target(request);
    if (!target.ok) return this.refuse(actor, "lock", request, target.reason);
    const { reason } = request;
    // No audit, no action: the request is on record before the lock table changes.
    await this.deps.audit.append({ ...who(actor), action: "lock", target: request.target, args: { reason }, outcome: "requested", operationId: null, detail: null });
    const result = await this.engine.locks.freeze(request.target, actor, reason);
    if (result.status === "held") return this.busy(actor, "lock", request, result.lock);
    await this.deps.audit.append({ ...who(actor), action: "lock", target: request.target, args: { reason }, outcome: "succeeded", operationId: null, detail: null });
    return { status: "frozen", target: request.target, reason };
  }

  /**
   * `/unlock [target]`: lifts a freeze, or clears the lock of an operation whose heartbeat is stale.
   * With `version` (the [Unlock] button's Confirm), only that freeze is lifted.
   */
  async unlock(actor: Actor, request: TargetRequest, version?: number): Promise<UnlockReply> {
    const target = this.target(request);
    if (!target.ok) return this.refuse(actor, "unlock", request, target.reason);
    const name = request.target;
    const args = version === undefined ? null : { version };
    await this.deps.audit.append({ ...who(actor), action: "unlock", target: name, args, outcome: "requested", operationId: null, detail: null });
    const result = await this.engine.locks.unfreeze(name, version);
    if (result.status === "free") return { status: "not-locked", target: name };
    if (result.status === "held") return this.busy(actor, "unlock", request, result.lock);
    const lifted = { kind: result.lock.kind, holder: result.lock.holderName, reason: result.lock.reason, since: result.lock.since.toISOString(), version: result.lock.version };
    await this.deps.audit.append({ ...who(actor), action: "unlock", target: name, args, outcome: "succeeded", operationId: result.lock.operationId, detail: { lifted } });
    return { status: "unlocked", target: name };
  }

  /** `/backups [target]`: the recent backups. */
  async listBackups(actor: Actor, request: TargetRequest): Promise<BackupsReply> {
    const target = this.target(request);
    if (!target.ok) return this.refuse(actor, "backups", request, target.reason);
    const backups = await this.deps.repos.backups.recent(request.target, BACKUPS_LISTED);
    return { status: "backups", target: request.target, backups, now: this.deps.clock.now() };
  }

  /**
   * Audits a request the chat layer refused before it got here (usage, unknown target) and hands
   * the reason back, so every refusal leaves the same row wherever it was decided.
   */
  async refuse(actor: Actor, action: string, request: { input: readonly string[] }, reason: string, target: string | null = null): Promise<{ status: "refused"; reason: string }> {
    await this.deps.audit.append({ ...who(actor), action, target, args: { words: clipWords(request.input) }, outcome: "denied", operationId: null, detail: { reason } });
    return { status: "refused", reason };
  }

  private async busy(actor: Actor, action: string, request: TargetRequest, lock: LockRecord): Promise<Busy> {
    const detail = { reason: "busy", lock: lockInfo(lock) };
    await this.deps.audit.append({ ...who(actor), action, target: request.target, args: { words: clipWords(request.input) }, outcome: "denied", operationId: null, detail });
    return { status: "busy", lock, at: this.deps.clock.now() };
  }

  private target(request: TargetRequest): { ok: true; handle: TargetHandle } | { ok: false; reason: string } {
    const handle = lookupTarget(this.deps, request.target);
    if (handle) return { ok: true, handle };
    const configured = Object.hasOwn(this.deps.config.targets, request.target);
    return { ok: false, reason: configured ? `Target ${request.target} is configured but not connected.` : `Unknown target ${JSON.stringify(request.target)}.` };
  }
}
