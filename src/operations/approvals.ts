import { redactText } from "../shared/redact.js";
import { randomBytes } from "node:crypto";
import { escapeHtml, formatDuration } from "../shared/format.js";
import type { OperationDefinition, OperationsDeps, PlanOutcome, StoredPlan, TargetHandle } from "./context.js";
import { describeLock } from "./errors.js";
import type { TargetLocks } from "./lock.js";
import type { OperationKind, OperationRecord } from "./model.js";
import type { Actor, InlineButton, SentMessage } from "../shared/ports.js";
import { auditFor, header, runOperation, safe } from "./runner.js";

/** `callback_data` of the buttons: `op:c:<id>` confirms, `op:x:<id>` cancels (≤ 64 bytes). */
export const CONFIRM_PREFIX = "op:c:";
export const CANCEL_PREFIX = "op:x:";
/** Matches both buttons; group 1 is `c` or `x`, group 2 the operation id. */
export const BUTTON_DATA_PATTERN = /^op:([cx]):([A-Za-z0-9_-]{16})$/;

/** A fresh operation id: 96 random bits, url-safe, 16 characters. */
export function newOperationId(): string {
  return randomBytes(12).toString("base64url");
}

export function confirmButtons(id: string): InlineButton[][] {
  return [[{ text: "✅ Confirm", data: `${CONFIRM_PREFIX}${id}` }, { text: "✖ Cancel", data: `${CANCEL_PREFIX}${id}` }]];
}

export type RequestResult =
  /** A plan waits under [Confirm] [Cancel]; `message` is null when the chat could not be reached. */
  | { status: "planned"; operationId: string; title: string; message: SentMessage | null }
  /** Ran without confirmation (backup); `done` settles when it has finished. */
  | { status: "started"; operationId: string; title: string; done: Promise<OperationRecord> }
  /** Nothing will run; `reason` is plain text for the person who asked. */
  | { status: "refused"; reason: string; operationId?: string };

export type ButtonResult =
  /** The press took effect. `text` answers the button (≤ 200 chars). */
  | { status: "confirmed"; operationId: string; text: string; done: Promise<OperationRecord> }
  | { status: "cancelled"; operationId: string; text: string }
  /** The press changed nothing; `text` says why. */
  | { status: "refused"; text: string };

/**
 * The approval state machine (StackStorm: approvals are state, not a chat trick). A request becomes
 * an `operations` row awaiting confirmation with an expiry; a press claims it with one conditional
 * UPDATE; every transition leaves an audit row carrying the operation id.
 */
export class OperationEngine {
  private readonly running = new Map<string, Promise<OperationRecord>>();
  private readonly abort = new AbortController();

  constructor(
    private readonly deps: OperationsDeps,
    readonly locks: TargetLocks,
    private readonly definitions: ReadonlyMap<OperationKind, OperationDefinition<never>>,
  ) {}

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
    const definition = this.definition(kind);
    if (definition.usesLock) {
      const held = await this.locks.current(target.name);
      if (held) {
        const reason = describeLock(held, clock.now());
        await audit.append({ ...who(actor), action: kind, target: target.name, args, outcome: "denied", operationId: null, detail: { reason: "busy", lock: lockInfo(held) } });
        return { status: "refused", reason };
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

    if (!options.confirm) return this.startWithoutConfirmation(op, plan, actor, target);

    const expiresAt = new Date(clock.now().getTime() + this.deps.config.confirmTimeoutSeconds * 1000);
    const waiting = await repos.operations.transition(op.id, ["requested"], "awaiting_confirmation", { plan, expiresAt });
    if (!waiting) return { status: "refused", reason: "The request changed state while it was being planned.", operationId: op.id };
    await audit.append(auditFor(waiting, actor, "info", { status: "awaiting_confirmation", expiresAt: expiresAt.toISOString() }));

    const text = `${header(plan)}\n${plan.html}\n<i>Requested by ${mention(actor)} · expires in ${formatTimeout(this.deps.config.confirmTimeoutSeconds)}${this.deps.config.fourEyes.includes(op.kind) ? " · someone else must confirm" : ""}</i>`;
    const message = await safe(log, () => this.deps.notifier.send(actor.chatId, text, { html: true, buttons: confirmButtons(op.id) }));
    if (message) await repos.operations.setMessage(op.id, message.chatId, message.messageId);
    return { status: "planned", operationId: op.id, title: plan.title, message };
  }

  /** A press on [Confirm]. Answers fast: the work itself runs in the background (`done`). */
  async confirm(id: string, actor: Actor): Promise<ButtonResult> {
    const { repos, clock, audit } = this.deps;
    const op = await repos.operations.get(id);
    if (!op) return { status: "refused", text: "This confirmation is unknown." };
    if (op.status !== "awaiting_confirmation") return { status: "refused", text: explain(op) };
    if (this.deps.config.fourEyes.includes(op.kind) && op.requestedBy === actor.userId) {
      await audit.append(auditFor(op, actor, "denied", { reason: "four eyes: the requester may not confirm" }));
      return { status: "refused", text: "Four eyes: someone other than the requester must confirm." };
    }
    const now = clock.now();
    if (op.expiresAt && op.expiresAt.getTime() <= now.getTime()) {
      await this.expire(op);
      return { status: "refused", text: "This confirmation expired. Nothing ran; ask again." };
    }
    const definition = this.definition(op.kind);
    const plan = op.plan as StoredPlan;
    if (definition.usesLock) {
      const lock = await this.locks.acquire({
        target: op.target,
        operationId: op.id,
        holderUserId: op.requestedBy,
        holderName: op.requestedByName,
        reason: plan.lockReason,
      });
      if (lock.status === "held") {
        if (lock.lock.operationId === op.id) return { status: "refused", text: "Already confirmed — it is running." };
        const reason = describeLock(lock.lock, now);
        await audit.append(auditFor(op, actor, "info", { reason: "busy", lock: lockInfo(lock.lock) }, `${op.kind}.confirm`));
        return { status: "refused", text: `${reason} Press Confirm again once it is free.` };
      }
    }
    let claimed: Awaited<ReturnType<typeof repos.operations.claim>>;
    try {
      claimed = await repos.operations.claim(id, { userId: actor.userId, now, excludeRequester: this.deps.config.fourEyes.includes(op.kind) });
    } catch (err) {
      // Not claimed: the lock we just took must not outlive this press.
      if (definition.usesLock) await this.locks.release(op.target, op.id).catch(() => {});
      throw err;
    }
    if (!claimed) {
      if (definition.usesLock) await this.locks.release(op.target, op.id);
      const current = await repos.operations.get(id);
      return { status: "refused", text: current ? explain(current) : "This confirmation is unknown." };
    }
    try {
      await audit.append(auditFor(claimed, actor, "confirmed", null));
    } catch (err) {
      await repos.operations
        .transition(id, ["confirmed"], "failed", { finishedAt: clock.now(), error: "audit log unavailable" })
        .catch(() => null);
      if (definition.usesLock) await this.locks.release(op.target, op.id).catch(() => {});
      throw err;
    }
    const done = this.launch(claimed, actor);
    return { status: "confirmed", operationId: id, text: `Confirmed — ${plan.title} is running.`, done };
  }

  /** A press on [Cancel]: only a plan still waiting can be cancelled. */
  async cancel(id: string, actor: Actor): Promise<ButtonResult> {
    const { repos, clock, audit, notifier, log } = this.deps;
    const op = await repos.operations.transition(id, ["awaiting_confirmation"], "cancelled", { finishedAt: clock.now() });
    if (!op) {
      const current = await repos.operations.get(id);
      return { status: "refused", text: current ? explain(current) : "This confirmation is unknown." };
    }
    await audit.append(auditFor(op, actor, "cancelled", null));
    const plan = op.plan as StoredPlan;
    if (op.chatId !== null && op.messageId !== null) {
      await safe(log, () => notifier.edit({ chatId: op.chatId!, messageId: op.messageId! }, `${header(plan)}\n✖ Cancelled by ${mention(actor)}. Nothing ran.`, { html: true, buttons: [] }));
    }
    return { status: "cancelled", operationId: id, text: "Cancelled. Nothing ran." };
  }

  /** Expires every plan past its deadline (the sweeper calls this every few seconds). */
  async expireDue(): Promise<number> {
    const expired = await this.deps.repos.operations.expireDue(this.deps.clock.now());
    for (const op of expired) await this.reportExpired(op);
    return expired.length;
  }

  /** Operations started by this process that have not finished yet. */
  inFlight(): Promise<OperationRecord>[] {
    return [...this.running.values()];
  }

  /** Waits for every operation this process started (tests; graceful stop). */
  async whenIdle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /** Asks running operations to stop at their next command (they end as failed). */
  abortAll(reason: string): void {
    this.abort.abort(new Error(reason));
  }

  private async expire(op: OperationRecord): Promise<void> {
    const expired = await this.deps.repos.operations.transition(op.id, ["awaiting_confirmation"], "expired", { finishedAt: this.deps.clock.now() });
    if (expired) await this.reportExpired(expired);
  }

  private async reportExpired(op: OperationRecord): Promise<void> {
    const { audit, notifier, log } = this.deps;
    await audit.append(auditFor(op, null, "expired", { expiresAt: op.expiresAt?.toISOString() }));
    if (op.chatId !== null && op.messageId !== null) {
      const plan = op.plan as StoredPlan | null;
      const title = plan ? header(plan) : escapeHtml(`${op.kind} ${op.target}`);
      await safe(log, () => notifier.edit({ chatId: op.chatId!, messageId: op.messageId! }, `${title}\n⌛ Expired: nobody confirmed in time. Nothing ran.`, { html: true, buttons: [] }));
    }
  }

  private async startWithoutConfirmation(op: OperationRecord, plan: StoredPlan, actor: Actor, target: TargetHandle): Promise<RequestResult> {
    const { repos, clock, audit, notifier, log } = this.deps;
    const definition = this.definition(op.kind);
    const withPlan = await repos.operations.transition(op.id, ["requested"], "requested", { plan });
    if (!withPlan) return { status: "refused", reason: "The request changed state while it was being planned.", operationId: op.id };
    if (definition.usesLock) {
      const lock = await this.locks.acquire({ target: target.name, operationId: op.id, holderUserId: actor.userId, holderName: actor.username, reason: plan.lockReason });
      if (lock.status === "held") {
        const reason = describeLock(lock.lock, clock.now());
        await repos.operations.transition(op.id, ["requested"], "failed", { finishedAt: clock.now(), error: reason });
        await audit.append(auditFor(op, actor, "failed", { reason: "busy", lock: lockInfo(lock.lock) }));
        return { status: "refused", reason, operationId: op.id };
      }
    }
    const message = await safe(log, () => notifier.send(actor.chatId, `${header(plan)}\n⏳ starting…`, { html: true }));
    if (message) await repos.operations.setMessage(op.id, message.chatId, message.messageId);
    const current = { ...withPlan, chatId: message?.chatId ?? withPlan.chatId, messageId: message?.messageId ?? null };
    return { status: "started", operationId: op.id, title: plan.title, done: this.launch(current, actor) };
  }

  /** Starts an operation in the background and keeps track of it until it ends. */
  launch(op: OperationRecord, confirmedBy: Actor): Promise<OperationRecord> {
    const handle = this.target(op.target);
    const definition = this.definition(op.kind);
    const done = (async () => {
      if (!handle) {
        await this.deps.repos.operations.transition(op.id, ["confirmed", "requested"], "failed", { finishedAt: this.deps.clock.now(), error: `unknown target ${op.target}` });
        if (definition.usesLock) await this.locks.release(op.target, op.id);
        return (await this.deps.repos.operations.get(op.id)) ?? op;
      }
      return runOperation({ deps: this.deps, locks: this.locks, definition, op, target: handle, confirmedBy, signal: this.abort.signal });
    })().finally(() => this.running.delete(op.id));
    this.running.set(op.id, done);
    return done;
  }

  private target(name: string): TargetHandle | null {
    const config = this.deps.config.targets[name];
    const ports = this.deps.targets[name];
    return config && ports ? { name, config, ports } : null;
  }

  private definition(kind: OperationKind): OperationDefinition {
    const definition = this.definitions.get(kind);
    if (!definition) throw new Error(`no definition for operation kind ${kind}`);
    return definition as OperationDefinition;
  }
}

/** "5 min", "90 s": how long a plan stays valid. */
export function formatTimeout(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} min` : formatDuration(seconds * 1000);
}

/** Audit "who" fields for an actor. */
export function who(actor: Actor) {
  return { chatId: actor.chatId, userId: actor.userId, username: actor.username };
}

/** "@alice" or "user 42", HTML-escaped. */
export function mention(actor: { userId: number | null; username: string | null }): string {
  return actor.username ? `@${escapeHtml(actor.username)}` : `user ${actor.userId ?? "?"}`;
}

function lockInfo(lock: { kind: string; operationId: string | null; holderName: string | null; reason: string | null; since: Date }) {
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
