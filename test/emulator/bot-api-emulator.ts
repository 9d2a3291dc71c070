import type { Update, UserFromGetMe } from "grammy/types";
import { BotApiError, EmulatorUsageError } from "./errors.js";
import { conflict, FaultPlan } from "./faults.js";
import { ApiServer, type MethodHandler } from "./http-server.js";
import { botIdFromToken, botUserFor, chatIdOf, GROUP_ANONYMOUS_BOT, randomToken, userFrom } from "./identities.js";
import type { Params } from "./params.js";
import { RecordedBotApi } from "./recorded.js";
import type { ApiCall, BotApiEmulatorOptions, ChatRef, Fault, PressOptions, UserMessageOptions, UserRef, WebhookState } from "./types.js";
import { userMessage } from "./user-messages.js";
import { WebhookRegistry } from "./webhooks.js";

export { BotApiError, EmulatorTimeoutError, EmulatorUsageError } from "./errors.js";
export { GROUP_ANONYMOUS_BOT } from "./identities.js";
export type * from "./types.js";

const DEFAULT_CALLBACK_QUERY_TTL_MS = 15_000;

/**
 * A stand-in for the Telegram Bot API (api.telegram.org) on 127.0.0.1 — the one emulated part of
 * our tests. A real grammY bot talks to it over HTTP exactly as it would to Telegram:
 *
 * ```ts
 * const telegram = await BotApiEmulator.start();
 * const bot = new Bot(telegram.token, { client: { apiRoot: telegram.apiRoot } });
 * bot.command("ping", (ctx) => ctx.reply("pong"));
 * void bot.start();
 * telegram.sendText(ADMIN_CHAT, ADMIN, "/ping");
 * expect((await telegram.waitForMessage()).text).toBe("pong");
 * ```
 *
 * It enforces the limits and errors a bot meets in production, records everything the bot did
 * (`messages`, `edits`, `callbackAnswers`, `documents`, `commands`, `calls`; see RecordedBotApi),
 * lets a test act as users (`sendText`, `pressButton`, `replayPress`) and inject faults
 * (`failNext`, `failOnCall`). Other bots (the apps' own) exist once `setWebhookInfo` names their token.
 */
export class BotApiEmulator extends RecordedBotApi {
  /** `http://127.0.0.1:<port>`: pass as grammY's `client.apiRoot`. */
  readonly apiRoot: string;
  readonly token: string;
  /** What getMe returns. */
  readonly botUser: UserFromGetMe;
  readonly calls: ApiCall[];
  /** Emulator bugs (a handler threw something that is not a Bot API error); should stay empty. */
  readonly internalErrors: Error[];

  private readonly webhooks = new WebhookRegistry();
  private readonly methods: ReadonlyMap<string, MethodHandler>;

  private constructor(
    token: string,
    botUser: UserFromGetMe,
    options: BotApiEmulatorOptions,
    private readonly server: ApiServer,
    private readonly faults: FaultPlan,
    private readonly stopController: AbortController,
  ) {
    super(botUser, options.callbackQueryTtlMs ?? DEFAULT_CALLBACK_QUERY_TTL_MS, options.now);
    this.token = token;
    this.botUser = botUser;
    this.apiRoot = server.apiRoot;
    this.calls = server.calls;
    this.internalErrors = server.internalErrors;
    this.methods = new Map(Object.entries(this.methodTable()).map(([name, handler]) => [name.toLowerCase(), handler]));
  }

  /** Starts an emulator on 127.0.0.1 on a free port. Call `stop()` when done. */
  static async start(options: BotApiEmulatorOptions = {}): Promise<BotApiEmulator> {
    const token = options.token ?? randomToken();
    const botUser = botUserFor(token, options.firstName ?? "opsgram test", options.username ?? "opsgram_test_bot");
    const faults = new FaultPlan();
    const stopController = new AbortController();
    // The server answers only after `start` returned, so the emulator exists by the first request.
    let emulator: BotApiEmulator | undefined;
    const server = await ApiServer.listen(
      (callToken, method) => emulator!.route(callToken, method),
      faults,
      stopController.signal,
      () => emulator?.checkIdle(),
    );
    emulator = new BotApiEmulator(token, botUser, options, server, faults, stopController);
    return emulator;
  }

  /**
   * Ends pending long polls (they get an empty result), fails pending `waitFor…` calls and closes
   * the server. Stop the bot first, or it will log connection errors while retrying.
   */
  async stop(): Promise<void> {
    if (this.stopController.signal.aborted) return;
    this.stopController.abort();
    this.queue.stop();
    this.rejectWaiters(new EmulatorUsageError("the emulator was stopped"));
    await this.server.close();
  }

  protected get callsInFlight(): number {
    return this.server.inFlight;
  }

  // ------------------------------------------------------------------ acting as users

  /**
   * A user writes `text` in `chat`; commands get their `bot_command` entity. `options.date` makes
   * an old message (a backlog after downtime), `options.senderChat` one sent on behalf of a chat,
   * and a `user` with `is_bot: true` one from another bot. Returns the enqueued update.
   */
  sendText(chat: ChatRef, user: UserRef, text: string, options: UserMessageOptions = {}): Update {
    const from = userFrom(user);
    const chatObject = this.chats.remember(chat, from);
    const senderChat = options.senderChat === undefined ? undefined : this.chats.remember(options.senderChat);
    const message = userMessage(chatObject, from, this.chats.nextMessageId(chatObject.id), text, { date: options.date, senderChat });
    this.store.rememberUserMessage(message);
    return this.enqueueRaw({ message });
  }

  /** `sendText` for commands; a missing leading "/" is added (`sendCommand(chat, user, "deploy main")`). */
  sendCommand(chat: ChatRef, user: UserRef, command: string, options: UserMessageOptions = {}): Update {
    return this.sendText(chat, user, command.startsWith("/") ? command : `/${command}`, options);
  }

  /**
   * An anonymous group admin writes `text`: Telegram sends it `from` GroupAnonymousBot with the
   * group itself as `sender_chat`, so the real person is unknown to the bot.
   */
  sendAnonymousAdmin(chat: ChatRef, text: string, options: Omit<UserMessageOptions, "senderChat"> = {}): Update {
    if (chatIdOf(chat) > 0) throw new EmulatorUsageError("anonymous admins exist in groups only");
    return this.sendText(chat, GROUP_ANONYMOUS_BOT, text, { ...options, senderChat: chat });
  }

  /**
   * A user presses an inline button with `data` under the bot's message `messageId` in `chat`.
   * The update carries a fresh callback query id and the message in its current state
   * (`options.inaccessible`: what Telegram sends for messages older than 48 h). `data` is not
   * checked against the message's buttons: a modified client can send any callback_data, and
   * tests of forged or stale presses need exactly that.
   */
  pressButton(chat: ChatRef, user: UserRef, messageId: number, data: string, options: PressOptions = {}): Update {
    const from = userFrom(user);
    const chatId = this.chats.remember(chat, from).id;
    const record = this.store.botMessage(chatId, messageId);
    if (record === undefined || record.deleted) {
      throw new EmulatorUsageError(`the bot has no message ${messageId} in chat ${chatId} (never sent or deleted)`);
    }
    const query = this.queries.press(record, from, this.chats.chatInstance(chatId), data, options.inaccessible);
    return this.enqueueRaw({ callback_query: query });
  }

  /**
   * Replays an earlier press's `callback_data` on the bot's message `messageId` in `chat` (another
   * chat, another message, another user): what a forged client does with copied button data.
   */
  replayPress(press: Update, chat: ChatRef, user: UserRef, messageId: number, options: PressOptions = {}): Update {
    const data = press.callback_query?.data;
    if (data === undefined) throw new EmulatorUsageError("replayPress needs an update returned by pressButton");
    return this.pressButton(chat, user, messageId, data, options);
  }

  /** Enqueues any update; `update_id` is assigned unless given (then it must be newer than the last). */
  enqueueRaw(update: Omit<Update, "update_id"> & { update_id?: number }): Update {
    const complete: Update = { ...update, update_id: update.update_id ?? this.queue.allocateId() };
    try {
      this.queue.enqueue(complete);
    } catch (error) {
      throw new EmulatorUsageError((error as Error).message);
    }
    return complete;
  }

  /** Delivers `update` again with the same update_id, as Telegram does when a batch went unconfirmed. */
  redeliver(update: Update): void {
    this.queue.redeliver(update);
  }

  // ------------------------------------------------------------------ faults and other bots

  /**
   * The next `times` calls of `method` (any method but getUpdates for "*") fail with `fault`, or
   * are answered late for `{ delayMs }`. A 429 carries `parameters.retry_after` and Telegram's
   * description "Too Many Requests: retry after N". Faults are used in the order they were added.
   * They hit this bot's calls; pass another bot's `token` to fail its calls instead.
   */
  failNext(method: string, fault: Fault, times = 1, token: string = this.token): void {
    this.faults.next(token, method, fault, times);
  }

  /** The `nth` call of `method` from now (1 = the next) fails with `fault`, and the `times - 1` after it. */
  failOnCall(method: string, nth: number, fault: Fault, times = 1, token: string = this.token): void {
    this.faults.onCall(token, method, nth, fault, times);
  }

  /** Telegram's flood control on the `nth` call of `method` from now: 429 with `retry_after`. */
  rateLimitOnCall(method: string, nth: number, retryAfterSeconds: number, token: string = this.token): void {
    this.faults.onCall(token, method, nth, { status: 429, retryAfter: retryAfterSeconds });
  }

  /**
   * What getWebhookInfo reports for `token` (default: this bot), merged into what was set before.
   * Another token becomes a known bot: getMe, getWebhookInfo, setWebhook and deleteWebhook answer
   * for it, anything else is 404. Without a `pending_update_count`, this bot's own queue length is used.
   */
  setWebhookInfo(info: Partial<WebhookState>, token: string = this.token): WebhookState {
    botIdFromToken(token);
    return this.webhooks.configure(token, info);
  }

  /** The webhook settings of `token` as the bot left them (setWebhook / deleteWebhook) or a test set them. */
  webhookInfo(token: string = this.token): WebhookState {
    return this.webhooks.state(token);
  }

  // ------------------------------------------------------------------ Bot API methods

  private route(token: string, method: string): MethodHandler {
    if (token === this.token) {
      const handler = this.methods.get(method);
      if (handler === undefined) throw new BotApiError(404, "Not Found");
      return handler;
    }
    if (!this.webhooks.knows(token)) throw new BotApiError(401, "Unauthorized");
    const other: Record<string, MethodHandler> = {
      getme: () => botUserFor(token, "App bot", `app_${botIdFromToken(token)}_bot`),
      getwebhookinfo: () => this.webhooks.info(token, 0),
      setwebhook: (params) => this.webhooks.set(token, params),
      deletewebhook: (params) => this.webhooks.delete(token, params),
    };
    const handler = other[method];
    if (handler === undefined) throw new BotApiError(404, "Not Found");
    return handler;
  }

  private methodTable(): Record<string, MethodHandler> {
    return {
      getMe: () => this.botUser,
      getUpdates: (params, signal) => this.getUpdates(params, signal),
      sendMessage: (params) => this.store.sendMessage(params),
      editMessageText: (params) => this.store.editMessageText(params),
      editMessageReplyMarkup: (params) => this.store.editMessageReplyMarkup(params),
      editMessageCaption: (params) => this.store.editMessageCaption(params),
      answerCallbackQuery: (params) => this.queries.answer(params),
      sendDocument: (params) => this.store.sendDocument(params),
      deleteMessage: (params) => this.store.deleteMessage(params),
      setMyCommands: (params) => this.botCommands.set(params),
      getMyCommands: (params) => this.botCommands.get(params),
      deleteMyCommands: (params) => this.botCommands.delete(params),
      sendChatAction: (params) => {
        params.chatId(); // validates it
        return true;
      },
      setWebhook: (params) => this.webhooks.set(this.token, params),
      deleteWebhook: (params) => {
        if (params.boolean("drop_pending_updates")) this.queue.dropAll();
        return this.webhooks.delete(this.token, params);
      },
      getWebhookInfo: () => this.webhooks.info(this.token, this.queue.pending),
      close: () => true,
      logOut: () => true,
    };
  }

  private async getUpdates(params: Params, signal: AbortSignal): Promise<Update[]> {
    if (this.webhooks.active(this.token)) {
      throw conflict("can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    }
    const limit = Math.min(100, Math.max(1, params.integer("limit") ?? 100));
    const timeoutSeconds = Math.max(0, params.integer("timeout") ?? 0);
    const result = await this.queue.poll({ offset: params.integer("offset"), limit, timeoutMs: timeoutSeconds * 1000, signal });
    if (result.status === "conflict") {
      throw conflict("terminated by other getUpdates request; make sure that only one bot instance is running");
    }
    return result.status === "updates" ? result.updates : [];
  }
}
