import type { OperationsDeps, TargetHandle } from "./context.js";

/** Command arguments after the target has been taken off: what a command parses next. */
export type TargetArgs = { ok: true; target: TargetHandle; rest: string[] } | { ok: false; reason: string };

/** Shows a piece of chat input inside a reply without letting it break the message. */
export function showInput(input: string): string {
  const clipped = input.length > 40 ? `${input.slice(0, 40)}…` : input;
  return JSON.stringify(clipped);
}

function handle(deps: OperationsDeps, name: string): TargetHandle | null {
  const config = deps.config.targets[name];
  const ports = deps.targets[name];
  return config && ports ? { name, config, ports } : null;
}

export function targetNames(deps: OperationsDeps): string[] {
  return Object.keys(deps.config.targets);
}

function defaultTarget(deps: OperationsDeps): TargetArgs | null {
  const first = targetNames(deps)[0];
  if (first === undefined) return { ok: false, reason: "No targets are configured in opsgram.yml." };
  const target = handle(deps, first);
  return target ? null : { ok: false, reason: `Target ${first} is configured but not connected.` };
}

function named(deps: OperationsDeps, name: string, rest: string[]): TargetArgs {
  const target = handle(deps, name);
  if (target) return { ok: true, target, rest };
  const known = targetNames(deps);
  return { ok: false, reason: `Unknown target ${showInput(name)}. Known targets: ${known.join(", ") || "none"}.` };
}

/**
 * Positional arguments with an optional target name as the last word (the first configured target
 * is the default): `/deploy <ref> [target]`, `/scale <svc> <n> [target]`, `/rollback [x] [target]`.
 * With optional arguments, a last word that names a target is read as the target.
 */
export function splitTarget(deps: OperationsDeps, words: readonly string[], shape: { required: number; optional: number; usage: string }): TargetArgs {
  const max = shape.required + shape.optional;
  if (words.length < shape.required) return { ok: false, reason: `Usage: ${shape.usage}` };
  if (words.length > max + 1) return { ok: false, reason: `Too many arguments. Usage: ${shape.usage}` };
  const last = words[words.length - 1];
  if (words.length === max + 1 && last !== undefined) return named(deps, last, words.slice(0, -1));
  if (words.length > shape.required && last !== undefined && deps.config.targets[last] !== undefined) return named(deps, last, words.slice(0, -1));
  const fallback = defaultTarget(deps);
  if (fallback) return fallback;
  return named(deps, targetNames(deps)[0]!, [...words]);
}

/** Free text after an optional leading target name: `/lock [target] [reason…]`, `/pause_payouts [target] [reason…]`. */
export function leadingTarget(deps: OperationsDeps, words: readonly string[]): TargetArgs {
  const first = words[0];
  if (first !== undefined && deps.config.targets[first] !== undefined) return named(deps, first, words.slice(1));
  const fallback = defaultTarget(deps);
  if (fallback) return fallback;
  return named(deps, targetNames(deps)[0]!, [...words]);
}

/** Turns a free-text reason from chat into something safe to store and show: no control characters, bounded. */
export function cleanReason(words: readonly string[], max: number): string | null {
  const text = words.join(" ").replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/g, " ").replace(/\s+/g, " ").trim();
  if (!text) return null;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
