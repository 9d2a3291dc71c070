import type { InlineButton } from "../../shared/ports.js";

/** `callback_data` of the plan buttons: `op:c:<id>` confirms, `op:x:<id>` cancels (≤ 64 bytes). */
export const CONFIRM_PREFIX = "op:c:";
export const CANCEL_PREFIX = "op:x:";
/** Matches both buttons; group 1 is `c` or `x`, group 2 the operation id. */
export const BUTTON_DATA_PATTERN = /^op:([cx]):([A-Za-z0-9_-]{16})$/;
/** Telegram's limit for button data; anything longer is not ours. */
const MAX_BUTTON_DATA = 64;

export function confirmButtons(id: string): InlineButton[][] {
  return [[{ text: "✅ Confirm", data: `${CONFIRM_PREFIX}${id}` }, { text: "✖ Cancel", data: `${CANCEL_PREFIX}${id}` }]];
}

/** What a press asks for, or null for data that is not one of our buttons. */
export function parseButtonData(data: string): { action: "confirm" | "cancel"; operationId: string } | null {
  const match = data.length <= MAX_BUTTON_DATA ? BUTTON_DATA_PATTERN.exec(data) : null;
  if (!match) return null;
  return { action: match[1] === "c" ? "confirm" : "cancel", operationId: match[2]! };
}
