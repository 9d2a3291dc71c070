import { composeProjectName } from "../commands/compose.js";
import { DEFAULT_LOG_LINES, MAX_LOG_LINES, validateLogLines, validateServiceName } from "../commands/validate.js";
import type { ContainerSummary } from "../shared/ports.js";
import type { TargetHandle } from "./context.js";

/**
 * `/logs api,worker [lines] [since=15m] [grep=<regex>] [target]`: several services at once, lines
 * interleaved by Docker's own timestamps. `grep` is applied here, in opsgram, to the lines Docker
 * returned — it never reaches a shell — and is a bounded regular expression.
 */

export const MAX_LOG_SERVICES = 8;
export const MAX_GREP_LENGTH = 100;
/** Longest `since=`: a week. */
const MAX_SINCE_SECONDS = 7 * 86_400;
/** With grep, this many lines per replica are read and then filtered. */
const GREP_SCAN_LINES = 5_000;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };

type Check<T> = { ok: true; value: T } | { ok: false; reason: string };

/** `15m`, `2h`, `90s`, `1d` → seconds. */
export function parseSince(text: string): Check<number> {
  const m = /^([0-9]{1,6})([smhd])$/.exec(text);
  if (!m) return { ok: false, reason: "since= takes a duration like 30s, 15m, 2h or 1d" };
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  if (seconds < 1 || seconds > MAX_SINCE_SECONDS) return { ok: false, reason: "since= must be between 1s and 7d" };
  return { ok: true, value: seconds };
}

/** A grep pattern from chat: bounded, valid, and matched case-insensitively. */
export function parseGrep(text: string): Check<RegExp> {
  if (text.length === 0 || text.length > MAX_GREP_LENGTH) return { ok: false, reason: `grep= takes a regular expression of 1 to ${MAX_GREP_LENGTH} characters` };
  // Nested quantifiers are how a short pattern takes forever on a long line: refuse them.
  if (/\([^()]*[+*}][^()]*\)[+*{?]/.test(text)) return { ok: false, reason: "grep= must not nest repetitions like (a+)+" };
  try {
    return { ok: true, value: new RegExp(text, "i") };
  } catch (err) {
    return { ok: false, reason: `grep= is not a valid regular expression: ${err instanceof Error ? err.message.replace(/^Invalid regular expression: /, "") : String(err)}` };
  }
}

export interface LogsQuery {
  services: string[];
  lines: number;
  sinceSeconds: number | null;
  grep: RegExp | null;
}

/** Checks the words of a /logs request against the target: services known to config or Docker. */
export function checkLogsQuery(known: readonly string[], input: { services: readonly string[]; lines: string | undefined; since?: string | undefined; grep?: string | undefined }): Check<LogsQuery> {
  if (input.services.length === 0) return { ok: false, reason: "Name a service: /logs <service[,service…]> [lines] [since=15m] [grep=<regex>] [target]" };
  if (input.services.length > MAX_LOG_SERVICES) return { ok: false, reason: `At most ${MAX_LOG_SERVICES} services at once.` };
  const services: string[] = [];
  for (const s of input.services) {
    const service = validateServiceName(s, known);
    if (!service.ok) return service;
    if (!services.includes(service.value)) services.push(service.value);
  }
  const lines = input.lines === undefined ? { ok: true as const, value: DEFAULT_LOG_LINES } : validateLogLines(input.lines, MAX_LOG_LINES);
  if (!lines.ok) return lines;
  const since = input.since === undefined ? null : parseSince(input.since);
  if (since && !since.ok) return since;
  const grep = input.grep === undefined ? null : parseGrep(input.grep);
  if (grep && !grep.ok) return grep;
  return { ok: true, value: { services, lines: lines.value, sinceSeconds: since ? since.value : null, grep: grep ? grep.value : null } };
}

/** One log line, with the replica it came from and Docker's timestamp (ms; 0 when absent). */
export interface LogLine {
  replica: string;
  at: number;
  text: string;
}

const TIMESTAMPED = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) ?(.*)$/;

/** Splits Docker's `timestamps: true` output into lines. */
export function splitTimestamped(replica: string, raw: string): LogLine[] {
  return raw
    .split("\n")
    .filter((l, i, all) => l.length > 0 || i < all.length - 1)
    .map((l) => {
      const m = TIMESTAMPED.exec(l);
      return m ? { replica, at: Date.parse(m[1]!), text: m[2]! } : { replica, at: 0, text: l };
    });
}

/** Interleaves by time (stable: a replica's own order is kept), filters, keeps the last `lines`. */
export function mergeLogLines(perReplica: readonly LogLine[][], query: Pick<LogsQuery, "grep" | "lines">): LogLine[] {
  const all = perReplica.flatMap((list, r) => list.map((line, i) => ({ line, r, i })));
  all.sort((a, b) => a.line.at - b.line.at || a.r - b.r || a.i - b.i);
  const kept = query.grep ? all.filter(({ line }) => query.grep!.test(line.text)) : all;
  return kept.slice(-query.lines).map(({ line }) => line);
}

/** The replicas of the asked services, in service then number order. */
export function replicasOf(containers: readonly ContainerSummary[], services: readonly string[]): ContainerSummary[] {
  return containers.filter((c) => services.includes(c.service)).sort((a, b) => services.indexOf(a.service) - services.indexOf(b.service) || a.number - b.number);
}

/** How many lines to ask Docker for, per replica. */
export function tailFor(query: LogsQuery): number {
  return query.grep ? GREP_SCAN_LINES : query.lines;
}

export function projectOf(target: TargetHandle): string {
  return composeProjectName(target.config);
}
