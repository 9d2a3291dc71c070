import type { WebhookInfo } from "grammy/types";
import { badRequest } from "./errors.js";
import { unixTime } from "./identities.js";
import type { Params } from "./params.js";
import type { WebhookState } from "./types.js";

/** Ports Telegram accepts for webhooks (bots/api#setwebhook). */
const WEBHOOK_PORTS = new Set(["443", "80", "88", "8443"]);

/**
 * Webhook settings per bot token. The emulated bot (opsgram) polls, so for it this is mostly
 * `deleteWebhook` at start; other tokens stand for the apps' own bots, whose webhook health
 * opsgram checks with `getWebhookInfo` — a test sets what Telegram would report for them.
 */
export class WebhookRegistry {
  private readonly states = new Map<string, WebhookState>();

  /** Whether `token` was configured here (other bots' tokens are known only this way). */
  knows(token: string): boolean {
    return this.states.has(token);
  }

  /** Merges `info` into what getWebhookInfo reports for `token`; dates may be `Date`s. */
  configure(token: string, info: Partial<WebhookState>): WebhookState {
    const next = { ...this.state(token), ...info };
    this.states.set(token, next);
    return next;
  }

  state(token: string): WebhookState {
    return this.states.get(token) ?? { url: "" };
  }

  /** A webhook is set: Telegram then refuses getUpdates for that token. */
  active(token: string): boolean {
    return this.state(token).url !== "";
  }

  /**
   * getWebhookInfo's answer. `queued` is the emulator's own queue length for the polling bot;
   * a configured `pending_update_count` wins over it.
   */
  info(token: string, queued: number): WebhookInfo {
    const state = this.state(token);
    return {
      url: state.url,
      has_custom_certificate: false,
      pending_update_count: state.pending_update_count ?? queued,
      ...(state.last_error_date === undefined ? {} : { last_error_date: seconds(state.last_error_date) }),
      ...(state.last_error_message === undefined ? {} : { last_error_message: state.last_error_message }),
      ...(state.max_connections === undefined ? {} : { max_connections: state.max_connections }),
      ...(state.ip_address === undefined ? {} : { ip_address: state.ip_address }),
    };
  }

  /** setWebhook: an HTTPS URL on an allowed port, or "" to remove it. */
  set(token: string, params: Params): true {
    const url = params.string("url") ?? "";
    if (url !== "") {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw badRequest("bad webhook: Failed to resolve host: Name or service not known");
      }
      if (parsed.protocol !== "https:") throw badRequest("bad webhook: An HTTPS URL must be provided for webhook");
      if (!WEBHOOK_PORTS.has(parsed.port || "443")) {
        throw badRequest("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443");
      }
    }
    const maxConnections = params.integer("max_connections");
    this.configure(token, {
      url,
      ...(maxConnections === undefined ? {} : { max_connections: maxConnections }),
      ...(params.string("ip_address") === undefined ? {} : { ip_address: params.string("ip_address") }),
    });
    return true;
  }

  /** deleteWebhook; `drop_pending_updates` also clears a configured pending count. */
  delete(token: string, params: Params): true {
    const state = this.state(token);
    const drop = params.boolean("drop_pending_updates") === true;
    this.states.set(token, {
      ...state,
      url: "",
      ...(drop && state.pending_update_count !== undefined ? { pending_update_count: 0 } : {}),
    });
    return true;
  }
}

function seconds(date: Date | number): number {
  return typeof date === "number" ? date : unixTime(date);
}
