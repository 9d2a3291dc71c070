import postgres from "postgres";
import type { Logger } from "pino";
import { systemClock, type Clock } from "../../shared/ports.js";
import { instanceName, parseInstanceName, type InstanceId } from "../instance.js";

/**
 * Key of the session advisory lock that makes one opsgram process the leader ("opsgram" + 0x03;
 * 0x01 is the audit chain, 0x02 migrations). In pg_locks a bigint key shows as classid = high 32
 * bits, objid = low 32 bits, objsubid = 1.
 */
export const LEADER_LOCK_KEY = "8030045023739407619";
export const LEADER_LOCK_CLASSID = 1869640551;
export const LEADER_LOCK_OBJID = 1918987523;

/**
 * SQL condition "this pg_locks row (alias `l`) is the leader lock". Shared with the alert outbox,
 * which only lets the live leader's process claim rows.
 */
export const LEADER_LOCK_ROW = `l.locktype = 'advisory' AND l.granted AND l.classid = ${LEADER_LOCK_CLASSID} AND l.objid = ${LEADER_LOCK_OBJID} AND l.objsubid = 1`;

/** Longest single wait of a standby inside Postgres for the leader lock (ms). */
const STANDBY_WAIT_MS = 30_000;
/** SQLSTATE of a lock_timeout. */
const LOCK_NOT_AVAILABLE = "55P03";

/** Being the one process that polls, recovers, monitors and runs operations. */
export interface Leadership {
  /** Resolves once this process leads. Rejects with the signal's reason when aborted first. */
  acquire(signal?: AbortSignal): Promise<void>;
  /** `listener` runs once, as soon as leadership is known to be lost. */
  onLost(listener: (reason: Error) => void): void;
  /** Gives leadership up (ends the lock's connection). */
  release(): Promise<void>;
}

export interface PostgresLeadershipOptions {
  url: string;
  log: Logger;
  clock?: Clock;
  /** How long a standby waits before asking again after the database could not be reached. Default 2 s. */
  retryMs?: number;
  /** How often the leader checks it still holds the lock. Default 2 s. */
  heartbeatMs?: number;
  /** A check that takes longer than this counts as lost (a hung link). Default 5 s. */
  heartbeatTimeoutMs?: number;
  /** Default: this process (`opsgram:<pid>@<host>`). */
  name?: string;
}

/** Thrown into `onLost` listeners; `message` says why. */
export class LeadershipLostError extends Error {
  override readonly name = "LeadershipLostError";
}

/**
 * Leadership as a Postgres session advisory lock on a dedicated connection of its own (max 1,
 * never recycled): the lock lives exactly as long as that session, so a leader that dies — crash,
 * SIGKILL, lost network — frees it for a standby, and no pooled connection ever carries it by
 * accident. The connection's application_name is `opsgram:<pid>@<host>`, so a standby can say who
 * leads. postgres.js would silently reconnect a dropped connection (without the lock), so the
 * heartbeat checks that the lock is still held by the same backend; any doubt counts as lost.
 */
export class PostgresLeadership implements Leadership {
  private readonly sql: postgres.Sql;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly retryMs: number;
  private readonly heartbeatMs: number;
  private readonly heartbeatTimeoutMs: number;
  private readonly listeners: ((reason: Error) => void)[] = [];
  private readonly stopHeartbeat = new AbortController();
  private backendPid: number | null = null;
  private lost = false;
  private released = false;

  constructor(options: PostgresLeadershipOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log;
    this.retryMs = options.retryMs ?? 2_000;
    this.heartbeatMs = options.heartbeatMs ?? 2_000;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 5_000;
    this.sql = postgres(options.url, {
      max: 1,
      connection: {
        application_name: options.name ?? instanceName(),
        // The server drops a leader it can no longer reach within ~11 s (5 s idle + 3 probes 2 s
        // apart) instead of the OS default of hours, so the lock frees for a standby in time. The
        // leader itself gives up sooner (heartbeat + its timeout, ~7 s): it stops before anyone else starts.
        tcp_keepalives_idle: 5,
        tcp_keepalives_interval: 2,
        tcp_keepalives_count: 3,
        // A standby's wait for the lock ends now and then, to check the link and who leads.
        lock_timeout: STANDBY_WAIT_MS,
      },
      onnotice: () => {},
      connect_timeout: 5,
      idle_timeout: 0,
      // The session is the lock: never recycle it.
      max_lifetime: null,
    });
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    let lastHolder: string | undefined;
    for (;;) {
      signal?.throwIfAborted();
      try {
        const [row] = await this.sql<{ ok: boolean; pid: number }[]>`
          SELECT pg_try_advisory_lock(${LEADER_LOCK_KEY}::bigint) AS ok, pg_backend_pid() AS pid`;
        if (!row?.ok) {
          const holder = await this.holder();
          const text = `standby: another opsgram instance leads (pid ${holder?.pid ?? "?"}, host ${holder?.host ?? "?"})`;
          // Said once per leader, not every retry.
          if (text !== lastHolder) this.log.info({ leader: holder }, text);
          lastHolder = text;
        }
        const pid = row?.ok ? row.pid : await this.waitForLock(signal);
        if (pid !== null) {
          this.backendPid = pid;
          if (signal?.aborted) {
            await this.release();
            signal.throwIfAborted();
          }
          this.log.info("leader: this instance leads");
          void this.heartbeat();
          return;
        }
        continue; // the bounded wait ran out: ask again (and say who leads now)
      } catch (err) {
        signal?.throwIfAborted();
        this.log.warn({ err }, "standby: cannot reach the database to ask for leadership; retrying");
        lastHolder = undefined;
      }
      await this.clock.sleep(this.retryMs, signal);
    }
  }

  /**
   * Waits inside Postgres for the lock: it is granted the moment the leader's session ends, so a
   * takeover does not wait for a polling interval. Bounded by the session's lock_timeout (then
   * null); cancelled when `signal` aborts.
   */
  private async waitForLock(signal?: AbortSignal): Promise<number | null> {
    const wait = this.sql<{ pid: number }[]>`SELECT pg_advisory_lock(${LEADER_LOCK_KEY}::bigint), pg_backend_pid() AS pid`;
    const cancel = () => void wait.cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      const [row] = await wait;
      return row?.pid ?? null;
    } catch (err) {
      if ((err as { code?: string }).code === LOCK_NOT_AVAILABLE) return null;
      throw err;
    } finally {
      signal?.removeEventListener("abort", cancel);
    }
  }

  /** Who holds the leader lock now, from its connection's application_name. */
  private async holder(): Promise<InstanceId | null> {
    const rows = await this.sql.unsafe<{ name: string }[]>(
      `SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE ${LEADER_LOCK_ROW} LIMIT 1`,
    );
    return parseInstanceName(rows[0]?.name);
  }

  onLost(listener: (reason: Error) => void): void {
    this.listeners.push(listener);
  }

  private async heartbeat(): Promise<void> {
    const signal = this.stopHeartbeat.signal;
    while (!signal.aborted) {
      try {
        await this.clock.sleep(this.heartbeatMs, signal);
      } catch {
        return; // released
      }
      const reason = await this.check();
      if (reason && !signal.aborted) return this.declareLost(reason);
    }
  }

  /** Null while the lock is held by our backend; else why not. */
  private async check(): Promise<string | null> {
    const timeout = new AbortController();
    try {
      const query = this.sql.unsafe<{ same: boolean; held: boolean }[]>(
        `SELECT pg_backend_pid() = $1::int AS same,
                EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = pg_backend_pid() AND ${LEADER_LOCK_ROW}) AS held`,
        [this.backendPid ?? -1],
      );
      const timer = this.clock.sleep(this.heartbeatTimeoutMs, timeout.signal).then(() => "timeout" as const);
      const result = await Promise.race([query, timer]);
      if (result === "timeout") return `the leader connection did not answer within ${this.heartbeatTimeoutMs} ms`;
      const [row] = result;
      if (!row?.same) return "the leader connection was lost (the database ended the session)";
      if (!row.held) return "the leader lock is no longer held";
      return null;
    } catch (err) {
      return `the leader connection failed: ${(err as Error).message}`;
    } finally {
      timeout.abort();
    }
  }

  private declareLost(reason: string): void {
    if (this.lost || this.released) return;
    this.lost = true;
    const err = new LeadershipLostError(`leadership lost: ${reason}`);
    this.log.error({ err }, err.message);
    for (const listener of this.listeners) listener(err);
    // The session may still be half-alive: end it so the lock is surely free for a standby.
    this.sql.end({ timeout: 1 }).catch(() => {});
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopHeartbeat.abort();
    // Ending the session releases the lock, whatever state the connection is in.
    await this.sql.end({ timeout: 2 }).catch(() => {});
  }
}

/**
 * Leadership on the embedded database: the data-directory lock (data-dir-lock.ts) already keeps
 * every other process out, so holding the directory is leading, and it cannot be lost.
 */
export const embeddedLeadership: Leadership = {
  acquire: async () => {},
  onLost: () => {},
  release: async () => {},
};
