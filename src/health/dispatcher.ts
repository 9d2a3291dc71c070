import type { Logger } from "../infra/logger.js";
import type { Clock, Notifier, SentMessage } from "../shared/ports.js";
import type { AlertRenderer, IncidentStore, MuteStore, OutboxItem, OutboxStore } from "./ports.js";
import type { Incident, IncidentMessage } from "./types.js";
import { muteCovers } from "./types.js";

/**
 * Delivers the alert outbox: oldest first per chat, chats independently. Items of one kind queued
 * for a chat close together go out as ONE message (a burst of 20 dead containers is one alert);
 * edits of one message collapse into one edit. A failure postpones the chat's items (honouring
 * `retry_after`) and keeps them: nothing is dropped unless Telegram refuses it for good.
 *
 * The Notifier already retries briefly (bounded); what reaches us is "not now", so we come back
 * later with a backoff capped at `maxBackoffMs`, forever: an alert is delivered once Telegram
 * answers again.
 */
export interface DispatcherOptions {
  outbox: OutboxStore;
  incidents: IncidentStore;
  mutes: MuteStore;
  render: AlertRenderer;
  notifier: Notifier;
  clock: Clock;
  log: Logger;
  /** How long an `open` waits for others to join it in one message. */
  coalesceMs: number;
  /** Backoff cap between attempts after transient failures. */
  maxBackoffMs?: number;
  /** Look at the outbox at least this often even without a wake-up. */
  pollMs?: number;
}

/** How the dispatcher reads an error from the Notifier (TelegramSendError sets these). */
export type DeliveryErrorClass =
  | { kind: "retry_after"; ms: number }
  | { kind: "permanent"; message: string }
  | { kind: "transient"; message: string };

export function classifyDeliveryError(err: unknown): DeliveryErrorClass {
  const e = err as { retryAfterMs?: unknown; permanent?: unknown; message?: unknown } | null;
  const message = typeof e?.message === "string" ? e.message : String(err);
  if (e && typeof e.retryAfterMs === "number" && e.retryAfterMs >= 0) return { kind: "retry_after", ms: e.retryAfterMs };
  if (e && e.permanent === true) return { kind: "permanent", message };
  return { kind: "transient", message };
}

const BATCH_LIMIT = 500;

export class OutboxDispatcher {
  private readonly store: OutboxStore;
  private readonly incidents: IncidentStore;
  private readonly mutes: MuteStore;
  private readonly render: AlertRenderer;
  private readonly notifier: Notifier;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly coalesceMs: number;
  private readonly maxBackoffMs: number;
  private readonly pollMs: number;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;

  constructor(options: DispatcherOptions) {
    this.store = options.outbox;
    this.incidents = options.incidents;
    this.mutes = options.mutes;
    this.render = options.render;
    this.notifier = options.notifier;
    this.clock = options.clock;
    this.log = options.log;
    this.coalesceMs = options.coalesceMs;
    this.maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.pollMs = options.pollMs ?? 5_000;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Something was queued: look now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Stops after the current round (a send in flight completes and is recorded). */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wakeUp?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      let waitMs = this.pollMs;
      try {
        this.woken = false;
        waitMs = Math.min(waitMs, await this.runOnce());
      } catch (err) {
        this.log.error({ err }, "alert outbox round failed");
        waitMs = 1_000;
      }
      if (this.woken || this.abort.signal.aborted) continue;
      // A wake-up (or stop) aborts the wait; the Clock keeps tests off real timers.
      const wait = new AbortController();
      this.wakeUp = () => wait.abort();
      await this.clock.sleep(Math.max(0, waitMs), wait.signal).catch(() => {});
      this.wakeUp = null;
    }
  }

  /** One pass over the outbox. Returns how long until something else will be due (ms). */
  async runOnce(): Promise<number> {
    const items = await this.store.pending(BATCH_LIMIT);
    const byChat = new Map<number, OutboxItem[]>();
    for (const item of items) {
      const list = byChat.get(item.chatId) ?? [];
      list.push(item);
      byChat.set(item.chatId, list);
    }
    const waits = await Promise.all([...byChat].map(([chatId, list]) => this.deliverChat(chatId, list)));
    return Math.max(0, Math.min(this.pollMs, ...waits));
  }

  /**
   * Delivers one chat's items in order. A postponed head holds back everything behind it, so a
   * recovery never overtakes its alert. Returns ms until the head can go (Infinity when all done).
   */
  private async deliverChat(chatId: number, queue: OutboxItem[]): Promise<number> {
    let rest = queue;
    while (rest.length > 0 && !this.abort.signal.aborted) {
      const head = rest[0] as OutboxItem;
      const now = this.clock.now().getTime();
      const due = head.nextAttemptAt.getTime() - now;
      if (due > 0) return due;
      if (head.kind === "open") {
        const ready = head.createdAt.getTime() + this.coalesceMs - now;
        if (ready > 0) return ready;
      }
      const batch = rest.filter((i) => i.kind === head.kind);
      rest = rest.filter((i) => i.kind !== head.kind);
      const ok = await this.deliverBatch(chatId, head.kind, batch, rest);
      if (!ok) return 0; // postponed: the next round reads the new due time
    }
    return Infinity;
  }

  private async deliverBatch(chatId: number, kind: OutboxItem["kind"], batch: OutboxItem[], later: OutboxItem[]): Promise<boolean> {
    const ids = batch.map((i) => i.id);
    const incidentIds = unique(batch.flatMap((i) => (i.incidentId === null ? [] : [i.incidentId])));
    try {
      switch (kind) {
        case "open": {
          const incidents = (await this.incidents.incidentsByIds(incidentIds)).filter((i) => i.state !== "muted");
          if (incidents.length === 0) {
            await this.store.delivered(ids, this.clock.now(), null, []);
            return true;
          }
          const mutedUntil = await this.mutedUntil();
          const shown = this.render.alertMessage(incidents, mutedUntil);
          const sent = await this.notifier.send(chatId, shown.text, { buttons: shown.buttons });
          await this.store.delivered(ids, this.clock.now(), toMessage(sent), incidents.map((i) => i.id));
          return true;
        }
        case "update": {
          const pendingOpen = new Set(later.filter((i) => i.kind === "open").map((i) => i.incidentId));
          const incidents = await this.incidents.incidentsByIds(incidentIds);
          const messages = new Map<number, IncidentMessage>();
          for (const incident of incidents) {
            // Not shown in this chat yet: the queued open renders the current state anyway.
            if (pendingOpen.has(incident.id)) continue;
            for (const m of incident.messages) if (m.chatId === chatId) messages.set(m.messageId, m);
          }
          const mutedUntil = await this.mutedUntil();
          for (const message of messages.values()) {
            const shown = await this.incidents.incidentsOnMessage(message);
            if (shown.length === 0) continue;
            const view = this.render.alertMessage(shown, mutedUntil);
            await this.notifier.edit(message, view.text, { buttons: view.buttons });
          }
          await this.store.delivered(ids, this.clock.now(), null, []);
          return true;
        }
        case "notice": {
          // Each notice is its own message (an operation's outcome, a frozen target), sent as queued.
          for (const item of batch) {
            await this.notifier.send(chatId, item.text, { html: true });
            await this.store.delivered([item.id], this.clock.now(), null, []);
          }
          return true;
        }
        case "recovery": {
          await this.notifier.send(chatId, this.render.recoveryMessage(batch.map((i) => i.text)));
          await this.store.delivered(ids, this.clock.now(), null, []);
          return true;
        }
        case "reminder": {
          // A reminder that lost its reason while queued (acked, muted, resolved) is dropped.
          const live = new Map((await this.incidents.incidentsByIds(incidentIds)).map((i) => [i.id, i]));
          const keep = batch.filter((i) => i.incidentId !== null && live.get(i.incidentId)?.state === "open");
          if (keep.length > 0) {
            const only = keep.length === 1 && keep[0]?.incidentId != null ? (live.get(keep[0].incidentId) ?? null) : null;
            const view = this.render.reminderMessage(keep.map((i) => i.text), only);
            await this.notifier.send(chatId, view.text, { buttons: view.buttons });
          }
          await this.store.delivered(ids, this.clock.now(), null, []);
          return true;
        }
      }
    } catch (err) {
      await this.postpone(batch, err);
      return false;
    }
  }

  private async postpone(batch: OutboxItem[], err: unknown): Promise<void> {
    const ids = batch.map((i) => i.id);
    const c = classifyDeliveryError(err);
    const now = this.clock.now().getTime();
    if (c.kind === "permanent") {
      this.log.error({ err, items: ids }, "alert refused by Telegram for good; giving up on it");
      await this.store.giveUp(ids, new Date(now), c.message);
      return;
    }
    const attempts = Math.max(...batch.map((i) => i.attempts)) + 1;
    const delay = c.kind === "retry_after" ? c.ms : Math.min(this.maxBackoffMs, 1_000 * 2 ** Math.min(attempts, 16));
    const error = c.kind === "retry_after" ? `rate limited, retry after ${c.ms} ms` : c.message;
    this.log.warn({ err, items: ids, attempts, delayMs: delay }, "alert not delivered yet; will retry");
    await this.store.retryLater(ids, new Date(now + delay), error);
  }

  private async mutedUntil(): Promise<(i: Incident) => Date | null> {
    const mutes = await this.mutes.loadMutes(this.clock.now());
    return (i) => mutes.filter((m) => muteCovers(m.key, i.key)).reduce<Date | null>((a, m) => (a && a > m.until ? a : m.until), null);
  }
}

function toMessage(sent: SentMessage): IncidentMessage {
  return { chatId: sent.chatId, messageId: sent.messageId };
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
