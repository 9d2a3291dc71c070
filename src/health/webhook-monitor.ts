import type { TelegramWebhookCheckConfig } from "../config/checks.js";
import { redactText } from "../shared/redact.js";
import type { CheckContext, PolledCheck, SignalOutcome } from "./checks.js";
import type { WebhookInfoSource, WebhookStatus } from "./ports.js";

/**
 * The app's own Telegram bot, seen from Telegram's side: an app can answer its health checks while
 * Telegram cannot deliver to it. One getWebhookInfo per interval reports four signals of one
 * incident ("Telegram webhook" of the target):
 * - `webhook:url`     the URL differs from expectUrl (or no webhook is set);
 * - `webhook:pending` more than maxPending updates wait for delivery;
 * - `webhook:error`   Telegram recorded a delivery error since the last look (quoted, redacted);
 *                     it stands until QUIET_LOOKS looks in a row saw no newer one;
 * - `webhook:token`   Telegram refuses the token (revoked or wrong), so nothing else can be seen.
 *
 * A Bot API that cannot be reached says nothing about the app's webhook: nothing is reported then.
 */

const NAME = "Telegram webhook";
/** A quoted error message is cut here: it is one line of an alert. */
const MAX_QUOTE = 300;

/** Looks in a row without a new delivery error before the error signal recovers. */
export const QUIET_LOOKS = 3;

export const WEBHOOK_SIGNALS = { url: "webhook:url", pending: "webhook:pending", error: "webhook:error", token: "webhook:token" } as const;

/** What a look at getWebhookInfo says, given the newest error date already seen (unix seconds). */
export function judgeWebhook(info: WebhookStatus, c: Pick<TelegramWebhookCheckConfig, "expectUrl" | "maxPending">, errorsAfter: number): SignalOutcome[] {
  const url: SignalOutcome =
    info.url === c.expectUrl
      ? { signal: WEBHOOK_SIGNALS.url, status: "ok" }
      : {
          signal: WEBHOOK_SIGNALS.url,
          status: "failed",
          error: redactText(info.url === "" ? `${NAME}: no webhook is set (expected ${c.expectUrl})` : `${NAME}: URL is ${info.url} (expected ${c.expectUrl})`),
        };
  const pending: SignalOutcome =
    info.pendingUpdateCount > c.maxPending
      ? { signal: WEBHOOK_SIGNALS.pending, status: "failed", error: `${NAME}: ${info.pendingUpdateCount} updates waiting for delivery (more than ${c.maxPending})` }
      : { signal: WEBHOOK_SIGNALS.pending, status: "ok" };
  const fresh = info.lastErrorDate !== null && info.lastErrorDate > errorsAfter;
  const error: SignalOutcome = fresh
    ? { signal: WEBHOOK_SIGNALS.error, status: "failed", error: `${NAME}: Telegram could not deliver: ${quote(info.lastErrorMessage)}` }
    : { signal: WEBHOOK_SIGNALS.error, status: "ok" };
  return [url, pending, error, { signal: WEBHOOK_SIGNALS.token, status: "ok" }];
}

function quote(message: string | null): string {
  if (!message) return "(no message)";
  const line = redactText(message.replace(/\s+/g, " ").trim());
  return `"${line.length > MAX_QUOTE ? `${line.slice(0, MAX_QUOTE)}…` : line}"`;
}

/**
 * The webhook check of one target. "Since the last look" is counted in Telegram's own dates (the
 * newest last_error_date seen), so clock skew between Telegram and this host does not matter
 * after the first look; the first look counts errors from one interval back.
 */
export function webhookCheck(
  ctx: CheckContext,
  source: WebhookInfoSource,
  c: TelegramWebhookCheckConfig,
  remindEveryMs: number | null,
  intervalMs: number = c.intervalSeconds * 1000,
): PolledCheck {
  let errorsAfter: number | null = null;
  /** The delivery error standing, and the looks since one was new. */
  let lastError: string | null = null;
  let quiet = 0;
  return {
    key: { target: ctx.target, source: "telegram", subject: "webhook" },
    intervalMs,
    policy: { failuresBeforeAlert: 1, successesBeforeRecovery: 1, remindEveryMs },
    async run() {
      const result = await source.lookup();
      if (result.status === "unreachable") return [{ signal: WEBHOOK_SIGNALS.token, status: "unknown", reason: result.error }];
      if (result.status === "refused") {
        return [{ signal: WEBHOOK_SIGNALS.token, status: "failed", error: `${NAME}: Telegram refuses the app bot's token (${redactText(result.error)})` }];
      }
      const info = result.info;
      const since = errorsAfter ?? Math.floor((ctx.clock.now().getTime() - intervalMs) / 1000);
      const outcomes = judgeWebhook(info, c, since);
      errorsAfter = Math.max(since, info.lastErrorDate ?? since);
      // Our own deploy makes the app unreachable for a moment: delivery errors and a backlog then
      // are expected. The errors are still marked seen, so they are not reported afterwards.
      if (ctx.isTargetChanging()) {
        return outcomes.map((o) =>
          o.status === "failed" && (o.signal === WEBHOOK_SIGNALS.pending || o.signal === WEBHOOK_SIGNALS.error)
            ? { signal: o.signal, status: "unknown" as const, reason: "expected change in progress" }
            : o,
        );
      }
      // Telegram backs off between redeliveries, so a webhook that keeps failing does not show a
      // new error at every look: the error stands until QUIET_LOOKS looks in a row saw none.
      const at = outcomes.findIndex((o) => o.signal === WEBHOOK_SIGNALS.error);
      const error = outcomes[at];
      if (error?.status === "failed") {
        lastError = error.error;
        quiet = 0;
      } else if (lastError !== null) {
        quiet += 1;
        if (quiet < QUIET_LOOKS) outcomes[at] = { signal: WEBHOOK_SIGNALS.error, status: "failed", error: lastError };
        else lastError = null;
      }
      return outcomes;
    },
  };
}
