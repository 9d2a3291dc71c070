/**
 * Validators for everything typed in chat that may end up in a remote command.
 *
 * This is the first wall (quote.ts is the second): a value that passes here is plain ASCII from a
 * small alphabet, can never be read as an option, and is within the bounds the operator configured.
 * Each validator returns a {@link Validation} whose `reason` can be shown to the person who typed it.
 */

/** Outcome of a validator: the normalised value, or a reason a human can act on. */
export type Validation<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Longest ref accepted from chat. */
export const MAX_REF_LENGTH = 100;
/** Largest log tail anyone may ask for from chat (/logs says "max 500"). */
export const MAX_LOG_LINES = 500;
/** The log tail /logs shows when no count is given. */
export const DEFAULT_LOG_LINES = 50;

const ok = <T>(value: T): Validation<T> => ({ ok: true, value });
const refuse = <T>(reason: string): Validation<T> => ({ ok: false, reason });

/** Shows untrusted input inside a reason without letting it break the message (control chars, length). */
function show(input: string): string {
  const clipped = input.length > 40 ? `${input.slice(0, 40)}…` : input;
  return JSON.stringify(clipped);
}

/** The only characters a ref may use, whatever the configured pattern says (no shell meaning, no `@`). */
const REF_ALPHABET = /^[A-Za-z0-9._/-]+$/;

/**
 * Git's own ref-name rules (git check-ref-format) that the alphabet above does not already cover.
 * Returns the first broken rule, or null.
 */
function brokenGitRefRule(ref: string): string | null {
  if (ref.startsWith("-")) return "must not start with '-'";
  if (ref.startsWith("/")) return "must not start with '/'";
  if (ref.endsWith("/")) return "must not end with '/'";
  if (ref.endsWith(".")) return "must not end with '.'";
  if (ref.includes("..")) return "must not contain '..'";
  if (ref.includes("//")) return "must not contain '//'";
  for (const component of ref.split("/")) {
    if (component.startsWith(".")) return "no part may start with '.'";
    if (component.endsWith(".lock")) return "no part may end with '.lock'";
  }
  return null;
}

/** Compiles the operator's allowedRefs so that it must match the whole ref, not a piece of it. */
function wholeMatch(pattern: string | RegExp): RegExp {
  const source = typeof pattern === "string" ? pattern : pattern.source;
  const flags = typeof pattern === "string" ? "" : pattern.flags.replace(/[gy]/g, "");
  return new RegExp(`^(?:${source})$`, flags);
}

/**
 * A branch or tag name typed in chat (`/deploy release/v2.1`).
 *
 * Applies, in order: length 1–100, plain ASCII letters/digits/`._/-` only (so no space, control
 * characters, `~^:?*[\`, `@{`, quotes or shell metacharacters), git's ref-name rules (no `..`, no
 * leading `-` `/` `.`, no trailing `/` `.` `.lock`), then the target's `deploy.allowedRefs`, which
 * must match the whole ref.
 */
export function validateRef(ref: string, allowedRefs: string | RegExp): Validation<string> {
  if (typeof ref !== "string" || ref.length === 0) return refuse("a branch or tag name is required");
  if (ref.length > MAX_REF_LENGTH) return refuse(`a ref may be at most ${MAX_REF_LENGTH} characters (got ${ref.length})`);
  if (!REF_ALPHABET.test(ref)) {
    return refuse(`ref ${show(ref)} may only use ASCII letters, digits and . _ / -`);
  }
  const broken = brokenGitRefRule(ref);
  if (broken) return refuse(`ref ${show(ref)} is not a valid git ref name: it ${broken}`);
  if (!wholeMatch(allowedRefs).test(ref)) {
    return refuse(`ref ${show(ref)} is not allowed on this target (allowedRefs: ${String(allowedRefs)})`);
  }
  return ok(ref);
}

/** A commit id typed in chat: 7–40 hex digits, returned lower-case. */
export function validateSha(sha: string): Validation<string> {
  if (typeof sha !== "string" || sha.length === 0) return refuse("a commit id is required");
  if (!/^[0-9A-Fa-f]{7,40}$/.test(sha)) {
    return refuse(`commit id ${show(sha)} must be 7 to 40 hexadecimal digits`);
  }
  return ok(sha.toLowerCase());
}

/** A service name typed in chat: it must be one the target's opsgram.yml lists (the list is the whole alphabet). */
export function validateServiceName(
  name: string,
  configuredServices: readonly string[] | Readonly<Record<string, unknown>>,
): Validation<string> {
  const known = Array.isArray(configuredServices)
    ? (configuredServices as readonly string[])
    : Object.keys(configuredServices);
  if (typeof name !== "string" || name.length === 0) {
    return refuse(`a service name is required (one of: ${known.join(", ") || "none configured"})`);
  }
  // Exact, case-sensitive membership: the configured names already passed NAME_PATTERN.
  if (!known.includes(name)) {
    return refuse(`unknown service ${show(name)}; configured services: ${known.join(", ") || "none"}`);
  }
  return ok(name);
}

/**
 * A whole number typed in chat (`/scale worker 3`): ASCII digits only — no sign, space, decimal
 * point, exponent or non-ASCII digits — within [min, max].
 */
export function validateCount(text: string, min: number, max: number): Validation<number> {
  if (typeof text !== "string" || text.length === 0) return refuse(`a number from ${min} to ${max} is required`);
  if (!/^[0-9]{1,6}$/.test(text)) return refuse(`${show(text)} is not a whole number from ${min} to ${max}`);
  const value = Number.parseInt(text, 10);
  if (value < min || value > max) return refuse(`${value} is out of range: allowed ${min} to ${max}`);
  return ok(value);
}

/** How many log lines to show (`/logs web 200`): a count from 1 to `max`. */
export function validateLogLines(text: string, max: number = MAX_LOG_LINES): Validation<number> {
  const result = validateCount(text, 1, max);
  if (result.ok) return result;
  return refuse(`log lines: ${result.reason}`);
}
