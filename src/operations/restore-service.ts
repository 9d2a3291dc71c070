import { who, type OperationEngine, type RequestResult } from "./approvals.js";
import type { OperationsDeps, TargetHandle } from "./context.js";
import { planDrill } from "./drill.js";
import type { BackupRecord, DeploymentRecord } from "./model.js";
import type { Refused, TargetRequest } from "./requests.js";
import { planRestore, restorableBackups, restoreUnavailable, type RestorePlanData } from "./restore.js";
import type { OperationsService } from "./service.js";
import { lookupTarget } from "./targets.js";
import type { Actor, SentMessage } from "../shared/ports.js";

export interface RestoreChoices {
  status: "choices";
  target: string;
  backups: BackupRecord[];
  now: Date;
}

export interface RestorePreview {
  status: "preview";
  target: string;
  title: string;
  data: RestorePlanData;
}

export interface RestoreRequest extends TargetRequest {
  backupId: number;
  /** What the person typed to confirm: must be the target's name. */
  typed: string;
}

/**
 * /restore and /backup drill as typed requests. The chat flow (bot/conversations) asks for the
 * backup and the typed name; the approval itself is still an `operations` row: with fourEyes for
 * restore someone else confirms it with a button, otherwise the typed name is the confirmation.
 */
export class RestoreService {
  constructor(
    private readonly deps: OperationsDeps,
    private readonly engine: OperationEngine,
    private readonly service: OperationsService,
  ) {}

  /** The backups to pick from (newest first), or why this target cannot restore. */
  async choices(actor: Actor, request: TargetRequest): Promise<RestoreChoices | Refused> {
    const target = this.target(request);
    if (!target.ok) return this.service.refuse(actor, "restore", request, target.reason);
    const unavailable = restoreUnavailable(target.handle);
    if (unavailable) return this.service.refuse(actor, "restore", request, unavailable, request.target);
    const backups = await restorableBackups(target.handle, this.deps);
    if (backups.length === 0) return this.service.refuse(actor, "restore", request, `No backup of ${request.target} to restore. /backup takes one.`, request.target);
    return { status: "choices", target: request.target, backups, now: this.deps.clock.now() };
  }

  /** The plan shown before the name is typed (nothing is stored or locked yet). */
  async preview(actor: Actor, request: TargetRequest & { backupId: number }): Promise<RestorePreview | Refused> {
    const target = this.target(request);
    if (!target.ok) return this.service.refuse(actor, "restore", request, target.reason);
    const planned = await planRestore(target.handle, this.deps, request.backupId);
    if (planned.status === "refused") return this.service.refuse(actor, "restore", request, planned.reason, request.target);
    return { status: "preview", target: request.target, title: planned.plan.title, data: planned.plan.data };
  }

  /** The typed name must be the target's, exactly (case and spaces around aside); anything else runs nothing. */
  async request(actor: Actor, request: RestoreRequest): Promise<RequestResult> {
    const target = this.target(request);
    if (!target.ok) return this.service.refuse(actor, "restore", request, target.reason);
    if (request.typed.trim().toLowerCase() !== request.target.toLowerCase()) {
      return this.service.refuse(actor, "restore", { input: [`#${request.backupId}`, "(typed name did not match)"] }, `You typed something other than ${request.target}: cancelled, nothing ran.`, request.target);
    }
    await this.deps.audit.append({ ...who(actor), action: "restore", target: request.target, args: { backupId: request.backupId }, outcome: "info", operationId: null, detail: { typedTargetName: true } });
    const fourEyes = this.deps.config.fourEyes.includes("restore");
    const handle = target.handle;
    return this.engine.request(actor, "restore", handle, { backupId: request.backupId }, () => planRestore(handle, this.deps, request.backupId), { confirm: fourEyes });
  }

  /**
   * [Choose another…] on a rollback plan: the recent deployments of that plan's target (to go back
   * to what one of them put live). The plan being replaced is cancelled so only one waits.
   */
  async rollbackChoices(actor: Actor, operationId: string, pressedOn: SentMessage | null): Promise<{ status: "choices"; target: string; deployments: DeploymentRecord[]; now: Date } | Refused> {
    const op = await this.deps.repos.operations.get(operationId);
    if (!op || op.kind !== "rollback") return { status: "refused", reason: "This plan is unknown." };
    if (op.status === "awaiting_confirmation") {
      // The plan being replaced is cancelled by the press on its own message (buttons are bound).
      const cancelled = await this.service.cancel(actor, operationId, pressedOn);
      if (cancelled.status === "refused") return { status: "refused", reason: cancelled.text };
    }
    const deployments = (await this.deps.repos.deployments.recent(op.target, 8)).filter((d) => d.sha && d.status === "succeeded");
    if (deployments.length === 0) return { status: "refused", reason: `No earlier successful deployment of ${op.target} is recorded.` };
    return { status: "choices", target: op.target, deployments, now: this.deps.clock.now() };
  }

  /** `/backup drill [target]`: no confirmation (it touches only the scratch database), takes the lock. */
  async drill(actor: Actor, request: TargetRequest): Promise<RequestResult> {
    const target = this.target(request);
    if (!target.ok) return this.service.refuse(actor, "backup", request, target.reason);
    const handle = target.handle;
    return this.engine.request(actor, "backup", handle, { drill: true }, () => planDrill(handle, this.deps), { confirm: false });
  }

  private target(request: TargetRequest): { ok: true; handle: TargetHandle } | { ok: false; reason: string } {
    const handle = lookupTarget(this.deps, request.target);
    if (handle) return { ok: true, handle };
    return { ok: false, reason: `Unknown target ${JSON.stringify(request.target)}.` };
  }
}
