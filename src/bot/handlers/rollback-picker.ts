import { InlineKeyboard, type Composer } from "grammy";
import type { RestoreService } from "../../operations/index.js";
import { formatAgo } from "../../shared/format.js";
import type { BotContext, BotFeature } from "../context.js";
import type { ChatOperations } from "../operations/chat-commands.js";
import { ROLLBACK_LIST_PATTERN, ROLLBACK_TO_PATTERN } from "../operations/callback-data.js";

export interface RollbackPickerDeps {
  restore: Pick<RestoreService, "rollbackChoices">;
  chat: Pick<ChatOperations, "rollback">;
}

/**
 * [Choose another…] under a /rollback plan: lists the recent successful deployments as buttons;
 * picking one plans `/rollback #id` on that target (back to what it put live), confirmed as usual.
 */
export function createRollbackPickerFeature(deps: RollbackPickerDeps): BotFeature {
  return {
    name: "rollback-picker",
    commands: [],
    register(composer: Composer<BotContext>) {
      composer.callbackQuery(ROLLBACK_LIST_PATTERN, async (ctx) => {
        const operationId = ROLLBACK_LIST_PATTERN.exec(ctx.callbackQuery.data)![1]!;
        const message = ctx.callbackQuery.message;
        const pressedOn = message ? { chatId: message.chat.id, messageId: message.message_id } : null;
        const choices = await deps.restore.rollbackChoices(ctx.actor, operationId, pressedOn);
        if (choices.status === "refused") {
          await ctx.answerCallbackQuery({ text: choices.reason.slice(0, 200), show_alert: true });
          return;
        }
        await ctx.answerCallbackQuery();
        const kb = new InlineKeyboard();
        for (const d of choices.deployments) {
          kb.text(`#${d.id} ${d.kind} ${d.ref ?? ""} → ${(d.sha ?? "").slice(0, 7)} · ${formatAgo(d.startedAt, choices.now)}`.slice(0, 60), `rb:t:${d.id}:${choices.target}`).row();
        }
        await ctx.reply(`↩ Roll ${choices.target} back to what which deployment put live?`, { reply_markup: kb });
      });
      composer.callbackQuery(ROLLBACK_TO_PATTERN, async (ctx) => {
        const [, id, target] = ROLLBACK_TO_PATTERN.exec(ctx.callbackQuery.data)!;
        await ctx.answerCallbackQuery();
        const result = await deps.chat.rollback(ctx.actor, [`#${id}`, target!]);
        if (result.status === "refused") await ctx.reply(`⛔ ${result.reason}`);
      });
    },
  };
}
