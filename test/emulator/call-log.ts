import type { Message } from "grammy/types";
import type { ApiCall } from "./types.js";

/** How many recent calls a timeout error lists. */
const RECENT_CALLS_IN_ERRORS = 15;

/**
 * The bot's recent Bot API calls (getUpdates left out) as one line each, for timeout errors:
 * "timed out" alone never explains a failing test, what the bot did instead does.
 */
export function recentCalls(calls: readonly ApiCall[]): string[] {
  return calls
    .filter((call) => call.method.toLowerCase() !== "getupdates")
    .slice(-RECENT_CALLS_IN_ERRORS)
    .map(describeCall);
}

export function describeCall(call: ApiCall): string {
  const params = call.params;
  const parts: string[] = [];
  for (const key of ["chat_id", "message_id", "callback_query_id", "text", "caption", "show_alert"]) {
    if (params[key] !== undefined) parts.push(`${key}=${truncate(JSON.stringify(params[key]) ?? "", 80)}`);
  }
  const document = params.document;
  if (document !== undefined) parts.push(`document=${typeof document === "string" ? document : "<upload>"}`);
  const fault = call.fault === undefined ? "" : ` [injected ${JSON.stringify(call.fault)}]`;
  const response = call.response;
  const outcome =
    response === undefined
      ? "(no answer yet)"
      : response.ok
        ? `ok${isMessage(response.result) ? ` → message ${response.result.message_id}` : ""}`
        : `${response.error_code} ${response.description}`;
  return `${call.method}(${parts.join(", ")}) → ${outcome}${fault}`;
}

function isMessage(value: unknown): value is Message {
  return typeof value === "object" && value !== null && "message_id" in value;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
