import { randomBytes, randomInt } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type {
  BotCommand,
  BotCommandScope,
  Chat,
  InlineKeyboardMarkup,
  Message,
  Update,
  User,
  UserFromGetMe,
} from "grammy/types";
import { BotApiError, badRequest, EmulatorTimeoutError, EmulatorUsageError } from "./errors.js";
import { Params } from "./params.js";
import { readParams } from "./request-body.js";
import type {
  ApiCall,
  ApiResponse,
  BotApiEmulatorOptions,
  BotMessage,
  CallbackAnswer,
  ChatRef,
  CommandsUpdate,
  Fault,
  MessageEdit,
  SentDocument,
  UserRef,
} from "./types.js";
import { RecordStream } from "./record-stream.js";
import { UpdateQueue } from "./update-queue.js";
import { canonicalJson, captionText, inlineKeyboard, LIMITS, messageText } from "./validation.js";

export { BotApiError, EmulatorTimeoutError, EmulatorUsageError } from "./errors.js";
export type * from "./types.js";

const DEFAULT_WAIT_MS = 5_000;
const DEFAULT_CALLBACK_QUERY_TTL_MS = 15_000;
/** How many recent calls a timeout error lists. */
const RECENT_CALLS_IN_ERRORS = 15;

type MethodHandler = (params: Params, signal: AbortSignal) => unknown;

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
 * It enforces the limits and errors a bot meets in production (text length, callback_data size,
 * "message is not modified", stale callback queries, HTML that does not parse, 429 via
 * `failNext`), records everything the bot did (`messages`, `edits`, `callbackAnswers`,
 * `documents`, `commands`, `calls`), and lets a test act as users (`sendText`, `pressButton`).
 */
export class BotApiEmulator {
  /** `http://127.0.0.1:<port>`: pass as grammY's `client.apiRoot`. */
  readonly apiRoot: string;
  readonly token: string;
  /** What getMe returns. */
  readonly botUser: UserFromGetMe;

  /** Every HTTP call the bot made to a `/bot<token>/<method>` URL, getUpdates included. */
  readonly calls: ApiCall[] = [];
  /** Every accepted setMyCommands, oldest first. */
  readonly commands: CommandsUpdate[] = [];
  /** Emulator bugs (a handler threw something that is not a Bot API error); should stay empty. */
  readonly internalErrors: Error[] = [];

  private readonly server: Server;
  private readonly queue: UpdateQueue;
  private readonly messageStream = new RecordStream<BotMessage>();
  private readonly editStream = new RecordStream<MessageEdit>();
  private readonly answerStream = new RecordStream<CallbackAnswer>();
  private readonly documentStream = new RecordStream<SentDocument>();
  private readonly methods: ReadonlyMap<string, MethodHandler>;
  private readonly callbackQueryTtlMs: number;

  private readonly chats = new Map<number, Chat>();
  private readonly lastMessageId = new Map<number, number>();
  private readonly botMessages = new Map<string, BotMessage>();
  private readonly userMessages = new Map<string, Message>();
  private readonly documentsByFileId = new Map<string, SentDocument>();
  private readonly callbackQueries = new Map<string, PendingCallbackQuery>();
  private readonly chatInstances = new Map<number, string>();
  private readonly currentCommands = new Map<string, BotCommand[]>();
  private readonly faults: PendingFault[] = [];
  private readonly idleWaiters = new Set<{ resolve: () => void; timer: NodeJS.Timeout; reject: (error: Error) => void }>();
  private readonly stopController = new AbortController();
  /** Calls other than getUpdates that have not been answered yet. */
  private inFlight = 0;

  private constructor(server: Server, options: BotApiEmulatorOptions) {
    this.server = server;
    const { port } = server.address() as AddressInfo;
    this.apiRoot = `http://127.0.0.1:${port}`;
    this.token = options.token ?? randomToken();
    this.botUser = {
      id: botIdFromToken(this.token),
      is_bot: true,
      first_name: options.firstName ?? "opsgram test",
      username: options.username ?? "opsgram_test_bot",
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
      has_topics_enabled: false,
      allows_users_to_create_topics: false,
      can_manage_bots: false,
      supports_join_request_queries: false,
    };
    this.callbackQueryTtlMs = options.callbackQueryTtlMs ?? DEFAULT_CALLBACK_QUERY_TTL_MS;
    // Telegram's update ids start "from a certain positive number"; a random start keeps tests
    // from assuming 1.
    this.queue = new UpdateQueue(randomInt(100_000_000, 900_000_000), () => this.checkIdle());
    this.methods = new Map(
      Object.entries(this.methodTable()).map(([name, handler]) => [name.toLowerCase(), handler]),
    );
    server.on("request", (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res));
  }

  /** Starts an emulator on 127.0.0.1 on a free port. Call `stop()` when done. */
  static async start(options: BotApiEmulatorOptions = {}): Promise<BotApiEmulator> {
    if (options.token !== undefined) botIdFromToken(options.token); // fail fast on a malformed token
    const server = createServer({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    return new BotApiEmulator(server, options);
  }

  /**
   * Ends pending long polls (they get an empty result), fails pending `waitFor…` calls and closes
   * the server. Stop the bot first, or it will log connection errors while retrying.
   */
  async stop(): Promise<void> {
    if (this.stopController.signal.aborted) return;
    this.stopController.abort();
    this.queue.stop();
    const stopped = new EmulatorUsageError("the emulator was stopped");
    for (const stream of [this.messageStream, this.editStream, this.answerStream, this.documentStream]) {
      stream.rejectAll(stopped);
    }
    for (const waiter of this.idleWaiters) {
      clearTimeout(waiter.timer);
      waiter.reject(stopped);
    }
    this.idleWaiters.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await new Promise((resolve) => setImmediate(resolve)); // let the final answers go out
    this.server.closeAllConnections();
    await closed;
  }

  // ------------------------------------------------------------------ what the bot did

  /** Every message the bot sent (text and documents), oldest first, with their current state. */
  get messages(): readonly BotMessage[] {
    return this.messageStream.items;
  }

  /** Every successful edit, oldest first. */
  get edits(): readonly MessageEdit[] {
    return this.editStream.items;
  }

  /** Every accepted answerCallbackQuery, oldest first. */
  get callbackAnswers(): readonly CallbackAnswer[] {
    return this.answerStream.items;
  }

  /** Every document the bot sent, oldest first. */
  get documents(): readonly SentDocument[] {
    return this.documentStream.items;
  }

  /** The bot's message `messageId` in `chat`, in its current state. */
  message(chat: ChatRef, messageId: number): BotMessage | undefined {
    return this.botMessages.get(messageKey(chatIdOf(chat), messageId));
  }

  /** Updates enqueued and not yet confirmed by the bot (getUpdates with a higher offset). */
  get pendingUpdates(): number {
    return this.queue.pending;
  }

  // ------------------------------------------------------------------ acting as users

  /**
   * A user writes `text` in `chat`. Text starting with "/" gets a `bot_command` entity for the
   * command part (including an `@botusername` suffix), as Telegram adds one, so grammY's
   * `bot.command()` matches. Returns the enqueued update.
   */
  sendText(chat: ChatRef, user: UserRef, text: string): Update {
    const from = userFrom(user);
    const chatObject = this.rememberChat(chat, from);
    const command = /^\/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?/.exec(text);
    const message = {
      message_id: this.nextMessageId(chatObject.id),
      from,
      chat: chatObject,
      date: unixTime(),
      text,
      ...(command ? { entities: [{ type: "bot_command" as const, offset: 0, length: command[0].length }] } : {}),
    } as Message & Update.NonChannel;
    this.userMessages.set(messageKey(chatObject.id, message.message_id), message);
    return this.enqueueRaw({ message });
  }

  /** `sendText` for commands; a missing leading "/" is added (`sendCommand(chat, user, "deploy main")`). */
  sendCommand(chat: ChatRef, user: UserRef, command: string): Update {
    return this.sendText(chat, user, command.startsWith("/") ? command : `/${command}`);
  }

  /**
   * A user presses an inline button with `data` under the bot's message `messageId`. The update
   * carries a fresh callback query id and the message in its current state. `data` is not checked
   * against the message's buttons: a modified client can send any callback_data, and tests of
   * forged or stale presses need exactly that.
   */
  pressButton(chat: ChatRef, user: UserRef, messageId: number, data: string): Update {
    const from = userFrom(user);
    const chatId = this.rememberChat(chat, from).id;
    const record = this.botMessages.get(messageKey(chatId, messageId));
    if (record === undefined || record.deleted) {
      throw new EmulatorUsageError(`the bot has no message ${messageId} in chat ${chatId} (never sent or deleted)`);
    }
    const id = randomBytes(8).readBigUInt64BE().toString();
    this.callbackQueries.set(id, { createdAt: Date.now(), answered: false, chatId, messageId, userId: from.id, data });
    return this.enqueueRaw({
      callback_query: {
        id,
        from,
        message: structuredClone(record.message),
        chat_instance: this.chatInstance(chatId),
        data,
      },
    });
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
    return this.messageStream.take(
      (message) => predicate === undefined || predicate(asSent(message)),
      timeoutMs,
      () => this.timeoutError("waitForMessage", predicate, timeoutMs),
    );
  }

  /** Like `waitForMessage`, for edits (each successful edit is one record). */
  waitForEdit(predicate?: (edit: MessageEdit) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<MessageEdit> {
    return this.editStream.take(
      (edit) => predicate === undefined || predicate(edit),
      timeoutMs,
      () => this.timeoutError("waitForEdit", predicate, timeoutMs),
    );
  }

  /** The next answerCallbackQuery (for `queryId`, if given). */
  waitForCallbackAnswer(queryId?: string, timeoutMs = DEFAULT_WAIT_MS): Promise<CallbackAnswer> {
    return this.answerStream.take(
      (answer) => queryId === undefined || answer.queryId === queryId,
      timeoutMs,
      () => this.timeoutError("waitForCallbackAnswer", queryId, timeoutMs),
    );
  }

  /** Like `waitForMessage`, for documents. */
  waitForDocument(predicate?: (document: SentDocument) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<SentDocument> {
    return this.documentStream.take(
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
      const waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.idleWaiters.delete(waiter);
          reject(
            this.timeoutError(
              "waitUntilIdle",
              `pending updates: ${this.queue.pending}, long polling: ${this.queue.polling}, calls in flight: ${this.inFlight}`,
              timeoutMs,
            ),
          );
        }, timeoutMs),
      };
      this.idleWaiters.add(waiter);
    });
  }

  // ------------------------------------------------------------------ fault injection

  /**
   * The next `times` calls of `method` (any method but getUpdates for "*") fail with `fault`, or
   * are answered late for `{ delayMs }`. A 429 carries `parameters.retry_after` and Telegram's
   * description "Too Many Requests: retry after N". Faults are used in the order they were added.
   */
  failNext(method: string, fault: Fault, times = 1): void {
    if (!Number.isInteger(times) || times < 1) throw new EmulatorUsageError(`times must be a positive integer, got ${times}`);
    this.faults.push({ method: method.toLowerCase(), fault, remaining: times });
  }

  // ------------------------------------------------------------------ HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.apiRoot);
    // grammY's `environment: "test"` adds "/test" before the method.
    const route = /^\/bot([^/]*)\/(?:test\/)?([A-Za-z0-9_]+)\/?$/.exec(url.pathname);
    if (route === null) {
      req.resume();
      return respond(res, 404, { ok: false, error_code: 404, description: "Not Found" });
    }
    const [, token, method] = route as unknown as [string, string, string];
    const call: ApiCall = { index: this.calls.length, method, params: {}, at: new Date(), fault: undefined, response: undefined };
    this.calls.push(call);
    const isPoll = method.toLowerCase() === "getupdates";
    if (!isPoll) this.inFlight++;
    const disconnected = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) disconnected.abort();
    });

    let response: ApiResponse;
    let status = 200;
    try {
      if (token !== this.token) throw new BotApiError(401, "Unauthorized");
      const handler = this.methods.get(method.toLowerCase());
      if (handler === undefined) throw new BotApiError(404, "Not Found");
      call.params = await readParams(req, url);
      call.fault = this.takeFault(method.toLowerCase(), isPoll);
      if (call.fault !== undefined) await applyFault(call.fault, this.stopController.signal);
      response = { ok: true, result: await handler(new Params(call.params), disconnected.signal) };
    } catch (error) {
      if (!(error instanceof BotApiError)) {
        this.internalErrors.push(error as Error);
        console.error(`[bot-api-emulator] ${method} failed inside the emulator:`, error);
      }
      const apiError = error instanceof BotApiError ? error : new BotApiError(500, `Internal Server Error: ${String(error)}`);
      req.resume(); // a rejected request may still have an unread body
      response = apiError.toResponse();
      status = apiError.errorCode;
    } finally {
      if (!isPoll) this.inFlight--;
    }
    call.response = response;
    respond(res, status, response);
    this.checkIdle();
  }

  private takeFault(method: string, isPoll: boolean): Fault | undefined {
    const index = this.faults.findIndex((entry) => entry.method === method || (entry.method === "*" && !isPoll));
    if (index === -1) return undefined;
    const entry = this.faults[index]!;
    entry.remaining -= 1;
    if (entry.remaining === 0) this.faults.splice(index, 1);
    return entry.fault;
  }

  // ------------------------------------------------------------------ Bot API methods

  private methodTable(): Record<string, MethodHandler> {
    return {
      getMe: () => this.botUser,
      getUpdates: (params, signal) => this.getUpdates(params, signal),
      sendMessage: (params) => this.sendMessage(params),
      editMessageText: (params) => this.editMessageText(params),
      editMessageReplyMarkup: (params) => this.editMessageReplyMarkup(params),
      editMessageCaption: (params) => this.editMessageCaption(params),
      answerCallbackQuery: (params) => this.answerCallbackQuery(params),
      sendDocument: (params) => this.sendDocument(params),
      deleteMessage: (params) => this.deleteMessage(params),
      setMyCommands: (params) => this.setMyCommands(params),
      getMyCommands: (params) => this.currentCommands.get(commandsKey(params)) ?? [],
      deleteMyCommands: (params) => {
        this.currentCommands.delete(commandsKey(params));
        return true;
      },
      sendChatAction: (params) => {
        params.chatId(); // validates it
        return true;
      },
      deleteWebhook: (params) => {
        if (params.boolean("drop_pending_updates")) this.queue.dropAll();
        return true;
      },
      getWebhookInfo: () => ({ url: "", has_custom_certificate: false, pending_update_count: this.queue.pending }),
      close: () => true,
      logOut: () => true,
    };
  }

  private async getUpdates(params: Params, signal: AbortSignal): Promise<Update[]> {
    const limit = Math.min(100, Math.max(1, params.integer("limit") ?? 100));
    const timeoutSeconds = Math.max(0, params.integer("timeout") ?? 0);
    const result = await this.queue.poll({ offset: params.integer("offset"), limit, timeoutMs: timeoutSeconds * 1000, signal });
    if (result.status === "conflict") {
      throw new BotApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running");
    }
    return result.status === "updates" ? result.updates : [];
  }

  private sendMessage(params: Params): Message {
    const chat = this.chatFor(params.chatId());
    const rawText = params.string("text") ?? "";
    const parseMode = params.string("parse_mode");
    const text = messageText(rawText, parseMode, "sendMessage");
    const replyMarkup = inlineKeyboard(params.json("reply_markup"));
    const message = this.botMessage(chat, { text, ...markupField(replyMarkup) });
    this.publish(this.newRecord({ kind: "text", message, text, rawText, parseMode, replyMarkup }));
    return message;
  }

  private sendDocument(params: Params): Message {
    const chat = this.chatFor(params.chatId());
    const file = params.file("document");
    if (file === undefined) throw badRequest("there is no document in the request");
    let upload: { filename: string; content: Buffer; mimeType: string };
    if (typeof file === "string") {
      const previous = this.documentsByFileId.get(file);
      if (previous === undefined) throw badRequest("wrong file identifier/HTTP URL specified");
      upload = previous;
    } else {
      if (file.content.length === 0) throw badRequest("file must be non-empty");
      upload = { filename: file.filename, content: file.content, mimeType: mimeTypeFor(file.filename) };
    }
    const rawCaption = params.string("caption");
    const parseMode = params.string("parse_mode");
    const caption = captionText(rawCaption, parseMode);
    const replyMarkup = inlineKeyboard(params.json("reply_markup"));
    const fileId = randomBytes(24).toString("base64url");
    const message = this.botMessage(chat, {
      document: {
        file_id: fileId,
        file_unique_id: randomBytes(9).toString("base64url"),
        file_name: upload.filename,
        mime_type: upload.mimeType,
        file_size: upload.content.length,
      },
      ...(caption === undefined ? {} : { caption }),
      ...markupField(replyMarkup),
    });
    const record = this.newRecord({ kind: "document", message, text: caption ?? "", rawText: rawCaption ?? "", parseMode, replyMarkup });
    const document: SentDocument = {
      index: this.documentStream.items.length,
      chatId: chat.id,
      messageId: message.message_id,
      filename: upload.filename,
      mimeType: upload.mimeType,
      content: upload.content,
      caption,
      fileId,
      at: record.sentAt,
      message: record,
    };
    record.document = document;
    this.documentsByFileId.set(fileId, document);
    this.publish(record);
    this.documentStream.push(document);
    return message;
  }

  private editMessageText(params: Params): Message {
    const record = this.messageToEdit(params);
    if (record.kind !== "text") throw badRequest("there is no text in the message to edit");
    const rawText = params.string("text") ?? "";
    const parseMode = params.string("parse_mode");
    const text = messageText(rawText, parseMode, "editMessageText");
    // Telegram drops the inline keyboard when an edit does not repeat it.
    const replyMarkup = inlineKeyboard(params.json("reply_markup"));
    return this.applyEdit(record, "editMessageText", { text, rawText, parseMode, replyMarkup });
  }

  private editMessageCaption(params: Params): Message {
    const record = this.messageToEdit(params);
    if (record.kind !== "document") throw badRequest("there is no caption in the message to edit");
    const rawText = params.string("caption") ?? "";
    const parseMode = params.string("parse_mode");
    const text = captionText(rawText, parseMode) ?? "";
    const replyMarkup = inlineKeyboard(params.json("reply_markup"));
    return this.applyEdit(record, "editMessageCaption", { text, rawText, parseMode, replyMarkup });
  }

  private editMessageReplyMarkup(params: Params): Message {
    const record = this.messageToEdit(params);
    const replyMarkup = inlineKeyboard(params.json("reply_markup"));
    return this.applyEdit(record, "editMessageReplyMarkup", {
      text: record.text,
      rawText: record.rawText,
      parseMode: record.parseMode,
      replyMarkup,
    });
  }

  private messageToEdit(params: Params): BotMessage {
    if (params.has("inline_message_id")) throw badRequest("MESSAGE_ID_INVALID"); // no inline mode here
    const chatId = params.chatId();
    const messageId = params.integer("message_id");
    if (messageId === undefined) throw badRequest("message identifier is not specified");
    const key = messageKey(chatId, messageId);
    if (this.userMessages.has(key)) throw badRequest("message can't be edited");
    const record = this.botMessages.get(key);
    if (record === undefined || record.deleted) throw badRequest("message to edit not found");
    return record;
  }

  private applyEdit(
    record: BotMessage,
    method: MessageEdit["method"],
    next: { text: string; rawText: string; parseMode: string | undefined; replyMarkup: InlineKeyboardMarkup | undefined },
  ): Message {
    if (next.text === record.text && canonicalJson(next.replyMarkup) === canonicalJson(record.replyMarkup)) {
      throw badRequest(
        "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
      );
    }
    const at = new Date();
    const edit: MessageEdit = {
      index: this.editStream.items.length,
      method,
      chatId: record.chatId,
      messageId: record.messageId,
      text: next.text,
      replyMarkup: next.replyMarkup,
      previousText: record.text,
      previousReplyMarkup: record.replyMarkup,
      at,
      message: record,
    };
    const { reply_markup: _dropped, ...rest } = record.message as Message & { reply_markup?: unknown };
    const content = record.kind === "text" ? { text: next.text } : next.text === "" ? {} : { caption: next.text };
    if (record.kind === "document") delete (rest as { caption?: string }).caption;
    record.message = { ...rest, ...content, ...markupField(next.replyMarkup), edit_date: unixTime() } as Message;
    record.text = next.text;
    record.rawText = next.rawText;
    record.parseMode = next.parseMode;
    record.replyMarkup = next.replyMarkup;
    record.editedAt = at;
    record.history.push({ text: next.text, replyMarkup: next.replyMarkup, at });
    this.editStream.push(edit);
    return record.message;
  }

  private deleteMessage(params: Params): true {
    const key = messageKey(params.chatId(), params.integer("message_id") ?? 0);
    const record = this.botMessages.get(key);
    if (record !== undefined && !record.deleted) {
      record.deleted = true;
      return true;
    }
    if (this.userMessages.delete(key)) return true;
    throw badRequest("message to delete not found");
  }

  private answerCallbackQuery(params: Params): true {
    const queryId = params.string("callback_query_id") ?? "";
    const query = this.callbackQueries.get(queryId);
    if (query === undefined || query.answered || Date.now() - query.createdAt > this.callbackQueryTtlMs) {
      throw badRequest("query is too old and response timeout expired or query ID is invalid");
    }
    query.answered = true;
    this.answerStream.push({
      index: this.answerStream.items.length,
      queryId,
      text: params.string("text"),
      showAlert: params.boolean("show_alert") ?? false,
      url: params.string("url"),
      cacheTime: params.integer("cache_time"),
      at: new Date(),
      query: { chatId: query.chatId, messageId: query.messageId, userId: query.userId, data: query.data },
    });
    return true;
  }

  private setMyCommands(params: Params): true {
    const commands = params.json("commands");
    if (!Array.isArray(commands)) throw badRequest("can't parse commands JSON object");
    if (commands.length > LIMITS.commands) throw badRequest("too many commands");
    for (const entry of commands as Partial<BotCommand>[]) {
      const pattern = new RegExp(`^[a-z0-9_]{1,${LIMITS.commandLength}}$`);
      if (typeof entry.command !== "string" || !pattern.test(entry.command)) throw badRequest("BOT_COMMAND_INVALID");
      const description = entry.description?.trim() ?? "";
      if (description.length === 0 || description.length > LIMITS.commandDescriptionLength) {
        throw badRequest("BOT_COMMAND_DESCRIPTION_INVALID");
      }
    }
    const list = (commands as BotCommand[]).map(({ command, description }) => ({ command, description }));
    this.currentCommands.set(commandsKey(params), list);
    this.commands.push({
      commands: list,
      scope: params.json("scope") as BotCommandScope | undefined,
      languageCode: params.string("language_code"),
      at: new Date(),
    });
    return true;
  }

  // ------------------------------------------------------------------ bookkeeping

  private botMessage(chat: Chat, content: Record<string, unknown>): Message {
    const { id, is_bot, first_name, username } = this.botUser;
    return {
      message_id: this.nextMessageId(chat.id),
      from: { id, is_bot, first_name, username },
      chat,
      date: unixTime(),
      ...content,
    } as Message;
  }

  private newRecord(sent: Pick<BotMessage, "kind" | "message" | "text" | "rawText" | "parseMode" | "replyMarkup">): BotMessage {
    const at = new Date();
    return {
      ...sent,
      document: undefined,
      index: this.messageStream.items.length,
      chatId: sent.message.chat.id,
      messageId: sent.message.message_id,
      sentAt: at,
      editedAt: undefined,
      deleted: false,
      history: [{ text: sent.text, replyMarkup: sent.replyMarkup, at }],
    };
  }

  /** Makes a sent message visible: editable, pressable, and seen by `waitForMessage`. */
  private publish(record: BotMessage): void {
    this.botMessages.set(messageKey(record.chatId, record.messageId), record);
    this.messageStream.push(record);
  }

  /** Message ids count per chat and are shared by users and the bot, as in Telegram. */
  private nextMessageId(chatId: number): number {
    const id = (this.lastMessageId.get(chatId) ?? 0) + 1;
    this.lastMessageId.set(chatId, id);
    return id;
  }

  private rememberChat(ref: ChatRef, user: User): Chat {
    const id = chatIdOf(ref);
    const type = (typeof ref === "object" ? ref.type : undefined) ?? (id > 0 ? "private" : "supergroup");
    if ((type === "private") !== id > 0) {
      throw new EmulatorUsageError(`chat ${id} cannot be ${type}: private chats have positive ids, groups negative ones`);
    }
    const known = this.chats.get(id);
    let chat: Chat;
    if (type === "private") {
      const partner = user.id === id ? user : undefined;
      chat = {
        id,
        type,
        first_name: partner?.first_name ?? (known?.type === "private" ? known.first_name : `User ${id}`),
        ...(partner?.username ? { username: partner.username } : {}),
      };
    } else {
      const title = (typeof ref === "object" ? ref.title : undefined) ?? (known && "title" in known ? known.title : undefined);
      chat = { id, type, title: title ?? `Test ${type} ${id}` } as Chat;
    }
    this.chats.set(id, chat);
    return chat;
  }

  /** The chat the bot writes to: as a test introduced it, or a plausible one from the id alone. */
  private chatFor(id: number): Chat {
    return (
      this.chats.get(id) ??
      (id > 0 ? { id, type: "private", first_name: `User ${id}` } : { id, type: "supergroup", title: `Test supergroup ${id}` })
    );
  }

  private chatInstance(chatId: number): string {
    let instance = this.chatInstances.get(chatId);
    if (instance === undefined) {
      instance = randomBytes(8).readBigInt64BE().toString();
      this.chatInstances.set(chatId, instance);
    }
    return instance;
  }

  private isIdle(): boolean {
    return this.queue.pending === 0 && this.queue.polling && this.inFlight === 0;
  }

  private checkIdle(): void {
    if (this.idleWaiters.size === 0 || !this.isIdle()) return;
    for (const waiter of this.idleWaiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.idleWaiters.clear();
  }

  private timeoutError(helper: string, what: unknown, timeoutMs: number): EmulatorTimeoutError {
    const argument = what === undefined ? "" : typeof what === "function" ? what.toString() : String(what);
    const recent = this.calls
      .filter((call) => call.method.toLowerCase() !== "getupdates")
      .slice(-RECENT_CALLS_IN_ERRORS)
      .map(describeCall);
    recent.push(`(updates not yet confirmed by the bot: ${this.queue.pending}; bot long polling: ${this.queue.polling})`);
    return new EmulatorTimeoutError(`${helper}(${truncate(argument, 200)})`, timeoutMs, recent);
  }
}

interface PendingCallbackQuery {
  createdAt: number;
  answered: boolean;
  chatId: number;
  messageId: number;
  userId: number;
  data: string;
}

interface PendingFault {
  /** Lower-cased method name, or "*". */
  method: string;
  fault: Fault;
  remaining: number;
}

async function applyFault(fault: Fault, stopSignal: AbortSignal): Promise<void> {
  if ("delayMs" in fault) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, fault.delayMs);
      stopSignal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return;
  }
  if (fault.status === 429) {
    throw new BotApiError(429, `Too Many Requests: retry after ${fault.retryAfter}`, { retry_after: fault.retryAfter });
  }
  if (fault.status === 409) {
    throw new BotApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running");
  }
  const reason = { 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable" }[fault.status];
  throw new BotApiError(fault.status, reason);
}

function respond(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed || res.writableEnded) return; // the client gave up (e.g. bot.stop() aborted its poll)
  const json = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
  res.end(json);
}

/** A token shaped like BotFather's: `<bot id>:<35 chars of [A-Za-z0-9_-]>`, random per run. */
function randomToken(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
  const secret = Array.from(randomBytes(35), (byte) => alphabet[byte & 63]).join("");
  return `${randomInt(1_000_000_000, 8_000_000_000)}:${secret}`;
}

function botIdFromToken(token: string): number {
  const match = /^(\d+):[A-Za-z0-9_-]+$/.exec(token);
  if (match === null) throw new EmulatorUsageError("token must look like <bot id>:<secret>");
  return Number(match[1]);
}

function userFrom(ref: UserRef): User {
  const { id, username, first_name } = typeof ref === "number" ? { id: ref, username: undefined, first_name: undefined } : ref;
  if (!Number.isSafeInteger(id) || id <= 0) throw new EmulatorUsageError(`user ids are positive integers, got ${id}`);
  return { id, is_bot: false, first_name: first_name ?? `User ${id}`, ...(username ? { username } : {}), language_code: "en" };
}

function chatIdOf(ref: ChatRef): number {
  const id = typeof ref === "number" ? ref : ref.id;
  if (!Number.isSafeInteger(id) || id === 0) throw new EmulatorUsageError(`chat ids are non-zero integers, got ${id}`);
  return id;
}

function messageKey(chatId: number, messageId: number): string {
  return `${chatId}:${messageId}`;
}

function commandsKey(params: Params): string {
  return `${canonicalJson(params.json("scope") ?? { type: "default" })}|${params.string("language_code") ?? ""}`;
}

function markupField(markup: InlineKeyboardMarkup | undefined): { reply_markup?: InlineKeyboardMarkup } {
  return markup === undefined ? {} : { reply_markup: markup };
}

function unixTime(): number {
  return Math.floor(Date.now() / 1000);
}

const MIME_TYPES: Record<string, string> = {
  txt: "text/plain", log: "text/plain", md: "text/markdown", csv: "text/csv", json: "application/json",
  yml: "application/x-yaml", yaml: "application/x-yaml", html: "text/html", pdf: "application/pdf",
  gz: "application/gzip", zip: "application/zip", sql: "application/sql",
};

/** Telegram derives the MIME type from the file name; grammY always sends application/octet-stream. */
function mimeTypeFor(filename: string): string {
  const extension = filename.includes(".") ? filename.split(".").pop()!.toLowerCase() : "";
  return MIME_TYPES[extension] ?? "application/octet-stream";
}

function describeCall(call: ApiCall): string {
  const params = call.params;
  const parts: string[] = [];
  for (const key of ["chat_id", "message_id", "callback_query_id", "text", "caption", "show_alert"]) {
    if (params[key] !== undefined) parts.push(`${key}=${truncate(JSON.stringify(params[key]) ?? "", 80)}`);
  }
  const document = params.document;
  if (document !== undefined) parts.push(`document=${typeof document === "string" ? document : "<upload>"}`);
  const fault = call.fault === undefined ? "" : ` [injected ${JSON.stringify(call.fault)}]`;
  const response = call.response;
  const outcome =
    response === undefined
      ? "(no answer yet)"
      : response.ok
        ? `ok${isMessage(response.result) ? ` → message ${response.result.message_id}` : ""}`
        : `${response.error_code} ${response.description}`;
  return `${call.method}(${parts.join(", ")}) → ${outcome}${fault}`;
}

function isMessage(value: unknown): value is Message {
  return typeof value === "object" && value !== null && "message_id" in value;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
