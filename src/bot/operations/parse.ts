import type { DeployRequest, LogsRequest, ReasonRequest, RestartRequest, RollbackRequest, RollbackTarget, RunRequest, ScaleRequest, TargetRequest } from "../../operations/requests.js";

/**
 * Chat words → typed requests. Only the shape is decided here (how many words, which one names the
 * target, what `#12` means); the values are validated by operations against strict patterns and the
 * target's config. A failed parse is a reason to show (and to audit).
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Longest free-text reason kept (it is stored and shown, never run). */
export const MAX_REASON_LENGTH = 200;

/** A deployment id as typed: `#12` or up to 6 digits (a 7+ digit number is read as a sha). */
const DEPLOYMENT_ID = /^#?([0-9]{1,6})$/;

/** The words after a command; whitespace of any kind separates them. */
export function commandWords(match: string | undefined): string[] {
  return (match ?? "").trim().split(/\s+/).filter((w) => w.length > 0);
}

/** Shows a piece of chat input inside a reply without letting it break the message. */
export function showInput(input: string): string {
  const clipped = input.length > 40 ? `${input.slice(0, 40)}…` : input;
  return JSON.stringify(clipped);
}

/** Turns a free-text reason from chat into something safe to store and show: no control characters, bounded. */
export function cleanReason(words: readonly string[], max: number = MAX_REASON_LENGTH): string | null {
  const text = words.join(" ").replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/g, " ").replace(/\s+/g, " ").trim();
  if (!text) return null;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * The configured target names, in opsgram.yml order (the first is the default). Looked up in a
 * Set, so `constructor` or `__proto__` are unknown targets like any other word.
 */
export class TargetNames {
  private readonly known: ReadonlySet<string>;

  constructor(private readonly names: readonly string[]) {
    this.known = new Set(names);
  }

  has(word: string): boolean {
    return this.known.has(word);
  }

  /**
   * Positional arguments with an optional target name as the last word: `/deploy <ref> [target]`,
   * `/scale <svc> <n> [target]`, `/rollback [x] [target]`. With optional arguments, a last word that
   * names a target is read as the target.
   */
  split(words: readonly string[], shape: { required: number; optional: number; usage: string }): Parsed<{ target: string; rest: string[] }> {
    const max = shape.required + shape.optional;
    if (words.length < shape.required) return { ok: false, reason: `Usage: ${shape.usage}` };
    if (words.length > max + 1) return { ok: false, reason: `Too many arguments. Usage: ${shape.usage}` };
    const last = words[words.length - 1];
    if (last !== undefined && (words.length === max + 1 || (words.length > shape.required && this.has(last)))) return this.named(last, words.slice(0, -1));
    return this.fallback([...words]);
  }

  /**
   * Free text after an optional leading target name: `/lock [target] [reason…]`, `/pause_payouts
   * [target] [reason…]`. A first word that names a member of Object.prototype (`__proto__`,
   * `constructor`…) is a probe for a target, not a reason: it is answered as an unknown target
   * rather than freezing the default one.
   */
  leading(words: readonly string[]): Parsed<{ target: string; rest: string[] }> {
    const first = words[0];
    if (first !== undefined && (this.has(first) || isPrototypeName(first))) return this.named(first, words.slice(1));
    return this.fallback([...words]);
  }

  private named(name: string, rest: string[]): Parsed<{ target: string; rest: string[] }> {
    if (this.has(name)) return { ok: true, value: { target: name, rest } };
    return { ok: false, reason: `Unknown target ${showInput(name)}. Known targets: ${this.names.join(", ") || "none"}.` };
  }

  private fallback(rest: string[]): Parsed<{ target: string; rest: string[] }> {
    const first = this.names[0];
    if (first === undefined) return { ok: false, reason: "No targets are configured in opsgram.yml." };
    return { ok: true, value: { target: first, rest } };
  }
}

/** A name every plain object answers to, whatever it holds. */
function isPrototypeName(word: string): boolean {
  return word === "prototype" || word in Object.prototype;
}

type Parse<T> = (targets: TargetNames, words: readonly string[]) => Parsed<T>;

function shaped<T>(shape: { required: number; optional: number; usage: string }, build: (base: TargetRequest, rest: string[]) => T): Parse<T> {
  return (targets, words) => {
    const split = targets.split(words, shape);
    if (!split.ok) return split;
    return { ok: true, value: build({ target: split.value.target, input: words }, split.value.rest) };
  };
}

function withReason(targets: TargetNames, words: readonly string[]): Parsed<ReasonRequest> {
  const split = targets.leading(words);
  if (!split.ok) return split;
  return { ok: true, value: { target: split.value.target, input: words, reason: cleanReason(split.value.rest) } };
}

/** `#12` → that deployment; anything else is read as a commit id (operations validates it). */
export function rollbackTarget(word: string | undefined): RollbackTarget {
  if (word === undefined) return { kind: "last" };
  const id = DEPLOYMENT_ID.exec(word);
  return id ? { kind: "deployment", id: Number(id[1]) } : { kind: "sha", sha: word };
}

const SCALE_USAGE = "/scale <service> <replicas> [target], or /scale api=2 worker=3 [target]";

/** `/scale worker 3 [target]`, or `/scale api=2 worker=3 [target]` (several services in one operation). */
function parseScale(targets: TargetNames, words: readonly string[]): Parsed<ScaleRequest> {
  if (!words.some((w) => w.includes("="))) {
    return shaped<ScaleRequest>({ required: 2, optional: 0, usage: SCALE_USAGE }, (base, [service, replicas]) => ({ ...base, changes: [{ service: service ?? "", replicas: replicas ?? "" }] }))(targets, words);
  }
  const last = words[words.length - 1]!;
  const pairs = last.includes("=") ? [...words] : words.slice(0, -1);
  const changes: ScaleRequest["changes"] = [];
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) return { ok: false, reason: `Expected service=replicas, got ${showInput(pair)}. Usage: ${SCALE_USAGE}` };
    changes.push({ service: pair.slice(0, at), replicas: pair.slice(at + 1) });
  }
  if (changes.length > 10) return { ok: false, reason: `Too many services (at most 10). Usage: ${SCALE_USAGE}` };
  const split = last.includes("=") ? targets.leading([]) : targets.split([last], { required: 0, optional: 0, usage: SCALE_USAGE });
  if (!split.ok) return split;
  return { ok: true, value: { target: split.value.target, input: words, changes } };
}

const LOGS_USAGE = "/logs <service[,service…]> [lines] [since=15m] [grep=<regex>] [target]";

/** `/logs api,worker 100 since=15m grep=error prod`: options by name, then positional words. */
function parseLogs(targets: TargetNames, words: readonly string[]): Parsed<LogsRequest> {
  let since: string | undefined;
  let grep: string | undefined;
  const positional: string[] = [];
  for (const word of words) {
    if (word.startsWith("since=")) since = word.slice("since=".length);
    else if (word.startsWith("grep=")) grep = word.slice("grep=".length);
    else positional.push(word);
  }
  const split = targets.split(positional, { required: 1, optional: 1, usage: LOGS_USAGE });
  if (!split.ok) return split;
  const [services, lines] = split.value.rest;
  return {
    ok: true,
    value: { target: split.value.target, input: words, services: (services ?? "").split(",").filter((s) => s.length > 0), lines, since, grep },
  };
}

/** `/run` (list), `/run <name> [args…]`, or with a leading target: `/run staging <name> [args…]`. */
function parseRun(targets: TargetNames, words: readonly string[]): Parsed<RunRequest> {
  const split = targets.leading(words);
  if (!split.ok) return split;
  const [name, ...args] = split.value.rest;
  return { ok: true, value: { target: split.value.target, input: words, name: name ?? null, args } };
}

/** One parser per command. */
export const parse = {
  deploy: shaped<DeployRequest>({ required: 1, optional: 0, usage: "/deploy <branch|tag> [target]" }, (base, [ref]) => ({ ...base, ref: ref ?? "" })),
  rollback: shaped<RollbackRequest>({ required: 0, optional: 1, usage: "/rollback [sha|#deployment] [target]" }, (base, [to]) => ({ ...base, to: rollbackTarget(to) })),
  scale: parseScale,
  restart: shaped<RestartRequest>({ required: 1, optional: 0, usage: "/restart <service> [target]" }, (base, [service]) => ({ ...base, service: service ?? "" })),
  run: parseRun,
  backup: shaped<TargetRequest>({ required: 0, optional: 0, usage: "/backup [target]" }, (base) => base),
  backups: shaped<TargetRequest>({ required: 0, optional: 0, usage: "/backups [target]" }, (base) => base),
  unlock: shaped<TargetRequest>({ required: 0, optional: 0, usage: "/unlock [target]" }, (base) => base),
  status: shaped<TargetRequest>({ required: 0, optional: 0, usage: "/status [target]" }, (base) => base),
  logs: parseLogs,
  lock: withReason,
  pausePayouts: withReason,
  resumePayouts: (targets: TargetNames, words: readonly string[]): Parsed<TargetRequest> => {
    const split = targets.leading(words);
    if (!split.ok) return split;
    return { ok: true, value: { target: split.value.target, input: words } };
  },
} satisfies Record<string, Parse<unknown>>;
