import { validateCount, validateRef, validateServiceName, validateSha } from "../commands/validate.js";
import { lockInfo, who, type ButtonResult, type OperationEngine, type RequestResult } from "./approvals.js";
import { planBackup } from "./backup.js";
import type { OperationsDeps, TargetHandle } from "./context.js";
import { planDeploy } from "./deploy.js";
import type { LockRecord, OperationKind } from "./model.js";
import { planPayouts } from "./payouts.js";
import { pausePayoutsWithoutDatabase, type DirectPauseResult } from "./payouts-direct.js";
import type { Actor, SentMessage } from "../shared/ports.js";
import type { BackupsReply, Busy, DeployRequest, LockReply, ReasonRequest, RestartRequest, RollbackRequest, RunRequest, ScaleRequest, TargetRequest, UnlockReply } from "./requests.js";
import { planRollback } from "./rollback.js";
import { planRestart } from "./restart.js";
import { checkRun, listCommands, planRun, runChecked, type CommandListing, type RunOutput } from "./run-command.js";
import { planScale } from "./scale.js";
import { lookupTarget } from "./targets.js";
import { redactText } from "../shared/redact.js";

/** Chat input as stored in the audit log: bounded, so a 10,000-character payload does not bloat it. */
export function clipWords(words: readonly string[]): string[] {
  return words.slice(0, 10).map((w) => (w.length > 200 ? `${w.slice(0, 200)}…(${w.length} chars)` : w));
}

/**
 * What `/run` answers: the list (asked for, or after an unknown name), the output of a read-only
 * command, a plan to confirm (RequestResult), or a refusal.
 */
export type RunReply =
  | { status: "commands"; target: string; commands: CommandListing[]; unknown: string | null }
  /** A read-only command was started (its request audited); `done` resolves with its output and never rejects. */
  | { status: "output"; target: string; done: Promise<RunOutput | { error: string }> }
  | RequestResult;

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
    const wanted: { service: string; replicas: number }[] = [];
    for (const change of request.changes) {
      const service = validateServiceName(change.service, config.services);
      if (!service.ok) return this.refuse(actor, "scale", request, `${service.reason} (only services listed under services: in opsgram.yml can be scaled)`, request.target);
      if (wanted.some((w) => w.service === service.value)) return this.refuse(actor, "scale", request, `${service.value} is named twice`, request.target);
      const bounds = config.services[service.value]!;
      const count = validateCount(change.replicas, bounds.min, bounds.max);
      if (!count.ok) return this.refuse(actor, "scale", request, `${service.value}: ${count.reason}`, request.target);
      wanted.push({ service: service.value, replicas: count.value });
    }
    if (wanted.length === 0) return this.refuse(actor, "scale", request, "Usage: /scale <service> <replicas> or /scale api=2 worker=3 [target]", request.target);
    const first = wanted[0]!;
    const args = wanted.length === 1 ? { service: first.service, replicas: first.replicas } : { changes: Object.fromEntries(wanted.map((w) => [w.service, w.replicas])) };
    return this.engine.request(actor, "scale", target.handle, args, () => planScale(target.handle, wanted), { confirm: true });
  }

  /** `/restart <service> [target]`: a configured service, restarted in place under the lock. */
  async requestRestart(actor: Actor, request: RestartRequest): Promise<RequestResult> {
    const target = this.target(request);
    if (!target.ok) return this.refuse(actor, "restart", request, target.reason);
    const service = validateServiceName(request.service, target.handle.config.services);
    if (!service.ok) return this.refuse(actor, "restart", request, `${service.reason} (only services listed under services: in opsgram.yml can be restarted)`, request.target);
    return this.engine.request(actor, "restart", target.handle, { service: service.value }, () => planRestart(target.handle, service.value), { confirm: true });
  }

  /**
   * `/run [name [args…]]`: the name and every argument are checked against the config before
   * anything else. `confirm: false` commands run at once, without the lock (they are read-only by
   * the operator's word), with their request and result audited; the others go through plan,
   * Confirm and the target lock like every operation.
   */
  async run(actor: Actor, request: RunRequest): Promise<RunReply> {
    const target = this.target(request);
    if (!target.ok) return this.refuse(actor, "run", request, target.reason);
    const { commands } = target.handle.config;
    const listing = (unknown: string | null): RunReply => ({ status: "commands", target: request.target, commands: listCommands(commands), unknown });
    if (request.name === null) return listing(null);
    const checked = checkRun(commands, request.name, request.args);
    if (!checked.ok) {
      await this.refuse(actor, "run", request, checked.reason, request.target);
      return checked.unknown ? listing(request.name) : { status: "refused", reason: checked.reason };
    }
    if (checked.command.confirm) {
      return this.engine.request(actor, "run", target.handle, { name: checked.name, args: checked.values }, async () => planRun(target.handle, checked), { confirm: true });
    }
    const base = { ...who(actor), action: "run", target: request.target, args: { name: checked.name, args: checked.values }, operationId: null };
    // No audit, no action: the request is on record before the command runs.
    await this.deps.audit.append({ ...base, outcome: "requested", detail: { confirm: false } });
    // Runs on after the reply: a slow read-only command must not hold the chat's other commands.
    const done = (async (): Promise<RunOutput | { error: string }> => {
      try {
        const run = await runChecked(target.handle, checked);
        const ok = run.exitCode === 0 && !run.timedOut;
        await this.deps.audit.append({ ...base, outcome: ok ? "succeeded" : "failed", detail: { exitCode: run.exitCode, timedOut: run.timedOut, durationMs: run.durationMs, outputBytes: run.output.length } });
        return run;
      } catch (err) {
        const message = redactText(err instanceof Error ? err.message : String(err));
        await this.deps.audit.append({ ...base, outcome: "failed", detail: { error: message } }).catch(() => undefined);
        return { error: `${checked.name} could not run on ${request.target}: ${message}` };
      }
    })();
    return { status: "output", target: request.target, done };
  }

  /**
   * `/backup [target]`: no confirmation (it changes nothing), but it takes the lock — unless
   * `fourEyes` lists backup: then it waits for someone else's Confirm like any other plan.
   */
  async backup(actor: Actor, request: TargetRequest): Promise<RequestResult> {
    const target = this.target(request);
    if (!target.ok) return this.refuse(actor, "backup", request, target.reason);
    const confirm = this.deps.config.fourEyes.includes("backup");
    return this.engine.request(actor, "backup", target.handle, {}, async () => planBackup(target.handle), { confirm });
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

  /** A press on [Confirm]; `pressedOn` is the message the button sat on (it must be the plan's). */
  async confirm(actor: Actor, operationId: string, pressedOn: SentMessage | null, variant: { restoreDatabase?: boolean } = {}): Promise<ButtonResult> {
    return this.engine.confirm(operationId, actor, pressedOn, variant);
  }

  async cancel(actor: Actor, operationId: string, pressedOn: SentMessage | null): Promise<ButtonResult> {
    return this.engine.cancel(operationId, actor, pressedOn);
  }

  /** What kind of operation an id names (so the chat layer can ask for that command's role), or null. */
  async kindOf(operationId: string): Promise<OperationKind | null> {
    return (await this.deps.repos.operations.get(operationId))?.kind ?? null;
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
  async unlock(actor: Actor, request: TargetRequest, version?: number, askedBy?: number): Promise<UnlockReply> {
    const target = this.target(request);
    if (!target.ok) return this.refuse(actor, "unlock", request, target.reason);
    const name = request.target;
    const args = version === undefined ? null : { version };
    if (this.deps.config.fourEyes.includes("unlock")) {
      // Four eyes: the first person asks (on record), a second one confirms by button.
      if (askedBy === undefined) {
        await this.deps.audit.append({ ...who(actor), action: "unlock", target: name, args, outcome: "requested", operationId: null, detail: { fourEyes: true } });
        return { status: "needs-second", target: name, askedBy: actor.userId };
      }
      if (askedBy === actor.userId) {
        await this.deps.audit.append({ ...who(actor), action: "unlock", target: name, args, outcome: "denied", operationId: null, detail: { reason: "four eyes: the one who asked may not confirm" } });
        return { status: "refused", reason: "Four eyes: someone other than the one who asked must confirm the unlock." };
      }
    }
    await this.deps.audit.append({ ...who(actor), action: "unlock", target: name, args, outcome: "requested", operationId: null, detail: askedBy === undefined ? null : { askedBy } });
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
