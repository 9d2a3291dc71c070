import type { Clock, MessageOptions, Notifier, SentMessage } from "../../shared/ports.js";
import type { OpsLogger } from "../../operations/model.js";

/** Telegram allows about one message (or edit) per second per chat; progress stays under it. */
export const MIN_EDIT_INTERVAL_MS = 1_000;
/** Telegram's limit for a message text, after entity parsing. */
export const MAX_MESSAGE_CHARS = 4096;

/**
 * The one message an operation lives in. `update` may be called as often as steps change; edits
 * are coalesced to at most one per `minIntervalMs` (the latest text wins). `finish` sends the final
 * text at once. A failed edit is logged and never thrown into the operation: the work must not
 * depend on the chat being up.
 */
export class ProgressMessage {
  private pending: string | null = null;
  private lastText: string | null = null;
  private lastEditAt = Number.NEGATIVE_INFINITY;
  private loop: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private finished = false;

  constructor(
    private readonly notifier: Notifier,
    readonly message: SentMessage,
    private readonly clock: Clock,
    private readonly log: OpsLogger,
    private readonly minIntervalMs: number = MIN_EDIT_INTERVAL_MS,
  ) {}

  /** Schedules `html` to be shown; returns at once. */
  update(html: string): void {
    if (this.finished) return;
    this.pending = html;
    this.loop ??= this.drain().finally(() => {
      this.loop = null;
    });
  }

  /** Shows the final text now (skipping the rate wait) and stops further updates. */
  /** The final edit, at once; false when it could not be delivered (the caller has a durable path). */
  async finish(html: string, options: MessageOptions = {}): Promise<boolean> {
    this.finished = true;
    this.pending = null;
    this.abort.abort();
    await this.loop;
    return this.edit(html, { buttons: [], ...options });
  }

  private async drain(): Promise<void> {
    while (this.pending !== null && !this.finished) {
      const wait = this.lastEditAt + this.minIntervalMs - this.clock.now().getTime();
      if (wait > 0) {
        try {
          await this.clock.sleep(wait, this.abort.signal);
        } catch {
          return; // finish() took over
        }
      }
      const text = this.pending;
      this.pending = null;
      if (text === null || this.finished) return;
      if (text === this.lastText) continue;
      await this.edit(text, { buttons: [] });
    }
  }

  private async edit(html: string, options: MessageOptions): Promise<boolean> {
    this.lastEditAt = this.clock.now().getTime();
    this.lastText = html;
    try {
      // This class paces its own edits (and the final one must not wait): no second gap in the notifier.
      await this.notifier.edit(this.message, clip(html), { html: true, unpaced: true, ...options });
      return true;
    } catch (err) {
      this.log.warn({ err, message: this.message }, "could not edit the progress message");
      return false;
    }
  }
}

/** Keeps a text within one Telegram message; callers send the long part as a document. */
export function clip(text: string, max = MAX_MESSAGE_CHARS): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max - 2)} …`;
}
