import type { Update } from "grammy/types";

/** What a getUpdates call ends with. */
export type PollResult =
  /** Updates, possibly none when the long poll timed out. */
  | { status: "updates"; updates: Update[] }
  /** A newer getUpdates call took over (Telegram answers the older one with 409). */
  | { status: "conflict" }
  /** The emulator is stopping. */
  | { status: "stopped" };

export interface PollRequest {
  /** getUpdates `offset`; confirms (drops) every update with a smaller id. */
  offset: number | undefined;
  /** 1–100. */
  limit: number;
  /** How long to wait when nothing is pending. 0 answers at once. */
  timeoutMs: number;
  /** Aborted when the client goes away mid-poll. */
  signal: AbortSignal;
}

/**
 * The bot's update queue with getUpdates semantics (bots/api#getupdates): updates stay until a
 * later call's `offset` confirms them, so a bot that dies before confirming gets them again.
 *
 * Updates live in one array with a head index: confirming is moving the head, taking a batch is a
 * slice — O(1) per update, so benchmarks can push tens of thousands through.
 *
 * Redelivery (the same `update_id` again, as Telegram does after an unconfirmed batch) sits in a
 * side list that is exempt from `offset` until delivered, and is served at the *front* of the next
 * batch: grammY derives its next offset from the last update of a batch, so an old id at the end
 * would make it fetch the newer ones twice.
 */
export class UpdateQueue {
  private readonly updates: Update[] = [];
  private head = 0;
  private readonly redeliveries: { update: Update; delivered: boolean }[] = [];
  private nextUpdateId: number;
  private lastEnqueuedId = -Infinity;
  private parked: ParkedPoll | undefined;
  private stopped = false;

  /** @param onChange called whenever `pending` or `polling` may have changed. */
  constructor(
    firstUpdateId: number,
    private readonly onChange: () => void,
  ) {
    this.nextUpdateId = firstUpdateId;
  }

  /** Updates given to the queue and not yet confirmed by the bot. */
  get pending(): number {
    return this.updates.length - this.head + this.redeliveries.length;
  }

  /** True while a getUpdates long poll is waiting for updates. */
  get polling(): boolean {
    return this.parked !== undefined;
  }

  allocateId(): number {
    return this.nextUpdateId++;
  }

  /** Appends an update. Its `update_id` must be new (use `redeliver` for repeats). */
  enqueue(update: Update): void {
    if (update.update_id <= this.lastEnqueuedId) {
      throw new RangeError(
        `update_id ${update.update_id} is not newer than the last one; use redeliver() to send an update again`,
      );
    }
    this.nextUpdateId = Math.max(this.nextUpdateId, update.update_id + 1);
    this.lastEnqueuedId = update.update_id;
    this.updates.push(update);
    this.wakeParkedPoll();
    this.onChange();
  }

  /** Delivers an already delivered update once more, with the same `update_id`. */
  redeliver(update: Update): void {
    this.redeliveries.push({ update, delivered: false });
    this.wakeParkedPoll();
    this.onChange();
  }

  /** deleteWebhook with drop_pending_updates. */
  dropAll(): void {
    this.head = this.updates.length;
    this.redeliveries.length = 0;
    this.compact();
    this.onChange();
  }

  /** One getUpdates call: confirm by offset, then answer at once or wait up to `timeoutMs`. */
  poll(request: PollRequest): Promise<PollResult> {
    if (this.stopped) return Promise.resolve({ status: "stopped" });
    this.parked?.finish({ status: "conflict" });
    if (request.offset !== undefined) this.confirm(request.offset);

    const updates = this.batch(request.limit);
    if (updates.length > 0 || request.timeoutMs <= 0 || request.signal.aborted) {
      this.onChange();
      return Promise.resolve({ status: "updates", updates });
    }

    return new Promise<PollResult>((resolve) => {
      const parked: ParkedPoll = {
        limit: request.limit,
        finish: (result) => {
          if (this.parked === parked) this.parked = undefined;
          clearTimeout(timer);
          request.signal.removeEventListener("abort", onAbort);
          resolve(result);
          this.onChange();
        },
      };
      const timer = setTimeout(() => parked.finish({ status: "updates", updates: [] }), request.timeoutMs);
      const onAbort = () => parked.finish({ status: "updates", updates: [] });
      request.signal.addEventListener("abort", onAbort);
      this.parked = parked;
      this.onChange();
    });
  }

  /** Ends a waiting long poll; later polls answer "stopped" at once. */
  stop(): void {
    this.stopped = true;
    this.parked?.finish({ status: "stopped" });
  }

  private confirm(offset: number): void {
    if (offset < 0) {
      // Negative offset: keep only the last |offset| updates, forget the rest (bots/api#getupdates).
      this.head = Math.max(this.head, this.updates.length + offset);
      this.redeliveries.length = 0;
    } else {
      while (this.head < this.updates.length && this.updates[this.head]!.update_id < offset) this.head++;
      for (let i = this.redeliveries.length - 1; i >= 0; i--) {
        const entry = this.redeliveries[i]!;
        if (entry.delivered && entry.update.update_id < offset) this.redeliveries.splice(i, 1);
      }
    }
    this.compact();
  }

  private batch(limit: number): Update[] {
    const updates: Update[] = [];
    for (const entry of this.redeliveries) {
      if (updates.length >= limit) return updates;
      entry.delivered = true;
      updates.push(entry.update);
    }
    const end = Math.min(this.updates.length, this.head + limit - updates.length);
    for (let i = this.head; i < end; i++) updates.push(this.updates[i]!);
    return updates;
  }

  private wakeParkedPoll(): void {
    const parked = this.parked;
    if (parked === undefined) return;
    const updates = this.batch(parked.limit);
    if (updates.length > 0) parked.finish({ status: "updates", updates });
  }

  /** Forget confirmed updates once they are the bulk of the array (keeps memory flat on long runs). */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.updates.length) {
      this.updates.splice(0, this.head);
      this.head = 0;
    }
  }
}

interface ParkedPoll {
  limit: number;
  finish(result: PollResult): void;
}
