import { InputFile, type Composer } from "grammy";
import type { BotContext, BotFeature } from "../context.js";
import type { ChatOperations } from "../operations/chat-commands.js";
import { commandWords } from "../operations/parse.js";
import type { ReadReply } from "../operations/render-status.js";

export interface StatusFeatureDeps {
  chat: ChatOperations;
}

async function replyWith(ctx: BotContext, reply: ReadReply): Promise<void> {
  if (reply.status === "refused") await ctx.reply(`⛔ ${reply.reason}`);
  else if (reply.status === "ok") await ctx.reply(reply.html, { parse_mode: "HTML" });
  else await ctx.replyWithDocument(new InputFile(Buffer.from(reply.content, "utf8"), reply.filename), { caption: reply.caption, parse_mode: "HTML" });
}

/** /status [target] and /logs <service[,service…]> [lines] [since=…] [grep=…] [target] (read-only; they never take the lock). */
export function createStatusFeature(deps: StatusFeatureDeps): BotFeature {
  return {
    name: "status",
    commands: [
      { command: "status", description: "live commit, services, last deploy, lock, payouts, backup: /status [target]" },
      { command: "logs", description: "recent log lines: /logs <svc[,svc…]> [lines] [since=15m] [grep=re] [target]" },
    ],
    register(composer: Composer<BotContext>) {
      composer.command("status", async (ctx) => replyWith(ctx, await deps.chat.statusOf(ctx.actor, commandWords(ctx.match))));
      composer.command("logs", async (ctx) => replyWith(ctx, await deps.chat.logs(ctx.actor, commandWords(ctx.match))));
    },
  };
}
