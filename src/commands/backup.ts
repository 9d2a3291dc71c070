import { posix } from "node:path";
import { NAME_PATTERN } from "../config/file.js";
import { fillPlaceholders } from "../config/placeholders.js";
import { quoteArg } from "./quote.js";

/**
 * Command lines for backups on the target (no I/O). File names are built only from validated
 * parts — the configured absolute dir, a configured target name and a UTC timestamp — and every
 * path reaches the shell through quote.ts. The operator's own lines (backup.command, restore,
 * verify, drill, copy) are trusted like deploy steps and are embedded as written.
 *
 * Scripts run under bash, not the target's `sh`: dash (Debian's sh) has no `pipefail`, and without
 * it `pg_dump … | gzip` whose pg_dump fails still leaves a valid gzip file behind.
 */

export type BackupFormat = "custom" | "gzip" | "plain";

const EXTENSION: Record<BackupFormat, string> = { custom: ".dump", gzip: ".sql.gz", plain: ".sql" };

/** pg_dump's last line in plain format: a dump without it was cut short. */
export const DUMP_COMPLETE = "-- PostgreSQL database dump complete";

/** Markers the scripts print on stdout for the operations layer to read back. */
export const MARK = { verified: "opsgram-verified:", unverified: "opsgram-unverified:", size: "opsgram-size:" } as const;

function assertDir(dir: string): string {
  if (!dir.startsWith("/") || /[\0\n\r]/.test(dir)) throw new TypeError(`not an absolute directory: ${JSON.stringify(dir)}`);
  return posix.normalize(dir);
}

function assertPath(path: string): string {
  if (!path.startsWith("/") || /[\0\n\r]/.test(path) || path.split("/").includes("..")) {
    throw new TypeError(`not a plain absolute path: ${JSON.stringify(path)}`);
  }
  return path;
}

/** `20261122T030405Z` — sortable, no characters a shell cares about. */
export function utcStamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
}

/** `<dir>/<target>-<UTC yyyymmddTHHMMSSZ>.dump` (`.sql.gz` for gzip, `.sql` for plain). */
export function backupPath(dir: string, target: string, at: Date, format: BackupFormat): string {
  if (!NAME_PATTERN.test(target)) throw new TypeError(`not a target name: ${JSON.stringify(target)}`);
  return posix.join(assertDir(dir), `${target}-${utcStamp(at)}${EXTENSION[format]}`);
}

/** The format of a file opsgram named, from its extension. */
export function formatOf(path: string): BackupFormat {
  if (path.endsWith(".sql.gz")) return "gzip";
  if (path.endsWith(".sql")) return "plain";
  return "custom";
}

/** Where the dump is written until it has been verified. */
export function partialPath(path: string): string {
  return `${assertPath(path)}.partial`;
}

export function removeFile(path: string): string[] {
  return ["rm", "-f", assertPath(path)];
}

/** Prunes several backups in one round trip. */
export function removeFiles(paths: readonly string[]): string[] {
  return ["rm", "-f", "--", ...paths.map(assertPath)];
}

/**
 * The dump line: the operator's trusted command with its stdout redirected into `partial`. The
 * braces (and the newline before `}`) make the redirect cover the whole line, even one that ends in
 * a comment or chains commands with `;`.
 */
export function dumpLine(command: string, partial: string): string {
  return `{ ${command}\n} > ${quoteArg(assertPath(partial))}`;
}

/** `( line ) < file`: the whole operator line reads the file, pipes included (`gunzip -c | psql`). */
export function stdinLine(line: string, file: string): string {
  return `( ${line}\n) < ${quoteArg(assertPath(file))}`;
}

/** Runs a bash script with pipefail from the target's `sh`; a target without bash is told so. */
function underBash(body: string): string {
  const script = `set -o pipefail\numask 077\n${body}`;
  return `command -v bash >/dev/null 2>&1 || { echo "opsgram: bash is needed on the target (for pipefail)" >&2; exit 127; }\nexec bash -c ${quoteArg(script)}`;
}

/** A shell function that removes `partial`, says why on stderr and exits non-zero. */
function failFn(partial: string): string {
  return `fail() { rm -f -- ${quoteArg(partial)}; echo "opsgram: $1" >&2; exit 1; }`;
}

/**
 * Verifies a dump by its content, printing {@link MARK} lines. Plain and gzip: pg_dump's closing
 * line must be there (a cut dump has none; gzip also fails a cut stream). Custom: `verify` when
 * configured, else `pg_restore` reading the whole archive (`--list` alone only reads the table of
 * contents at the front, which a truncated file still has). Without pg_restore only the header can
 * be checked, and that is reported as unverified, never as verified.
 */
export function verifyBody(file: string, format: BackupFormat, verify: string | undefined): string {
  const f = quoteArg(assertPath(file));
  const closing = `grep -F -- ${quoteArg(DUMP_COMPLETE)} >/dev/null`;
  if (format === "plain") return `tail -c 4096 -- ${f} | ${closing} || fail "no closing line: the dump was cut short"\necho "${MARK.verified} closing line"`;
  if (format === "gzip") return `gzip -dc -- ${f} | tail -c 4096 | ${closing} || fail "gzip stream broken or no closing line: the dump was cut short"\necho "${MARK.verified} gunzip + closing line"`;
  if (verify !== undefined) return `${stdinLine(verify, file)} >/dev/null || fail "backup.verify rejected the dump"\necho "${MARK.verified} backup.verify"`;
  return [
    `if command -v pg_restore >/dev/null 2>&1; then`,
    `  n=$(pg_restore --list -- ${f} 2>/dev/null | grep -c -v -e '^;' -e '^$')`,
    `  pg_restore --file=/dev/null -- ${f} || fail "pg_restore could not read the whole archive: the dump is damaged or cut short"`,
    `  echo "${MARK.verified} pg_restore read $n entries"`,
    `else`,
    `  [ "$(head -c 5 -- ${f})" = PGDMP ] || fail "not a pg_dump custom-format archive (no PGDMP header)"`,
    `  echo "${MARK.unverified} PGDMP header only (no pg_restore on the target; set backup.verify)"`,
    `fi`,
  ].join("\n");
}

export interface DumpScript {
  command: string;
  dir: string;
  path: string;
  format: BackupFormat;
  verify?: string | undefined;
}

/**
 * One command for a whole backup: mkdir, refuse to overwrite, dump into `<path>.partial` with
 * pipefail and umask 077, non-empty check, verification, move into place, size. Each of these was
 * a round trip of its own before. Any failure removes the partial file.
 */
export function dumpScript(s: DumpScript): string {
  const partial = partialPath(s.path);
  const p = quoteArg(assertPath(s.path));
  const q = quoteArg(partial);
  return underBash(
    [
      failFn(partial),
      `mkdir -p -- ${quoteArg(assertDir(s.dir))} || exit 1`,
      `if [ -e ${p} ]; then echo "opsgram: ${s.path.replace(/["$`\\]/g, "")} already exists; a backup never overwrites another" >&2; exit 1; fi`,
      `${dumpLine(s.command, partial)} || fail "backup.command failed (exit $?)"`,
      `[ -s ${q} ] || fail "the dump is empty"`,
      verifyBody(partial, s.format, s.verify),
      `mv -- ${q} ${p} || fail "could not move the dump into place"`,
      `echo "${MARK.size} $(stat -c %s -- ${p})"`,
    ].join("\n"),
  );
}

/** Re-verifies a stored backup (the restore's chosen file, before anything stops). */
export function verifyScript(file: string, format: BackupFormat, verify: string | undefined): string {
  return underBash([`fail() { echo "opsgram: $1" >&2; exit 1; }`, `[ -s ${quoteArg(assertPath(file))} ] || fail "the backup file is missing or empty"`, verifyBody(file, format, verify)].join("\n"));
}

/**
 * For a backup verified when it was taken: it is still there with the size recorded then. Reading
 * the whole archive again would cost as much as the restore itself.
 */
export function unchangedScript(file: string, sizeBytes: number): string {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) throw new TypeError("size must be a byte count");
  const f = quoteArg(assertPath(file));
  return `[ "$(stat -c %s -- ${f} 2>/dev/null)" = ${sizeBytes} ] || { echo "opsgram: the backup file is missing or changed since it was verified" >&2; exit 1; }`;
}

/** `( restore ) < file` (or drill), under pipefail; a missing file runs nothing. */
export function restoreScript(line: string, file: string): string {
  return underBash([`[ -s ${quoteArg(assertPath(file))} ] || { echo "opsgram: the backup file is missing or empty" >&2; exit 1; }`, stdinLine(line, file)].join("\n"));
}

/** The operator's copy line with `{path}` replaced by the quoted path (the only placeholder). */
export function copyLine(copy: string, path: string): string {
  return underBash(fillPlaceholders(copy, { path: quoteArg(assertPath(path)) }));
}

/** What a script reported: how it verified and the file's size. */
export interface ScriptReport {
  verified: boolean;
  verification: string | null;
  sizeBytes: number | null;
}

export function readReport(stdout: string): ScriptReport {
  let verified = false;
  let verification: string | null = null;
  let sizeBytes: number | null = null;
  for (const line of stdout.split("\n")) {
    if (line.startsWith(MARK.verified)) [verified, verification] = [true, line.slice(MARK.verified.length).trim()];
    else if (line.startsWith(MARK.unverified)) [verified, verification] = [false, line.slice(MARK.unverified.length).trim()];
    else if (line.startsWith(MARK.size)) {
      const n = Number.parseInt(line.slice(MARK.size.length).trim(), 10);
      sizeBytes = Number.isFinite(n) ? n : null;
    }
  }
  return { verified, verification, sizeBytes };
}
