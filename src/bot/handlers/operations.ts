import { InputFile, type Composer } from "grammy";
import { requireRole } from "../access-gate.js";
import type { BotContext, BotFeature } from "../context.js";
import { minimumRole } from "../roles.js";
import { BUTTON_DATA_PATTERN } from "../operations/callback-data.js";
import type { ChatOperations, ChatRequestResult, TextReply } from "../operations/chat-commands.js";
import { commandWords } from "../operations/parse.js";
import type { ReadReply } from "../operations/render-status.js";
import { UNLOCK_DATA_PREFIX } from "../operations/unlock-buttons.js";

export { commandWords };

/** Telegram shows at most 200 characters in a button answer. */
const MAX_ANSWER = 200;

export interface OperationsFeatureDeps {
  chat: ChatOperations;
}

function clipAnswer(text: string): string {
  return text.length > MAX_ANSWER ? `${text.slice(0, MAX_ANSWER - 1)}…` : text;
}

/** Plans and progress are posted by the reporter; only refusals and text replies are answered here. */
async function replyTo(ctx: BotContext, result: ChatRequestResult | TextReply | ReadReply): Promise<void> {
  if (result.status === "refused") await ctx.reply(`⛔ ${result.reason}`);
  else if (result.status === "ok" && "html" in result) await ctx.reply(result.html, { parse_mode: "HTML" });
  else if (result.status === "ok" && "buttons" in result && result.buttons) {
    await ctx.reply(result.text, { reply_markup: { inline_keyboard: result.buttons.map((row) => row.map((b) => ({ text: b.text, callback_data: b.data }))) } });
  } else if (result.status === "ok") await ctx.reply(result.text);
  else if (result.status === "document") {
    await ctx.replyWithDocument(new InputFile(Buffer.from(result.content, "utf8"), result.filename), { caption: result.caption, parse_mode: "HTML" });
  }
  else if (result.status === "started") {
    result.done.catch((err: unknown) => ctx.log.error({ err, operationId: result.operationId }, "operation crashed"));
  }
}

/**
 * /deploy, /rollback, /scale, /restart, /run, /backup, /backups, /pause_payouts, /resume_payouts, /lock, /unlock and
 * the Confirm/Cancel buttons. Each handler hands the words to ChatOperations (parse → operations →
 * reply); the button is answered as soon as the press is decided, the work runs on.
 */
export function createOperationsFeature(deps: OperationsFeatureDeps): BotFeature {
  const { chat } = deps;
  return {
    name: "operations",
    commands: [
      { command: "deploy", description: "deploy a branch or tag: /deploy <ref> [target]" },
      { command: "rollback", description: "undo the last deploy, or go to a sha or #deployment: /rollback [sha|#id] [target]" },
      { command: "scale", description: "set a service's replicas: /scale <service> <n> [target]" },
      { command: "restart", description: "restart a service in place: /restart <service> [target]" },
      { command: "run", description: "runbook commands: /run lists them, /run <name> [args…]" },
      { command: "backup", description: "dump the database on the target now: /backup [target]" },
      { command: "backups", description: "recent backups: /backups [target]" },
      { command: "pause_payouts", description: "payout kill switch: /pause_payouts [target] [reason]" },
      { command: "resume_payouts", description: "resume payouts: /resume_payouts [target]" },
      { command: "lock", description: "freeze mutating commands on a target: /lock [target] [reason]" },
      { command: "unlock", description: "lift a freeze (or a dead operation's lock): /unlock [target]" },
    ],
    register(composer: Composer<BotContext>) {
      const on = (command: string, call: (ctx: BotContext, words: string[]) => Promise<ChatRequestResult | TextReply | ReadReply>) =>
        composer.command(command, async (ctx) => {
          if (ctx.databaseDown) {
            // Without the database only the kill switch runs (audited through the local journal).
            const words = commandWords(ctx.match);
            return replyTo(ctx, command === "pause_payouts" ? await chat.pausePayoutsWithoutDatabase(ctx.actor, words) : chat.refusedWithoutDatabase(command));
          }
          return replyTo(ctx, await call(ctx, commandWords(ctx.match)));
        });
      on("deploy", (ctx, words) => chat.deploy(ctx.actor, words));
      on("rollback", (ctx, words) => chat.rollback(ctx.actor, words));
      on("scale", (ctx, words) => chat.scale(ctx.actor, words));
      on("restart", (ctx, words) => chat.restart(ctx.actor, words));
      composer.command("run", async (ctx) => {
        const result = await chat.startRun(ctx.actor, commandWords(ctx.match));
        if (result.status !== "running") return replyTo(ctx, result);
        // A read-only command answers when it is done, without holding the chat's later commands.
        result.done.then((reply) => replyTo(ctx, reply)).catch((err: unknown) => ctx.log.error({ err }, "/run reply failed"));
      });
      on("backup", (ctx, words) => chat.backup(ctx.actor, words));
      on("backups", (ctx, words) => chat.backups(ctx.actor, words));
      on("pause_payouts", (ctx, words) => chat.pausePayouts(ctx.actor, words));
      on("resume_payouts", (ctx, words) => chat.resumePayouts(ctx.actor, words));
      on("lock", (ctx, words) => chat.lock(ctx.actor, words));
      on("unlock", (ctx, words) => chat.unlock(ctx.actor, words));

      composer.callbackQuery(BUTTON_DATA_PATTERN, async (ctx) => {
        // The press needs the role of the command that made the plan (/unlock's Confirm: admin).
        const command = await chat.buttonCommand(ctx.callbackQuery.data);
        if (command && !(await requireRole(ctx, minimumRole(ctx.access.rules, command), "This button"))) return;
        const message = ctx.callbackQuery.message;
        const pressedOn = message ? { chatId: message.chat.id, messageId: message.message_id } : null;
        const result = await chat.press(ctx.actor, ctx.callbackQuery.data, pressedOn);
        await ctx.answerCallbackQuery({ text: clipAnswer(result.text), show_alert: result.status === "refused" });
        if (result.status === "confirmed") {
          result.done.catch((err: unknown) => ctx.log.error({ err, operationId: result.operationId }, "operation crashed"));
        }
      });

      // [Unlock] under a frozen target: asks for a Confirm in a new message; the Confirm (audited) lifts it.
      composer.callbackQuery(UNLOCK_DATA_PREFIX, async (ctx) => {
        // [Unlock] is /unlock by button: the same minimum role (admin by default).
        if (!(await requireRole(ctx, minimumRole(ctx.access.rules, "unlock"), "This button"))) return;
        const result = await chat.pressUnlock(ctx.actor, ctx.callbackQuery.data);
        await ctx.answerCallbackQuery({ text: clipAnswer(result.text), show_alert: result.status === "refused" });
        if (result.status === "ask") {
          const inline_keyboard = result.buttons.map((row) => row.map((b) => ({ text: b.text, callback_data: b.data })));
          await ctx.reply(result.text, { reply_markup: { inline_keyboard } });
        } else if (result.status === "done") {
          await ctx.editMessageText(result.text, { reply_markup: { inline_keyboard: [] } }).catch((err: unknown) => ctx.log.warn({ err }, "could not edit the unlock message"));
        }
      });
    },
  };
}
