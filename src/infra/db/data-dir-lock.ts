import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";

/** The lock file's name inside DATA_DIR. */
export const DATA_DIR_LOCK_FILE = "opsgram.lock";

/** What the lock file holds: who has the directory. */
export interface DataDirHolder {
  pid: number;
  host: string;
  since: string;
}

/** Another live opsgram process has the data directory; the message says which one. */
export class DataDirLockedError extends Error {
  override readonly name = "DataDirLockedError";
  constructor(
    readonly dataDir: string,
    readonly holder: DataDirHolder,
    readonly lockFile: string,
    sameHost: boolean,
  ) {
    super(
      `another opsgram uses DATA_DIR ${dataDir} (pid ${holder.pid}, host ${holder.host}, since ${holder.since}): stop it first` +
        (sameHost ? "" : `, or delete ${lockFile} if that host no longer runs it`),
    );
  }
}

export interface DataDirLock {
  readonly file: string;
  /** Removes the lock file if it is still ours. */
  release(): void;
}

export interface DataDirLockOptions {
  pid?: number;
  host?: string;
  /** Whether a process id is alive on this host. Default: `process.kill(pid, 0)`. */
  isAlive?: (pid: number) => boolean;
}

/**
 * Takes DATA_DIR for this process: an exclusively created lock file with the holder's pid and
 * host. The embedded database is single-process, so a second opsgram on the same directory would
 * corrupt it; it gets DataDirLockedError instead. A lock left by a dead process (same host, pid
 * gone — or our own pid, as after a container restart where the bot is always pid 1) is replaced.
 * A lock from another host cannot be checked and is respected.
 */
export function acquireDataDirLock(dataDir: string, options: DataDirLockOptions = {}): DataDirLock {
  const pid = options.pid ?? process.pid;
  const host = options.host ?? hostname();
  const isAlive = options.isAlive ?? pidAlive;
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, DATA_DIR_LOCK_FILE);
  const mine: DataDirHolder = { pid, host, since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      try {
        writeSync(fd, `${JSON.stringify(mine)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return {
        file,
        release: () => {
          if (sameHolder(readHolder(file), mine)) {
            try {
              unlinkSync(file);
            } catch {
              // already gone
            }
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = readHolder(file);
    if (holder && holder.host !== host) throw new DataDirLockedError(dir, holder, file, false);
    if (holder && holder.pid !== pid && isAlive(holder.pid)) throw new DataDirLockedError(dir, holder, file, true);
    // Stale (dead holder, our own pid from a previous life, or unreadable): replace it.
    try {
      unlinkSync(file);
    } catch {
      // another starter removed it first; the next exclusive create decides
    }
  }
  const holder = readHolder(file) ?? { pid: 0, host: "?", since: "?" };
  throw new DataDirLockedError(dir, holder, file, holder.host === host);
}

function readHolder(file: string): DataDirHolder | null {
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<DataDirHolder>;
    if (typeof parsed.pid !== "number" || typeof parsed.host !== "string") return null;
    return { pid: parsed.pid, host: parsed.host, since: String(parsed.since ?? "?") };
  } catch {
    return null;
  }
}

function sameHolder(a: DataDirHolder | null, b: DataDirHolder): boolean {
  return a !== null && a.pid === b.pid && a.host === b.host && a.since === b.since;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
