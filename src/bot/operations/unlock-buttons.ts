import type { InlineButton } from "../../shared/ports.js";

/**
 * The [Unlock] button under a frozen target's message, and its Confirm: `fz:u:<version>:<target>`
 * asks, `fz:c:…` lifts, `fz:x:…` keeps it frozen. The version binds the press to that one freeze:
 * a later freeze of the same target (another incident) is not lifted by an old message's button.
 */
const UNLOCK_DATA_PATTERN = /^fz:([ucx]):(\d{1,15}):(?:(\d{1,16}):)?([a-z0-9][a-z0-9_-]*)$/;
export const UNLOCK_DATA_PREFIX = /^fz:/;
/** Telegram's limit for button data. */
const MAX_BUTTON_DATA = 64;

/** version 0: whatever freeze is there when confirmed (an /unlock typed under four eyes). askedBy: who asked. */
export type UnlockPress = { action: "ask" | "confirm" | "keep"; version: number; target: string; askedBy?: number };

function data(action: "u" | "c" | "x", target: string, version: number, askedBy?: number): string | null {
  const text = `fz:${action}:${version}:${askedBy === undefined ? "" : `${askedBy}:`}${target}`;
  return Buffer.byteLength(text) <= MAX_BUTTON_DATA ? text : null;
}

/** [🔓 Unlock], or none when the target's name is too long for button data (then /unlock it is). */
export function unlockButton(target: string, version: number): InlineButton[][] {
  const ask = data("u", target, version);
  return ask ? [[{ text: "🔓 Unlock", data: ask }]] : [];
}

/** The Confirm carries who asked, so that under four eyes the same person cannot confirm. */
export function confirmUnlockButtons(target: string, version: number, askedBy?: number): InlineButton[][] {
  const confirm = data("c", target, version, askedBy);
  const keep = data("x", target, version);
  return confirm && keep ? [[{ text: "✅ Confirm unlock", data: confirm }, { text: "✖ Keep frozen", data: keep }]] : [];
}

export function parseUnlockData(text: string): UnlockPress | null {
  const match = text.length <= MAX_BUTTON_DATA ? UNLOCK_DATA_PATTERN.exec(text) : null;
  if (!match) return null;
  const action = match[1] === "u" ? "ask" : match[1] === "c" ? "confirm" : "keep";
  return { action, version: Number(match[2]), target: match[4]!, ...(match[3] ? { askedBy: Number(match[3]) } : {}) };
}
