import { redactText } from "../shared/redact.js";
import { randomBytes } from "node:crypto";
import type { OperationDefinition, OperationsDeps, PlanOutcome, StoredPlan, TargetHandle } from "./context.js";
import { auditFor } from "./journal.js";
import { OperationLauncher } from "./launch.js";
import type { TargetLocks } from "./lock.js";
import type { LockRecord, OperationKind, OperationRecord } from "./model.js";
import type { Actor, SentMessage } from "../shared/ports.js";
import type { Busy } from "./requests.js";

/** A fresh operation id: 96 random bits, url-safe, 16 characters. */
export function newOperationId(): string {
  return randomBytes(12).toString("base64url");
}

export type RequestResult =
  /** A plan waits under [Confirm] [Cancel]; `message` is null when the chat could not be reached. */
  | { status: "planned"; operationId: string; title: string; message: SentMessage | null }
  /** Ran without confirmation (backup); `done` settles when it has finished. */
  | { status: "started"; operationId: string; title: string; done: Promise<OperationRecord> }
  /** Someone holds the target: nothing will run (bot/ says who, doing what, since when). */
  | Busy
  /** Nothing will run; `reason` is plain text for the person who asked. */
  | { status: "refused"; reason: string; operationId?: string };

export type ButtonResult =
  /** The press took effect. `text` answers the button (≤ 200 chars). */
  | { status: "confirmed"; operationId: string; text: string; done: Promise<OperationRecord> }
  | { status: "cancelled"; operationId: string; text: string }
  /** Another operation holds the target; the plan stays valid, press again once it is free. */
  | Busy
  /** The press changed nothing; `text` says why. */
  | { status: "refused"; text: string };

/**
 * The approval state machine (StackStorm: approvals are state, not a chat trick). A request becomes
 * an `operations` row awaiting confirmation with an expiry; a press claims it with one conditional
 * UPDATE; every transition leaves an audit row carrying the operation id.
 */
export class OperationEngine {
  private readonly launcher: OperationLauncher;

  constructor(
    private readonly deps: OperationsDeps,
    readonly locks: TargetLocks,
    private readonly definitionOf: (kind: OperationKind) => OperationDefinition,
  ) {
    this.launcher = new OperationLauncher(deps, locks, definitionOf);
  }

  /**
   * Plans an operation and, when it needs confirmation, posts the plan under the buttons; otherwise
   * takes the lock and starts it. The `requested` audit row is committed before planning touches
   * the target.
   */
  async request<Data>(
    actor: Actor,
    kind: OperationKind,
    target: TargetHandle,
    args: Record<string, unknown>,
    planner: () => Promise<PlanOutcome<Data>>,
    options: { confirm: boolean },
  ): Promise<RequestResult> {
    const { repos, clock, audit, log } = this.deps;
    const definition = this.definitionOf(kind);
    if (definition.usesLock) {
      const held = await this.locks.current(target.name);
      if (held) {
        await audit.append({ ...who(actor), action: kind, target: target.name, args, outcome: "denied", operationId: null, detail: { reason: "busy", lock: lockInfo(held) } });
        return { status: "busy", lock: held, at: clock.now() };
      }
    }
    const op = await repos.operations.insert({
      id: newOperationId(),
      kind,
      target: target.name,
      status: "requested",
      args,
      chatId: actor.chatId,
      requestedBy: actor.userId,
      requestedByName: actor.username,
      createdAt: clock.now(),
    });
    try {
      await audit.append(auditFor(op, actor, "requested", null));
    } catch (err) {
      await repos.operations.transition(op.id, ["requested"], "failed", { finishedAt: clock.now(), error: "audit log unavailable" });
      throw err;
    }

    let planned: PlanOutcome<Data>;
    try {
      planned = await planner();
    } catch (err) {
      log.warn({ err, operationId: op.id }, "planning failed");
      planned = { status: "refused", reason: `Could not plan ${kind} on ${target.name}: ${err instanceof Error ? err.message : String(err)}` };
    }
    // Refusals quote git's or the target's own error text: mask secrets before chat and audit.
    if (planned.status === "refused") planned = { ...planned, reason: redactText(planned.reason) };
    if (planned.status === "refused") {
      await repos.operations.transition(op.id, ["requested"], "failed", { finishedAt: clock.now(), error: planned.reason });
      await audit.append(auditFor(op, actor, "failed", { phase: "plan", reason: planned.reason }));
      return { status: "refused", reason: planned.reason, operationId: op.id };
    }
    const plan = planned.plan;

    if (!options.confirm) return this.startWithoutConfirmation(op, plan, actor);

    const expiresAt = new Date(clock.now().getTime() + this.deps.config.confirmTimeoutSeconds * 1000);
    const waiting = await repos.operations.transition(op.id, ["requested"], "awaiting_confirmation", { plan, expiresAt });
    if (!waiting) return { status: "refused", reason: "The request changed state while it was being planned.", operationId: op.id };
    await audit.append(auditFor(waiting, actor, "info", { status: "awaiting_confirmation", expiresAt: expiresAt.toISOString() }));

    const message = await this.deps.reporter.planned(waiting, { requester: actor, expiresInSeconds: this.deps.config.confirmTimeoutSeconds, fourEyes: this.deps.config.fourEyes.includes(op.kind) });
    if (message) await repos.operations.setMessage(op.id, message.chatId, message.messageId);
    return { status: "planned", operationId: op.id, title: plan.title, message };
  }

  /**
   * A press on [Confirm]. Answers fast: the work itself runs in the background (`done`).
   * `pressedOn` is the message the button sat on: only the plan's own message, in its chat, counts.
   */
  async confirm(id: string, actor: Actor, pressedOn: SentMessage | null, variant: { restoreDatabase?: boolean } = {}): Promise<ButtonResult> {
    const { repos, clock, audit } = this.deps;
    const op = await repos.operations.get(id);
    if (!op) return { status: "refused", text: "This confirmation is unknown." };
    if (op.status !== "awaiting_confirmation") return { status: "refused", text: explain(op) };
    const unbound = await this.refuseUnbound(op, actor, pressedOn, "confirm");
    if (unbound || !pressedOn) return unbound ?? UNBOUND;
    // [Code + restore DB] exists only on a rollback plan that offered a database backup.
    if (variant.restoreDatabase && !(op.plan as StoredPlan<{ dbBackup?: unknown }> | null)?.data?.dbBackup) return { status: "refused", text: "This plan has no database restore." };
    const fourEyes = this.deps.config.fourEyes.includes(op.kind);
    if (fourEyes && op.requestedBy === actor.userId) {
      await audit.append(auditFor(op, actor, "denied", { reason: "four eyes: the requester may not confirm" }));
      return { status: "refused", text: "Four eyes: someone other than the requester must confirm." };
    }
    const now = clock.now();
    if (op.expiresAt && op.expiresAt.getTime() <= now.getTime()) {
      await this.expire(op);
      return { status: "refused", text: "This confirmation expired. Nothing ran; ask again." };
    }
    const plan = op.plan as StoredPlan;
    const started = await this.launcher.start(op, plan.lockReason, async () => {
      // Claimed inside the hold on the target: of two presses, one claims and one finds it taken.
      // The UPDATE also binds the press to the plan's chat and message, and (four eyes) to another person.
      const claimed = await repos.operations.claim(id, { userId: actor.userId, now, excludeRequester: fourEyes, on: pressedOn });
      if (!claimed) {
        const current = await repos.operations.get(id);
        const refused: ButtonResult = { status: "refused", text: current ? explain(current) : "This confirmation is unknown." };
        return { run: null, answer: refused };
      }
      try {
        await audit.append(auditFor(claimed, actor, "confirmed", variant.restoreDatabase ? { restoreDatabase: true } : null));
      } catch (err) {
        await repos.operations.transition(id, ["confirmed"], "failed", { finishedAt: clock.now(), error: "audit log unavailable" }).catch(() => null);
        throw err;
      }
      const run = variant.restoreDatabase ? { ...claimed, plan: { ...plan, data: { ...(plan.data as object), restoreDatabase: true } } } : claimed;
      return { run, confirmedBy: actor, answer: null };
    });
    if (started.status === "held") {
      if (started.lock.operationId === op.id) return { status: "refused", text: "Already confirmed — it is running." };
      await audit.append(auditFor(op, actor, "info", { reason: "busy", lock: lockInfo(started.lock) }, `${op.kind}.confirm`));
      return { status: "busy", lock: started.lock, at: now, operationId: op.id };
    }
    if (started.answer) return started.answer;
    return { status: "confirmed", operationId: id, text: `Confirmed — ${plan.title} is running.`, done: started.done };
  }

  /** A press on [Cancel]: only a plan still waiting can be cancelled, and only on its own message. */
  async cancel(id: string, actor: Actor, pressedOn: SentMessage | null): Promise<ButtonResult> {
    const { repos, clock, audit, reporter } = this.deps;
    const waiting = await repos.operations.get(id);
    if (!waiting) return { status: "refused", text: "This confirmation is unknown." };
    if (waiting.status === "awaiting_confirmation") {
      const unbound = await this.refuseUnbound(waiting, actor, pressedOn, "cancel");
      if (unbound) return unbound;
    }
    const cancelled = await repos.operations.transition(id, ["awaiting_confirmation"], "cancelled", { finishedAt: clock.now() });
    if (!cancelled) {
      const current = await repos.operations.get(id);
      return { status: "refused", text: current ? explain(current) : "This confirmation is unknown." };
    }
    const op = await this.withMessage(cancelled, pressedOn);
    await audit.append(auditFor(op, actor, "cancelled", null));
    await reporter.cancelled(op, actor);
    return { status: "cancelled", operationId: id, text: "Cancelled. Nothing ran." };
  }

  /**
   * Buttons are bound to the message that carries the plan, in its chat: `/audit` shows operation
   * ids in every admin chat, so a modified client could otherwise press chat A's Confirm from chat B.
   * Returns the refusal (audited) for a press anywhere else, or null.
   */
  private async refuseUnbound(op: OperationRecord, actor: Actor, pressedOn: SentMessage | null, press: "confirm" | "cancel"): Promise<ButtonResult | null> {
    if (pressedOn && op.chatId === pressedOn.chatId && (op.messageId === null || op.messageId === pressedOn.messageId)) return null;
    const where = pressedOn ? { chatId: pressedOn.chatId, messageId: pressedOn.messageId } : null;
    await this.deps.audit.append(auditFor(op, actor, "denied", { reason: "button not on its plan message", press, pressedOn: where }));
    return UNBOUND;
  }

  /**
   * A cancel can overtake the write that records where the plan was posted (the button is live as
   * soon as Telegram has the message). The press names that message, so the edit still finds it.
   */
  private async withMessage(op: OperationRecord, pressedOn: SentMessage | null): Promise<OperationRecord> {
    if (op.messageId !== null || !pressedOn || op.chatId !== pressedOn.chatId) return op;
    await this.deps.repos.operations.setMessage(op.id, pressedOn.chatId, pressedOn.messageId);
    return { ...op, messageId: pressedOn.messageId };
  }

  /** Expires every plan past its deadline (the sweeper calls this every few seconds). */
  async expireDue(): Promise<number> {
    const expired = await this.deps.repos.operations.expireDue(this.deps.clock.now());
    for (const op of expired) await this.reportExpired(op);
    return expired.length;
  }

  /** Operations started by this process that have not finished yet. */
  inFlight(): Promise<OperationRecord>[] {
    return this.launcher.inFlight();
  }

  /** Waits for every operation this process started (tests; graceful stop). */
  async whenIdle(): Promise<void> {
    await this.launcher.whenIdle();
  }


  private async expire(op: OperationRecord): Promise<void> {
    const expired = await this.deps.repos.operations.transition(op.id, ["awaiting_confirmation"], "expired", { finishedAt: this.deps.clock.now() });
    if (expired) await this.reportExpired(expired);
  }

  private async reportExpired(op: OperationRecord): Promise<void> {
    await this.deps.audit.append(auditFor(op, null, "expired", { expiresAt: op.expiresAt?.toISOString() }));
    await this.deps.reporter.expired(op);
  }

  private async startWithoutConfirmation(op: OperationRecord, plan: StoredPlan, actor: Actor): Promise<RequestResult> {
    const { repos, clock, audit, reporter } = this.deps;
    const withPlan = await repos.operations.transition(op.id, ["requested"], "requested", { plan });
    if (!withPlan) return { status: "refused", reason: "The request changed state while it was being planned.", operationId: op.id };
    const started = await this.launcher.start(withPlan, plan.lockReason, async () => {
      const message = await reporter.starting(withPlan);
      if (message) await repos.operations.setMessage(op.id, message.chatId, message.messageId);
      const current = { ...withPlan, chatId: message?.chatId ?? withPlan.chatId, messageId: message?.messageId ?? null };
      return { run: current, confirmedBy: actor, answer: null };
    });
    if (started.status === "held") {
      await repos.operations.transition(op.id, ["requested"], "failed", { finishedAt: clock.now(), error: `busy: ${started.lock.kind} ${started.lock.reason ?? ""}`.trim() });
      await audit.append(auditFor(op, actor, "failed", { reason: "busy", lock: lockInfo(started.lock) }));
      return { status: "busy", lock: started.lock, at: clock.now(), operationId: op.id };
    }
    return { status: "started", operationId: op.id, title: plan.title, done: started.done };
  }
}

const UNBOUND: ButtonResult = { status: "refused", text: "This button does not belong to this message. Nothing ran." };

/** Audit "who" fields for an actor. */
export function who(actor: Actor) {
  return { chatId: actor.chatId, userId: actor.userId, username: actor.username };
}

/** A lock as kept in audit rows. */
export function lockInfo(lock: LockRecord) {
  return { kind: lock.kind, operationId: lock.operationId, holder: lock.holderName, reason: lock.reason, since: lock.since.toISOString() };
}

/** Why a press on an operation in this state changes nothing. */
export function explain(op: OperationRecord): string {
  switch (op.status) {
    case "requested":
      return "This request is still being planned.";
    case "awaiting_confirmation":
      return "This is still waiting for confirmation.";
    case "confirmed":
    case "running":
      return "Already confirmed — it is running.";
    case "succeeded":
    case "failed":
    case "rolled_back":
      return `Already done: ${op.status.replace("_", " ")}.`;
    case "cancelled":
      return "This was cancelled. Nothing ran.";
    case "expired":
      return "This confirmation expired. Nothing ran; ask again.";
    case "denied":
      return "This was denied.";
    case "interrupted":
      return "This was interrupted by a restart.";
  }
}
