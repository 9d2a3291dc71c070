/**
 * A Bot API call that did not succeed within the Notifier's bounded retries. Carries what a caller
 * (the alert outbox) needs to decide: wait `retryAfterMs` (Telegram said so), give up
 * (`permanent`: the chat/message is gone, the bot was blocked, the request is invalid), or try
 * again later (anything else: 5xx, network).
 */
export class TelegramSendError extends Error {
  override readonly name = "TelegramSendError";
  constructor(
    message: string,
    readonly method: string,
    /** Telegram's error_code, or null when the request never got an answer (network). */
    readonly errorCode: number | null,
    /** Telegram's `parameters.retry_after`, in ms, when it asked us to wait longer than we would here. */
    readonly retryAfterMs: number | null,
    /** Retrying the same request cannot succeed. */
    readonly permanent: boolean,
    /** Attempts made, the first included. */
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
