import pino from "pino";
import type { IncidentStore, MuteStore, NewOutboxItem, OutboxItem, OutboxStore } from "../../src/health/ports.js";
import type { Incident, IncidentMessage, Mute } from "../../src/health/types.js";
import type { Clock, MessageOptions, Notifier, SentMessage } from "../../src/shared/ports.js";

/** A clock that only moves when told; sleeps resolve when time passes their end. */
export class FakeClock implements Clock {
  private t: number;
  private sleepers: { until: number; resolve: () => void }[] = [];
  constructor(start = Date.UTC(2026, 10, 22, 12, 0, 0)) {
    this.t = start;
  }
  now(): Date {
    return new Date(this.t);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new Error("aborted"));
      const entry = { until: this.t + ms, resolve };
      this.sleepers.push(entry);
      signal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
    });
  }
  advance(ms: number): void {
    this.t += ms;
    const due = this.sleepers.filter((s) => s.until <= this.t);
    this.sleepers = this.sleepers.filter((s) => s.until > this.t);
    for (const s of due) s.resolve();
  }
}

export const silentLog = pino({ level: "silent" });

/** The store ports over arrays, with the same semantics as the drizzle repos. */
export class MemoryHealthStore implements IncidentStore, MuteStore, OutboxStore {
  incidents = new Map<number, Incident>();
  outbox: (OutboxItem & { deliveredAt: Date | null; givenUpAt: Date | null; lastError: string | null })[] = [];
  mutes = new Map<string, Mute>();
  private nextIncident = 1;
  private nextItem = 1;

  async loadUnresolved(): Promise<Incident[]> {
    return [...this.incidents.values()].filter((i) => i.state !== "resolved").map(clone);
  }
  async loadMutes(now: Date): Promise<Mute[]> {
    return [...this.mutes.values()].filter((m) => m.until > now);
  }
  async saveIncident(incident: Incident, outbox: readonly NewOutboxItem[], at: Date): Promise<number> {
    const id = incident.id === 0 ? this.nextIncident++ : incident.id;
    const messages = this.incidents.get(id)?.messages ?? [];
    this.incidents.set(id, { ...clone(incident), id, messages });
    for (const o of outbox) {
      this.outbox.push({ ...o, id: this.nextItem++, incidentId: id, createdAt: at, attempts: 0, nextAttemptAt: at, deliveredAt: null, givenUpAt: null, lastError: null });
    }
    return id;
  }
  async saveMute(mute: Mute): Promise<void> {
    this.mutes.set(mute.key, { ...mute });
  }
  async incidentsByIds(ids: readonly number[]): Promise<Incident[]> {
    return ids.flatMap((id) => {
      const i = this.incidents.get(id);
      return i ? [clone(i)] : [];
    });
  }
  async incidentsOnMessage(m: IncidentMessage): Promise<Incident[]> {
    return [...this.incidents.values()].filter((i) => i.messages.some((x) => x.chatId === m.chatId && x.messageId === m.messageId)).map(clone);
  }
  async pending(limit: number): Promise<OutboxItem[]> {
    return this.outbox.filter((o) => !o.deliveredAt && !o.givenUpAt).slice(0, limit).map((o) => ({ ...o }));
  }
  async delivered(itemIds: readonly number[], at: Date, message: IncidentMessage | null, attachTo: readonly number[]): Promise<void> {
    for (const o of this.outbox) if (itemIds.includes(o.id)) o.deliveredAt = at;
    if (!message) return;
    for (const id of attachTo) {
      const i = this.incidents.get(id);
      if (i && !i.messages.some((x) => x.chatId === message.chatId && x.messageId === message.messageId)) i.messages.push({ ...message });
    }
  }
  async retryLater(itemIds: readonly number[], nextAttemptAt: Date, error: string): Promise<void> {
    for (const o of this.outbox)
      if (itemIds.includes(o.id)) {
        o.attempts++;
        o.nextAttemptAt = nextAttemptAt;
        o.lastError = error;
      }
  }
  async deleteMute(key: string): Promise<void> {
    this.mutes.delete(key);
  }
  async pruneDelivered(before: Date): Promise<number> {
    const keep = this.outbox.filter((o) => !o.deliveredAt || o.deliveredAt >= before);
    const n = this.outbox.length - keep.length;
    this.outbox = keep;
    return n;
  }
  async giveUp(itemIds: readonly number[], at: Date, error: string): Promise<void> {
    for (const o of this.outbox)
      if (itemIds.includes(o.id)) {
        o.givenUpAt = at;
        o.lastError = error;
      }
  }
}

function clone(i: Incident): Incident {
  return { ...i, key: { ...i.key }, messages: i.messages.map((m) => ({ ...m })) };
}

export interface Call {
  method: "send" | "edit" | "sendDocument";
  chatId: number;
  messageId?: number;
  text: string;
  options?: MessageOptions;
}

/** A Notifier that records calls; `failWith` makes the next calls throw. */
export class RecordingNotifier implements Notifier {
  calls: Call[] = [];
  failures: unknown[] = [];
  private nextId = 100;
  async send(chatId: number, text: string, options?: MessageOptions): Promise<SentMessage> {
    const f = this.failures.shift();
    if (f) throw f;
    this.calls.push({ method: "send", chatId, text, options });
    return { chatId, messageId: this.nextId++ };
  }
  async edit(message: SentMessage, text: string, options?: MessageOptions): Promise<void> {
    const f = this.failures.shift();
    if (f) throw f;
    this.calls.push({ method: "edit", chatId: message.chatId, messageId: message.messageId, text, options });
  }
  async sendDocument(chatId: number, filename: string): Promise<SentMessage> {
    this.calls.push({ method: "sendDocument", chatId, text: filename });
    return { chatId, messageId: this.nextId++ };
  }
  sends(): Call[] {
    return this.calls.filter((c) => c.method === "send");
  }
  edits(): Call[] {
    return this.calls.filter((c) => c.method === "edit");
  }
}
