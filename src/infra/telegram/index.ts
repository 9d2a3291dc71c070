/** Telegram adapters: the Notifier over grammY's Api and the bot Api's transformer setup. */
export { configureApi, API_MAX_DELAY_SECONDS, API_MAX_RETRY_ATTEMPTS } from "./configure-api.js";
export { TelegramNotifier, type TelegramNotifierOptions } from "./notifier.js";
export { TelegramSendError } from "./errors.js";
export { BotApiWebhookInfo, type BotApiWebhookInfoOptions } from "./webhook-info.js";
