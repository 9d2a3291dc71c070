import { randomBytes } from "node:crypto";
import type { Chat, InlineKeyboardMarkup, Message, UserFromGetMe } from "grammy/types";
import { badRequest } from "./errors.js";
import { type ChatDirectory, messageKey, unixTime } from "./identities.js";
import type { Params } from "./params.js";
import { RecordStream } from "./record-stream.js";
import type { BotMessage, MessageEdit, SentDocument } from "./types.js";
import { canonicalJson, captionText, inlineKeyboard, messageText } from "./validation.js";

type Content = { text: string; rawText: string; parseMode: string | undefined; replyMarkup: InlineKeyboardMarkup | undefined };

/**
 * Every message in the emulated chats: what the bot sent (live records that follow edits and
 * deletes), what users wrote (so the bot cannot edit those), and the documents, with the
 * send/edit/delete methods that change them under Telegram's rules.
 */
export class MessageStore {
  readonly messages = new RecordStream<BotMessage>();
  readonly edits = new RecordStream<MessageEdit>();
  readonly documents = new RecordStream<SentDocument>();

  private readonly botMessages = new Map<string, BotMessage>();
  private readonly userMessages = new Map<string, Message>();
  private readonly documentsByFileId = new Map<string, SentDocument>();

  constructor(
    private readonly chats: ChatDirectory,
    private readonly botUser: UserFromGetMe,
  ) {}

  /** The bot's message `messageId` in `chatId`, in its current state (deleted ones included). */
  botMessage(chatId: number, messageId: number): BotMessage | undefined {
    return this.botMessages.get(messageKey(chatId, messageId));
  }

  /** A message a user wrote; the bot may delete it but never edit it. */
  rememberUserMessage(message: Message): void {
    this.userMessages.set(messageKey(message.chat.id, message.message_id), message);
  }

  sendMessage(params: Params): Message {
    const chat = this.chats.get(params.chatId());
    const rawText = params.string("text") ?? "";
    const parseMode = params.string("parse_mode");
    const text = messageText(rawText, parseMode, "sendMessage");
    const replyMarkup = inlineKeyboard(params.json("reply_markup"));
    const message = this.newMessage(chat, { text, ...markupField(replyMarkup) });
    this.publish(this.newRecord("text", message, { text, rawText, parseMode, replyMarkup }));
    return message;
  }

  sendDocument(params: Params): Message {
    const chat = this.chats.get(params.chatId());
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
    const message = this.newMessage(chat, {
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
    const record = this.newRecord("document", message, { text: caption ?? "", rawText: rawCaption ?? "", parseMode, replyMarkup });
    const document: SentDocument = {
      index: this.documents.items.length,
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
    this.documents.push(document);
    return message;
  }

  editMessageText(params: Params): Message {
    const record = this.messageToEdit(params);
    if (record.kind !== "text") throw badRequest("there is no text in the message to edit");
    const rawText = params.string("text") ?? "";
    const parseMode = params.string("parse_mode");
    const text = messageText(rawText, parseMode, "editMessageText");
    // Telegram drops the inline keyboard when an edit does not repeat it.
    const replyMarkup = inlineKeyboard(params.json("reply_markup"));
    return this.applyEdit(record, "editMessageText", { text, rawText, parseMode, replyMarkup });
  }

  editMessageCaption(params: Params): Message {
    const record = this.messageToEdit(params);
    if (record.kind !== "document") throw badRequest("there is no caption in the message to edit");
    const rawText = params.string("caption") ?? "";
    const parseMode = params.string("parse_mode");
    const text = captionText(rawText, parseMode) ?? "";
    const replyMarkup = inlineKeyboard(params.json("reply_markup"));
    return this.applyEdit(record, "editMessageCaption", { text, rawText, parseMode, replyMarkup });
  }

  editMessageReplyMarkup(params: Params): Message {
    const record = this.messageToEdit(params);
    const replyMarkup = inlineKeyboard(params.json("reply_markup"));
    const { text, rawText, parseMode } = record;
    return this.applyEdit(record, "editMessageReplyMarkup", { text, rawText, parseMode, replyMarkup });
  }

  deleteMessage(params: Params): true {
    const key = messageKey(params.chatId(), params.integer("message_id") ?? 0);
    const record = this.botMessages.get(key);
    if (record !== undefined && !record.deleted) {
      record.deleted = true;
      return true;
    }
    if (this.userMessages.delete(key)) return true;
    throw badRequest("message to delete not found");
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

  private applyEdit(record: BotMessage, method: MessageEdit["method"], next: Content): Message {
    if (next.text === record.text && canonicalJson(next.replyMarkup) === canonicalJson(record.replyMarkup)) {
      throw badRequest(
        "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
      );
    }
    const at = new Date();
    const edit: MessageEdit = {
      index: this.edits.items.length,
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
    this.edits.push(edit);
    return record.message;
  }

  private newMessage(chat: Chat, content: Record<string, unknown>): Message {
    const { id, is_bot, first_name, username } = this.botUser;
    return {
      message_id: this.chats.nextMessageId(chat.id),
      from: { id, is_bot, first_name, username },
      chat,
      date: unixTime(),
      ...content,
    } as Message;
  }

  private newRecord(kind: BotMessage["kind"], message: Message, content: Content): BotMessage {
    const at = new Date();
    return {
      kind,
      message,
      ...content,
      document: undefined,
      index: this.messages.items.length,
      chatId: message.chat.id,
      messageId: message.message_id,
      sentAt: at,
      editedAt: undefined,
      deleted: false,
      history: [{ text: content.text, replyMarkup: content.replyMarkup, at }],
    };
  }

  /** Makes a sent message visible: editable, pressable, and seen by `waitForMessage`. */
  private publish(record: BotMessage): void {
    this.botMessages.set(messageKey(record.chatId, record.messageId), record);
    this.messages.push(record);
  }
}

function markupField(markup: InlineKeyboardMarkup | undefined): { reply_markup?: InlineKeyboardMarkup } {
  return markup === undefined ? {} : { reply_markup: markup };
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
