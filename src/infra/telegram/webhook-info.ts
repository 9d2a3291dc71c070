import { Api, GrammyError } from "grammy";
import type { WebhookInfoSource, WebhookLookup } from "../../health/ports.js";
import { redactText, registerSecret } from "../../shared/redact.js";

export interface BotApiWebhookInfoOptions {
  /** The app bot's token (read from the env var the config names). Registered for redaction. */
  token: string;
  /** opsgram's own TELEGRAM_API_ROOT (a local Bot API server, or the emulator in tests). */
  apiRoot?: string | undefined;
  timeoutSeconds?: number;
}

/**
 * getWebhookInfo for an app's own bot over grammY's Api, without retries (the check runs again at
 * its interval). The token lives only in this object and the request URL; it is registered as a
 * secret, so an error quoting the URL is masked in logs and chat.
 */
export class BotApiWebhookInfo implements WebhookInfoSource {
  private readonly api: Api;

  constructor(options: BotApiWebhookInfoOptions) {
    registerSecret(options.token);
    this.api = new Api(options.token, { timeoutSeconds: options.timeoutSeconds ?? 20, ...(options.apiRoot ? { apiRoot: options.apiRoot } : {}) });
  }

  async lookup(): Promise<WebhookLookup> {
    try {
      const info = await this.api.getWebhookInfo();
      return {
        status: "ok",
        info: {
          url: info.url ?? "",
          pendingUpdateCount: info.pending_update_count,
          lastErrorDate: info.last_error_date ?? null,
          lastErrorMessage: info.last_error_message ?? null,
        },
      };
    } catch (err) {
      // 401: revoked or wrong token; 404: not a token at all. Both stay wrong until someone acts.
      if (err instanceof GrammyError && (err.error_code === 401 || err.error_code === 404)) {
        return { status: "refused", error: redactText(`${err.error_code} ${err.description}`) };
      }
      return { status: "unreachable", error: redactText((err as Error).message) };
    }
  }
}
