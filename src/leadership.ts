import type { Logger } from "pino";
import type { DatabaseHandle } from "./infra/db/client.js";
import { acquireDataDirLock, DataDirLockedError, type DataDirLock } from "./infra/db/data-dir-lock.js";
import { embeddedLeadership, PostgresLeadership, type Leadership } from "./infra/db/leader.js";
import { SetupError } from "./startup-error.js";

/**
 * Start-up steps that make this process the one opsgram that acts (docs/RELIABILITY.md): the
 * embedded database's directory lock, and leadership on a shared Postgres.
 */

/** Takes DATA_DIR for the embedded database; a second process gets a SetupError naming the holder. */
export function lockDataDir(dataDir: string): DataDirLock {
  try {
    return acquireDataDirLock(dataDir);
  } catch (err) {
    if (err instanceof DataDirLockedError) throw new SetupError([err.message]);
    throw new SetupError([`DATA_DIR: cannot lock ${dataDir} (${(err as Error).message})`]);
  }
}

/** The handle, releasing the data-directory lock after the database is closed. */
export function withDirLock(handle: DatabaseHandle, lock: { release(): void }): DatabaseHandle {
  return {
    ...handle,
    close: async () => {
      try {
        await handle.close();
      } finally {
        lock.release();
      }
    },
  };
}

export interface BecomeLeaderOptions {
  /** DATABASE_URL; without it the embedded database's directory lock already makes us the leader. */
  url: string | undefined;
  /** Closed when the wait is aborted. */
  database: DatabaseHandle;
  log: Logger;
  /** Aborts the wait of a standby (SIGTERM). */
  signal?: AbortSignal;
  /** Called once if leadership is lost later. */
  onLost(err: Error): void;
}

/**
 * Waits until this process leads (see infra/db/leader.ts). Until then it is a standby: it has
 * opened and migrated the database and nothing else — no polling, no recovery, no monitors, no
 * outbox. Once it leads, losing the lock calls `onLost`.
 */
export async function becomeLeader(options: BecomeLeaderOptions): Promise<Leadership> {
  if (!options.url) return embeddedLeadership;
  const leadership = new PostgresLeadership({ url: options.url, log: options.log.child({ module: "leader" }) });
  try {
    await leadership.acquire(options.signal);
  } catch (err) {
    await leadership.release();
    await options.database.close();
    throw err;
  }
  leadership.onLost((err) => options.onLost(err));
  return leadership;
}
