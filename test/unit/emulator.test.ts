import { InlineKeyboard, InputFile } from "grammy";
import { describe, expect, it } from "vitest";
import { BotApiEmulator, EmulatorTimeoutError, EmulatorUsageError } from "../emulator/bot-api-emulator.js";
import { ADMIN, GROUP, grammyError, useEmulatorBot } from "../support/emulator-bot.js";

describe("BotApiEmulator with a real grammY bot: messages, buttons, documents", () => {
  const env = useEmulatorBot();

  it("generates a realistic token and answers getMe", async () => {
    const { telegram, bot } = env;
    expect(telegram.token).toMatch(/^\d{9,10}:[A-Za-z0-9_-]{35}$/);
    expect(telegram.apiRoot).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const me = await bot.api.getMe();
    expect(me).toEqual(telegram.botUser);
    expect(me.id).toBe(Number(telegram.token.split(":")[0]));
    const other = await BotApiEmulator.start();
    try {
      expect(other.token).not.toBe(telegram.token);
    } finally {
      await other.stop();
    }
  });

  it("delivers a command to bot.command and records the reply", async () => {
    const { telegram, bot } = env;
    bot.command("ping", (ctx) => ctx.reply(`pong ${ctx.match}`));
    env.startBot();

    const update = telegram.sendText(ADMIN.id, ADMIN, "/ping hello");
    expect(update.message?.entities).toEqual([{ type: "bot_command", offset: 0, length: 5 }]);
    const reply = await telegram.waitForMessage();

    expect(reply).toMatchObject({ kind: "text", chatId: ADMIN.id, text: "pong hello", deleted: false });
    expect(reply.messageId).toBe(update.message!.message_id + 1); // ids are per chat, shared with the user
    expect(reply.message.from?.id).toBe(telegram.botUser.id);
    expect(reply.message.chat).toMatchObject({ id: ADMIN.id, type: "private", first_name: "Alice" });
    expect(telegram.calls.map((call) => call.method)).toContain("sendMessage");
  });

  it("honours the @botusername suffix like Telegram clients in groups", async () => {
    const { telegram, bot } = env;
    bot.command("ping", (ctx) => ctx.reply(`pong ${ctx.match}`));
    bot.on("message:text", (ctx) => ctx.reply(`not a command for me: ${ctx.msg.text}`));
    env.startBot();

    telegram.sendText(GROUP, ADMIN, "/ping@some_other_bot a");
    telegram.sendText(GROUP, ADMIN, `/ping@${telegram.botUser.username} b`);

    expect((await telegram.waitForMessage()).text).toBe("not a command for me: /ping@some_other_bot a");
    const reply = await telegram.waitForMessage();
    expect(reply.text).toBe("pong b");
    expect(reply.message.chat).toMatchObject({ id: GROUP.id, type: "supergroup", title: "ops" });
  });

  it("delivers a button press to callbackQuery and records the answer and the edit", async () => {
    const { telegram, bot } = env;
    bot.command("deploy", (ctx) =>
      ctx.reply("Deploy main?", { reply_markup: new InlineKeyboard().text("Confirm", "op:1:yes").text("Cancel", "op:1:no") }),
    );
    bot.callbackQuery("op:1:yes", async (ctx) => {
      await ctx.answerCallbackQuery({ text: "Starting" });
      await ctx.editMessageText("Deploying main…");
    });
    env.startBot();

    telegram.sendCommand(GROUP, ADMIN, "deploy");
    const prompt = await telegram.waitForMessage((m) => m.replyMarkup !== undefined);
    const press = telegram.pressButton(GROUP, ADMIN, prompt.messageId, "op:1:yes");

    const answer = await telegram.waitForCallbackAnswer(press.callback_query!.id);
    expect(answer).toMatchObject({ text: "Starting", showAlert: false });
    expect(answer.query).toEqual({ chatId: GROUP.id, messageId: prompt.messageId, userId: ADMIN.id, data: "op:1:yes" });

    const edit = await telegram.waitForEdit();
    expect(edit).toMatchObject({ method: "editMessageText", text: "Deploying main…", previousText: "Deploy main?" });
    // An edit that does not repeat the keyboard removes it, as in Telegram.
    expect(edit.replyMarkup).toBeUndefined();
    expect(prompt.text).toBe("Deploying main…"); // the record is live
    expect(prompt.history.map((version) => version.text)).toEqual(["Deploy main?", "Deploying main…"]);

    // A second answer to the same query is what a double click would cause.
    const twice = await grammyError(bot.api.answerCallbackQuery(press.callback_query!.id));
    expect(twice.error_code).toBe(400);
    expect(twice.description).toBe("Bad Request: query is too old and response timeout expired or query ID is invalid");
  });

  it("lets a test press any data on an existing bot message, but not on a missing one", async () => {
    const { telegram, bot } = env;
    const sent = await bot.api.sendMessage(ADMIN.id, "Pick", { reply_markup: new InlineKeyboard().text("A", "a") });
    const forged = telegram.pressButton(ADMIN.id, ADMIN, sent.message_id, "op:forged");
    expect(forged.callback_query).toMatchObject({ data: "op:forged", from: { id: ADMIN.id } });
    expect(forged.callback_query?.message).toMatchObject({ message_id: sent.message_id, text: "Pick" });
    expect(() => telegram.pressButton(ADMIN.id, ADMIN, 999, "a")).toThrow(EmulatorUsageError);
    await bot.api.deleteMessage(ADMIN.id, sent.message_id);
    expect(() => telegram.pressButton(ADMIN.id, ADMIN, sent.message_id, "a")).toThrow(EmulatorUsageError);
  });

  it("records a document sent with an InputFile (multipart upload)", async () => {
    const { telegram, bot } = env;
    bot.command("logs", (ctx) =>
      ctx.replyWithDocument(new InputFile(Buffer.from("line 1\nline 2\n"), "out.txt"), {
        caption: "<b>api</b> logs &amp; more",
        parse_mode: "HTML",
        reply_markup: new InlineKeyboard().text("More", "logs:more"),
      }),
    );
    env.startBot();

    telegram.sendCommand(ADMIN.id, ADMIN, "/logs");
    const document = await telegram.waitForDocument();

    expect(document.filename).toBe("out.txt");
    expect(document.content.toString("utf8")).toBe("line 1\nline 2\n");
    expect(document).toMatchObject({ chatId: ADMIN.id, caption: "api logs & more", mimeType: "text/plain" });
    expect(document.message).toMatchObject({ kind: "document", text: "api logs & more", rawText: "<b>api</b> logs &amp; more" });
    expect(document.message.replyMarkup?.inline_keyboard[0]?.[0]).toMatchObject({ callback_data: "logs:more" });
    expect(telegram.messages).toContain(document.message);

    // The returned file_id can be sent again without uploading.
    const again = await bot.api.sendDocument(ADMIN.id, document.fileId);
    expect(again.document.file_name).toBe("out.txt");
    expect(telegram.documents[1]?.content.equals(document.content)).toBe(true);
  });

  it("reports 'message is not modified' and unknown messages like Telegram", async () => {
    const { telegram, bot } = env;
    const keyboard = new InlineKeyboard().text("Ack", "ack");
    const sent = await bot.api.sendMessage(ADMIN.id, "Disk at 91%", { reply_markup: keyboard });

    const same = await grammyError(bot.api.editMessageText(ADMIN.id, sent.message_id, "Disk at 91%", { reply_markup: keyboard }));
    expect(same.error_code).toBe(400);
    expect(same.description).toMatch(/^Bad Request: message is not modified: /);
    const sameMarkup = await grammyError(bot.api.editMessageReplyMarkup(ADMIN.id, sent.message_id, { reply_markup: keyboard }));
    expect(sameMarkup.description).toMatch(/^Bad Request: message is not modified: /);

    // Same text, but the keyboard goes away: that is a modification.
    await bot.api.editMessageText(ADMIN.id, sent.message_id, "Disk at 91%");
    expect(telegram.edits).toHaveLength(1);

    const unknown = await grammyError(bot.api.editMessageText(ADMIN.id, 999, "x"));
    expect(unknown.description).toBe("Bad Request: message to edit not found");

    await bot.api.deleteMessage(ADMIN.id, sent.message_id);
    expect(telegram.message(ADMIN.id, sent.message_id)?.deleted).toBe(true);
    const deleted = await grammyError(bot.api.editMessageText(ADMIN.id, sent.message_id, "y"));
    expect(deleted.description).toBe("Bad Request: message to edit not found");
    const deletedTwice = await grammyError(bot.api.deleteMessage(ADMIN.id, sent.message_id));
    expect(deletedTwice.description).toBe("Bad Request: message to delete not found");
  });

  it("enforces text, callback_data and HTML limits", async () => {
    const { bot } = env;
    const empty = await grammyError(bot.api.sendMessage(ADMIN.id, "   \n "));
    expect(empty.description).toBe("Bad Request: message text is empty");
    const long = await grammyError(bot.api.sendMessage(ADMIN.id, "x".repeat(4097)));
    expect(long.description).toBe("Bad Request: message is too long");
    await expect(bot.api.sendMessage(ADMIN.id, "x".repeat(4096))).resolves.toBeDefined();
    // The limit applies to the visible text, after the markup is parsed.
    await expect(bot.api.sendMessage(ADMIN.id, `<b>${"x".repeat(4096)}</b>`, { parse_mode: "HTML" })).resolves.toBeDefined();

    const data65 = await grammyError(
      bot.api.sendMessage(ADMIN.id, "Pick", { reply_markup: new InlineKeyboard().text("A", "é".repeat(32) + "x") }),
    );
    expect(data65.description).toBe("Bad Request: BUTTON_DATA_INVALID");
    await expect(
      bot.api.sendMessage(ADMIN.id, "Pick", { reply_markup: new InlineKeyboard().text("A", "é".repeat(32)) }),
    ).resolves.toBeDefined();

    const html = await grammyError(bot.api.sendMessage(ADMIN.id, "exit code <1>", { parse_mode: "HTML" }));
    expect(html.description).toMatch(/^Bad Request: can't parse entities: Unsupported start tag "1"/);
  });

  it("rejects a waitForMessage timeout with what the bot did send", async () => {
    const { telegram, bot } = env;
    await bot.api.sendMessage(ADMIN.id, "Deploy failed: health check red");
    await grammyError(bot.api.sendMessage(ADMIN.id, ""));

    const error = await telegram.waitForMessage((m) => m.text === "Deployed", 50).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(EmulatorTimeoutError);
    const message = (error as Error).message;
    expect(message).toContain('m.text === "Deployed"');
    expect(message).toContain("Deploy failed: health check red");
    expect(message).toContain("400 Bad Request: message text is empty");
  });

  it("waitForMessage finds replies sent before the call, each exactly once, non-matching ones kept", async () => {
    const { telegram, bot } = env;
    await bot.api.sendMessage(ADMIN.id, "first");
    await bot.api.sendMessage(ADMIN.id, "second");
    expect((await telegram.waitForMessage((m) => m.text === "second")).text).toBe("second");
    expect((await telegram.waitForMessage()).text).toBe("first");
    const later = telegram.waitForMessage();
    await bot.api.sendMessage(ADMIN.id, "third");
    expect((await later).text).toBe("third");
    // Predicates see the message as sent, so an edit cannot make an old message match later.
    const sent = await bot.api.sendMessage(ADMIN.id, "Running");
    await bot.api.editMessageText(ADMIN.id, sent.message_id, "Done");
    await expect(telegram.waitForMessage((m) => m.text === "Done", 50)).rejects.toThrow(EmulatorTimeoutError);
    expect((await telegram.waitForMessage((m) => m.text === "Running")).text).toBe("Done");
  });

  it("stores commands per scope", async () => {
    const { telegram, bot } = env;
    await bot.api.setMyCommands([{ command: "deploy", description: "Deploy a ref" }]);
    await bot.api.setMyCommands([{ command: "status", description: "Status" }], {
      scope: { type: "chat", chat_id: GROUP.id },
    });
    expect(await bot.api.getMyCommands()).toEqual([{ command: "deploy", description: "Deploy a ref" }]);
    expect(await bot.api.getMyCommands({ scope: { type: "chat", chat_id: GROUP.id } })).toEqual([
      { command: "status", description: "Status" },
    ]);
    expect(telegram.commands.map((entry) => entry.scope)).toEqual([undefined, { type: "chat", chat_id: GROUP.id }]);
    const invalid = await grammyError(bot.api.setMyCommands([{ command: "Deploy-Now", description: "x" }]));
    expect(invalid.description).toBe("Bad Request: BOT_COMMAND_INVALID");
  });
});
