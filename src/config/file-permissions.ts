import { chmodSync, existsSync, mkdirSync, statSync } from "node:fs";
import type { Config } from "./load.js";

/** Permission bits for group and others: any of them set means someone else can read or change the file. */
const GROUP_OTHER = 0o077;

/**
 * Files that hold secrets and must be private to the bot's user, as ssh insists for a private
 * key: every target's ssh private key, `.env` (the token, database passwords, AUDIT_HMAC_KEY) and
 * opsgram.yml (commands the bot runs as root on production). Missing files are skipped here: the
 * code that needs them reports that itself.
 */
export function secretFiles(config: Config, envFile: string | null): string[] {
  const files: string[] = [];
  if (envFile) files.push(envFile);
  if (config.opsFileFound) files.push(config.env.configPath);
  for (const target of Object.values(config.ops.targets)) if (target.ssh) files.push(target.ssh.privateKeyPath);
  return [...new Set(files)];
}

/**
 * One problem per file that group or others may access: `<file> is readable by group or others
 * (mode 0644): run chmod 600 <file>`. Empty when all is well.
 */
export function checkFilePermissions(files: readonly string[]): string[] {
  const problems: string[] = [];
  for (const file of files) {
    if (!existsSync(file)) continue;
    const mode = statSync(file).mode & 0o777;
    if ((mode & GROUP_OTHER) !== 0) {
      problems.push(`${file} is accessible by group or others (mode 0${mode.toString(8)}): run chmod 600 ${shellWord(file)}`);
    }
  }
  return problems;
}

/** The path as one word a user can paste into a shell. */
function shellWord(path: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

/**
 * Creates `dir` (and parents) for data only the bot may read — the embedded database lives there —
 * and tightens it to 0700 if it already existed looser.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if ((statSync(dir).mode & GROUP_OTHER) !== 0) chmodSync(dir, 0o700);
}
