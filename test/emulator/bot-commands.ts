import type { BotCommand, BotCommandScope } from "grammy/types";
import { badRequest } from "./errors.js";
import type { Params } from "./params.js";
import type { CommandsUpdate } from "./types.js";
import { canonicalJson, LIMITS } from "./validation.js";

/** The bot's command menus (setMyCommands / getMyCommands / deleteMyCommands), per scope and language. */
export class BotCommands {
  /** Every accepted setMyCommands, oldest first. */
  readonly history: CommandsUpdate[] = [];
  private readonly current = new Map<string, BotCommand[]>();

  set(params: Params): true {
    const commands = params.json("commands");
    if (!Array.isArray(commands)) throw badRequest("can't parse commands JSON object");
    if (commands.length > LIMITS.commands) throw badRequest("too many commands");
    const pattern = new RegExp(`^[a-z0-9_]{1,${LIMITS.commandLength}}$`);
    for (const entry of commands as Partial<BotCommand>[]) {
      if (typeof entry.command !== "string" || !pattern.test(entry.command)) throw badRequest("BOT_COMMAND_INVALID");
      const description = entry.description?.trim() ?? "";
      if (description.length === 0 || description.length > LIMITS.commandDescriptionLength) {
        throw badRequest("BOT_COMMAND_DESCRIPTION_INVALID");
      }
    }
    const list = (commands as BotCommand[]).map(({ command, description }) => ({ command, description }));
    this.current.set(scopeKey(params), list);
    this.history.push({
      commands: list,
      scope: params.json("scope") as BotCommandScope | undefined,
      languageCode: params.string("language_code"),
      at: new Date(),
    });
    return true;
  }

  get(params: Params): BotCommand[] {
    return this.current.get(scopeKey(params)) ?? [];
  }

  delete(params: Params): true {
    this.current.delete(scopeKey(params));
    return true;
  }
}

function scopeKey(params: Params): string {
  return `${canonicalJson(params.json("scope") ?? { type: "default" })}|${params.string("language_code") ?? ""}`;
}
