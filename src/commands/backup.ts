import { posix } from "node:path";
import { NAME_PATTERN } from "../config/file.js";
import { quoteArg } from "./quote.js";

/**
 * Argument lists (Kamal style, no I/O) for backups on the target. File names are built only from
 * validated parts — the configured absolute dir, a configured target name and a UTC timestamp — and
 * every path reaches the shell through quote.ts.
 */

export type BackupFormat = "custom" | "gzip" | "plain";

const EXTENSION: Record<BackupFormat, string> = { custom: ".dump", gzip: ".sql.gz", plain: ".sql" };

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

/** Where the dump is written until it has been verified. */
export function partialPath(path: string): string {
  return `${assertPath(path)}.partial`;
}

export function mkdirP(dir: string): string[] {
  return ["mkdir", "-p", "--", assertDir(dir)];
}

/** Succeeds only when nothing exists at `path` (a backup never overwrites another). */
export function assertAbsent(path: string): string[] {
  return ["test", "!", "-e", assertPath(path)];
}

/** Succeeds only when `path` is a non-empty file. */
export function testNonEmpty(path: string): string[] {
  return ["test", "-s", assertPath(path)];
}

/** Reads a custom-format archive's table of contents: fails on a truncated or foreign file. */
export function pgRestoreList(path: string): string[] {
  return ["pg_restore", "--list", assertPath(path)];
}

/** The first bytes of a file (the custom format starts with `PGDMP`), when pg_restore is not installed. */
export function headBytes(path: string, bytes: number): string[] {
  return ["head", "-c", String(bytes), assertPath(path)];
}

/** Tests a gzip file's integrity. */
export function gzipTest(path: string): string[] {
  return ["gzip", "-t", assertPath(path)];
}

export function moveInto(from: string, to: string): string[] {
  return ["mv", assertPath(from), assertPath(to)];
}

export function fileSize(path: string): string[] {
  return ["stat", "-c", "%s", assertPath(path)];
}

export function removeFile(path: string): string[] {
  return ["rm", "-f", assertPath(path)];
}

/**
 * The dump line: the operator's trusted command with its stdout redirected into `partial`. The
 * braces (and the newline before `}`) make the redirect cover the whole line, even one that ends in
 * a comment or chains commands with `;`.
 */
export function dumpLine(command: string, partial: string): string {
  return `{ ${command}\n} > ${quoteArg(assertPath(partial))}`;
}
