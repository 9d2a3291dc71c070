import { autoRetry } from "@grammyjs/auto-retry";
import type { Api, RawApi } from "grammy";

/** Retries of one Bot API call (rate limits and 5xx), after the first attempt. */
export const API_MAX_RETRY_ATTEMPTS = 3;
/** Longest `retry_after` waited for inside a handler (seconds); longer ones fail the call. */
export const API_MAX_DELAY_SECONDS = 30;

/**
 * Installs the API transformers of the bot's `Api`: @grammyjs/auto-retry with bounds. Its defaults
 * are unbounded (PITFALLS 5): `maxRetryAttempts` and `maxDelaySeconds` are Infinity, and network
 * errors are retried forever in a loop that does not count attempts — on non-idempotent calls like
 * sendMessage, which can post a reply twice. So: at most 3 retries, at most 30 s of waiting per
 * retry_after, network errors rethrown to the caller (the error boundary logs them).
 *
 * The alert Notifier (TelegramNotifier) retries on its own and should get a separate `Api`
 * without this transformer.
 */
export function configureApi(api: Api<RawApi>): void {
  api.config.use(
    autoRetry({
      maxRetryAttempts: API_MAX_RETRY_ATTEMPTS,
      maxDelaySeconds: API_MAX_DELAY_SECONDS,
      rethrowHttpErrors: true,
      rethrowInternalServerErrors: false,
    }),
  );
}
