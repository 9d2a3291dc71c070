/**
 * A Bot API error response as Telegram sends it. Method handlers throw it; the HTTP layer turns it
 * into `{ ok: false, error_code, description, parameters? }` so grammY raises a real `GrammyError`.
 */
export class BotApiError extends Error {
  override readonly name = "BotApiError";

  constructor(
    readonly errorCode: number,
    readonly description: string,
    readonly parameters?: { retry_after?: number; migrate_to_chat_id?: number },
  ) {
    super(description);
  }

  /** The JSON body Telegram answers with. */
  toResponse(): { ok: false; error_code: number; description: string; parameters?: BotApiError["parameters"] } {
    return {
      ok: false,
      error_code: this.errorCode,
      description: this.description,
      ...(this.parameters ? { parameters: this.parameters } : {}),
    };
  }
}

/** 400 with Telegram's "Bad Request: …" prefix, the most common failure. */
export function badRequest(reason: string): BotApiError {
  return new BotApiError(400, `Bad Request: ${reason}`);
}

/**
 * A `waitFor…` helper gave up. The message lists what the bot did recently, because "timed out"
 * alone never explains a failing test; `recentActivity` carries the same lines for assertions.
 */
export class EmulatorTimeoutError extends Error {
  override readonly name = "EmulatorTimeoutError";

  constructor(
    /** e.g. `waitForMessage(m => m.text.includes("Deployed"))`. */
    readonly waitedFor: string,
    readonly timeoutMs: number,
    readonly recentActivity: readonly string[],
  ) {
    super(
      `${waitedFor} timed out after ${timeoutMs} ms.\n` +
        (recentActivity.length === 0
          ? "The bot made no Bot API calls (besides getUpdates) so far."
          : `Recent Bot API calls (oldest first):\n${recentActivity.map((line) => `  ${line}`).join("\n")}`),
    );
  }
}

/** A test used the emulator wrongly (e.g. pressed a button on a message the bot never sent). */
export class EmulatorUsageError extends Error {
  override readonly name = "EmulatorUsageError";
}
