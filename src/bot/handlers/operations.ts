import type { Composer } from "grammy";
import type { BotContext, BotFeature } from "../context.js";
import { BUTTON_DATA_PATTERN, type OperationsService, type RequestResult, type TextReply } from "../../operations/index.js";

/** Telegram shows at most 200 characters in a button answer. */
const MAX_ANSWER = 200;

export interface OperationsFeatureDeps {
  service: OperationsService;
}

/** The words after a command; whitespace of any kind separates them. */
export function commandWords(match: string | undefined): string[] {
  return (match ?? "").trim().split(/\s+/).filter((w) => w.length > 0);
}

function clipAnswer(text: string): string {
  return text.length > MAX_ANSWER ? `${text.slice(0, MAX_ANSWER - 1)}…` : text;
}

/** Plans and progress are posted by the service itself; only refusals are answered here. */
async function replyTo(ctx: BotContext, result: RequestResult | TextReply): Promise<void> {
  if (result.status === "refused") await ctx.reply(`⛔ ${result.reason}`);
  else if (result.status === "ok") await ctx.reply(result.text);
  else if (result.status === "started") {
    result.done.catch((err: unknown) => ctx.log.error({ err, operationId: result.operationId }, "operation crashed"));
  }
}

/**
 * /deploy, /rollback, /scale, /backup, /backups, /pause_payouts, /resume_payouts, /lock, /unlock and
 * the Confirm/Cancel buttons. Handlers only split the words and hand them to the service, which
 * validates everything; the button is answered as soon as the press is decided, the work runs on.
 */
export function createOperationsFeature(deps: OperationsFeatureDeps): BotFeature {
  const { service } = deps;
  return {
    name: "operations",
    commands: [
      { command: "deploy", description: "deploy a branch or tag: /deploy <ref> [target]" },
      { command: "rollback", description: "undo the last deploy, or go to a sha or #deployment: /rollback [sha|#id] [target]" },
      { command: "scale", description: "set a service's replicas: /scale <service> <n> [target]" },
      { command: "backup", description: "dump the database on the target now: /backup [target]" },
      { command: "backups", description: "recent backups: /backups [target]" },
      { command: "pause_payouts", description: "payout kill switch: /pause_payouts [target] [reason]" },
      { command: "resume_payouts", description: "resume payouts: /resume_payouts [target]" },
      { command: "lock", description: "freeze mutating commands on a target: /lock [target] [reason]" },
      { command: "unlock", description: "lift a freeze (or a dead operation's lock): /unlock [target]" },
    ],
    register(composer: Composer<BotContext>) {
      composer.command("deploy", async (ctx) => replyTo(ctx, await service.requestDeploy(ctx.actor, commandWords(ctx.match))));
      composer.command("rollback", async (ctx) => replyTo(ctx, await service.requestRollback(ctx.actor, commandWords(ctx.match))));
      composer.command("scale", async (ctx) => replyTo(ctx, await service.requestScale(ctx.actor, commandWords(ctx.match))));
      composer.command("backup", async (ctx) => replyTo(ctx, await service.backup(ctx.actor, commandWords(ctx.match))));
      composer.command("backups", async (ctx) => replyTo(ctx, await service.listBackups(ctx.actor, commandWords(ctx.match))));
      composer.command("pause_payouts", async (ctx) => replyTo(ctx, await service.requestPausePayouts(ctx.actor, commandWords(ctx.match))));
      composer.command("resume_payouts", async (ctx) => replyTo(ctx, await service.requestResumePayouts(ctx.actor, commandWords(ctx.match))));
      composer.command("lock", async (ctx) => replyTo(ctx, await service.lock(ctx.actor, commandWords(ctx.match))));
      composer.command("unlock", async (ctx) => replyTo(ctx, await service.unlock(ctx.actor, commandWords(ctx.match))));

      composer.callbackQuery(BUTTON_DATA_PATTERN, async (ctx) => {
        const result = await service.press(ctx.actor, ctx.callbackQuery.data);
        await ctx.answerCallbackQuery({ text: clipAnswer(result.text), show_alert: result.status === "refused" });
        if (result.status === "confirmed") {
          result.done.catch((err: unknown) => ctx.log.error({ err, operationId: result.operationId }, "operation crashed"));
        }
      });
    },
  };
}
