import { randomInt } from "node:crypto";
import type { UserFromGetMe } from "grammy/types";
import { BotCommands } from "./bot-commands.js";
import { recentCalls, truncate } from "./call-log.js";
import { CallbackQueries } from "./callback-queries.js";
import { EmulatorTimeoutError } from "./errors.js";
import { ChatDirectory, chatIdOf } from "./identities.js";
import { MessageStore } from "./message-store.js";
import type { ApiCall, BotMessage, CallbackAnswer, ChatRef, CommandsUpdate, MessageEdit, SentDocument } from "./types.js";
import { UpdateQueue } from "./update-queue.js";

const DEFAULT_WAIT_MS = 5_000;

interface IdleWaiter {
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The emulator's state as tests read it: what the bot did, and race-free waiting for it. The
 * `BotApiEmulator` subclass adds the HTTP side, acting as users and fault injection.
 */
export abstract class RecordedBotApi {
  /** Every HTTP call to a `/bot<token>/<method>` URL (any token), getUpdates included. */
  abstract readonly calls: ApiCall[];

  protected readonly chats = new ChatDirectory();
  protected readonly store: MessageStore;
  protected readonly queries: CallbackQueries;
  protected readonly botCommands = new BotCommands();
  protected readonly queue: UpdateQueue;
  private readonly idleWaiters = new Set<IdleWaiter>();

  protected constructor(botUser: UserFromGetMe, callbackQueryTtlMs: number, now: (() => number) | undefined) {
    this.store = new MessageStore(this.chats, botUser);
    this.queries = new CallbackQueries(callbackQueryTtlMs, now);
    // Telegram's update ids start "from a certain positive number"; a random start keeps tests from assuming 1.
    this.queue = new UpdateQueue(randomInt(100_000_000, 900_000_000), () => this.checkIdle());
  }

  /** Calls other than getUpdates not answered yet. */
  protected abstract get callsInFlight(): number;

  // ------------------------------------------------------------------ what the bot did

  /** Every message the bot sent (text and documents), oldest first, with their current state. */
  get messages(): readonly BotMessage[] {
    return this.store.messages.items;
  }

  /** Every successful edit, oldest first. */
  get edits(): readonly MessageEdit[] {
    return this.store.edits.items;
  }

  /** Every accepted answerCallbackQuery, oldest first. */
  get callbackAnswers(): readonly CallbackAnswer[] {
    return this.queries.answers.items;
  }

  /** Every document the bot sent, oldest first. */
  get documents(): readonly SentDocument[] {
    return this.store.documents.items;
  }

  /** Every accepted setMyCommands, oldest first. */
  get commands(): CommandsUpdate[] {
    return this.botCommands.history;
  }

  /** The bot's message `messageId` in `chat`, in its current state. */
  message(chat: ChatRef, messageId: number): BotMessage | undefined {
    return this.store.botMessage(chatIdOf(chat), messageId);
  }

  /** Updates enqueued and not yet confirmed by the bot (getUpdates with a higher offset). */
  get pendingUpdates(): number {
    return this.queue.pending;
  }

  /** True while the bot's getUpdates long poll is parked here waiting for updates. */
  get longPolling(): boolean {
    return this.queue.polling;
  }

  // ------------------------------------------------------------------ waiting

  /**
   * The oldest bot message not yet taken by an earlier `waitForMessage` that matches `predicate`
   * — sent before this call or after it, so tests do not race the bot. The predicate sees the
   * message as it was sent (edits are `waitForEdit`'s business), so a match never depends on
   * timing; the promise resolves with the live record. On timeout, rejects with an
   * `EmulatorTimeoutError` that lists the bot's recent calls.
   */
  waitForMessage(predicate?: (message: BotMessage) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<BotMessage> {
    const asSent = (message: BotMessage): BotMessage => ({
      ...message,
      text: message.history[0]!.text,
      replyMarkup: message.history[0]!.replyMarkup,
    });
    return this.store.messages.take(
      (message) => predicate === undefined || predicate(asSent(message)),
      timeoutMs,
      () => this.timeoutError("waitForMessage", predicate, timeoutMs),
    );
  }

  /** Like `waitForMessage`, for edits (each successful edit is one record). */
  waitForEdit(predicate?: (edit: MessageEdit) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<MessageEdit> {
    return this.store.edits.take(
      (edit) => predicate === undefined || predicate(edit),
      timeoutMs,
      () => this.timeoutError("waitForEdit", predicate, timeoutMs),
    );
  }

  /** The next answerCallbackQuery (for `queryId`, if given). */
  waitForCallbackAnswer(queryId?: string, timeoutMs = DEFAULT_WAIT_MS): Promise<CallbackAnswer> {
    return this.queries.answers.take(
      (answer) => queryId === undefined || answer.queryId === queryId,
      timeoutMs,
      () => this.timeoutError("waitForCallbackAnswer", queryId, timeoutMs),
    );
  }

  /** Like `waitForMessage`, for documents. */
  waitForDocument(predicate?: (document: SentDocument) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<SentDocument> {
    return this.store.documents.take(
      (document) => predicate === undefined || predicate(document),
      timeoutMs,
      () => this.timeoutError("waitForDocument", predicate, timeoutMs),
    );
  }

  /**
   * Resolves once the bot has confirmed every enqueued update, is long polling again and has no
   * other call in flight. With grammY's `bot.start()` (sequential) that means its handlers are
   * done; work a handler started in the background may still be running.
   */
  waitUntilIdle(timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: IdleWaiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.idleWaiters.delete(waiter);
          const state = `pending updates: ${this.queue.pending}, long polling: ${this.queue.polling}, calls in flight: ${this.callsInFlight}`;
          reject(this.timeoutError("waitUntilIdle", state, timeoutMs));
        }, timeoutMs),
      };
      this.idleWaiters.add(waiter);
    });
  }

  /** Fails every pending wait with `error` (the emulator is stopping). */
  protected rejectWaiters(error: Error): void {
    for (const stream of [this.store.messages, this.store.edits, this.queries.answers, this.store.documents]) {
      stream.rejectAll(error);
    }
    for (const waiter of this.idleWaiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.idleWaiters.clear();
  }

  protected checkIdle(): void {
    if (this.idleWaiters.size === 0 || !this.isIdle()) return;
    for (const waiter of this.idleWaiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.idleWaiters.clear();
  }

  private isIdle(): boolean {
    return this.queue.pending === 0 && this.queue.polling && this.callsInFlight === 0;
  }

  private timeoutError(helper: string, what: unknown, timeoutMs: number): EmulatorTimeoutError {
    const argument = what === undefined ? "" : typeof what === "function" ? what.toString() : String(what);
    const recent = recentCalls(this.calls);
    recent.push(`(updates not yet confirmed by the bot: ${this.queue.pending}; bot long polling: ${this.queue.polling})`);
    return new EmulatorTimeoutError(`${helper}(${truncate(argument, 200)})`, timeoutMs, recent);
  }
}
