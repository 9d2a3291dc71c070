import type { InlineButton } from "../../shared/ports.js";

/** `callback_data` of the plan buttons: `op:c:<id>` confirms, `op:x:<id>` cancels (≤ 64 bytes). */
export const CONFIRM_PREFIX = "op:c:";
export const CANCEL_PREFIX = "op:x:";
/** [Code + restore DB] on a rollback plan: confirms and restores the deployment's backupFirst dump. */
export const CONFIRM_WITH_DB_PREFIX = "op:d:";
/** Matches the buttons; group 1 is `c`, `d` or `x`, group 2 the operation id. */
export const BUTTON_DATA_PATTERN = /^op:([cdx]):([A-Za-z0-9_-]{16})$/;
/** Telegram's limit for button data; anything longer is not ours. */
const MAX_BUTTON_DATA = 64;

/** [Choose another…] under a rollback plan: `rb:l:<operation id>`; a picked deployment is `rb:t:<id>`. */
export const ROLLBACK_LIST_PATTERN = /^rb:l:([A-Za-z0-9_-]{16})$/;
export const ROLLBACK_TO_PATTERN = /^rb:t:(\d{1,12}):([A-Za-z0-9_-]{1,40})$/;

export function confirmButtons(id: string, withDatabase?: { file: string }, chooseAnother = false): InlineButton[][] {
  const another: InlineButton[][] = chooseAnother ? [[{ text: "Choose another…", data: `rb:l:${id}` }]] : [];
  if (withDatabase) {
    return [
      [{ text: "↩ Code only", data: `${CONFIRM_PREFIX}${id}` }],
      [{ text: `↩ Code + restore DB from ${withDatabase.file}`, data: `${CONFIRM_WITH_DB_PREFIX}${id}` }],
      [{ text: "✖ Cancel", data: `${CANCEL_PREFIX}${id}` }],
      ...another,
    ];
  }
  if (chooseAnother) return [[{ text: "✅ Confirm", data: `${CONFIRM_PREFIX}${id}` }, { text: "✖ Cancel", data: `${CANCEL_PREFIX}${id}` }], ...another];
  return [[{ text: "✅ Confirm", data: `${CONFIRM_PREFIX}${id}` }, { text: "✖ Cancel", data: `${CANCEL_PREFIX}${id}` }]];
}

/** What a press asks for, or null for data that is not one of our buttons. */
export function parseButtonData(data: string): { action: "confirm" | "cancel"; operationId: string; restoreDatabase?: boolean } | null {
  const match = data.length <= MAX_BUTTON_DATA ? BUTTON_DATA_PATTERN.exec(data) : null;
  if (!match) return null;
  if (match[1] === "d") return { action: "confirm", operationId: match[2]!, restoreDatabase: true };
  return { action: match[1] === "c" ? "confirm" : "cancel", operationId: match[2]! };
}
