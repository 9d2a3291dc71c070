import { resolve } from "node:path";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgres, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { Logger } from "../logger.js";
import * as schema from "./schema/index.js";

export type Schema = typeof schema;

/**
 * The drizzle database every repository takes. Both engines (an external server and the embedded
 * one) are real Postgres behind postgres.js; the type stays driver-neutral so repositories keep
 * to the query builder.
 */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

/**
 * An open database and how to close it. `kind` says which server is behind `db`: the one of
 * DATABASE_URL, or the embedded one this process started (and stops on close).
 */
export interface DatabaseHandle {
  db: Db;
  kind: "postgres" | "embedded";
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** `postgres://…` of a real server; when absent, the embedded server under `dataDir` is used. */
  url?: string;
  /** Where the embedded database lives (`${dataDir}/postgres`), created when missing. */
  dataDir: string;
  /** Receives the embedded server's start-up lines (first start, user created, server log). */
  log?: Logger;
}

/** The database could not be opened or reached; `where` names it without any password. */
export class DatabaseOpenError extends Error {
  override readonly name = "DatabaseOpenError";
  constructor(
    readonly where: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot open the database at ${where}: ${reason}`, options);
  }
}

/** Connections the bot opens at most; it is one process with little concurrent DB work. */
const POOL_MAX = 10;
/**
 * The embedded server is on the same small box: each connection is a server process of its own
 * (~5–10 MiB), so fewer of them. Group commit in the audit log keeps bursts to few connections.
 */
const EMBEDDED_POOL_MAX = 4;
/** The pool's statement timeout (migrations use their own connection, without one). */
const STATEMENT_TIMEOUT_MS = 60_000;


/** Where a postgres.js client connects: a URL, plus the socket for the embedded server. */
interface Endpoint {
  url: string;
  socketDir?: string;
}

/**
 * Opens the bot's database over postgres.js: the server of `url` when given, else the embedded
 * Postgres under `${dataDir}/postgres`, which this process starts (the engine is loaded only
 * then) and stops on close. A second process on the same data dir fails with
 * EmbeddedDatabaseLockedError. Call `migrate(handle)` before use.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) return connect({ url: options.url }, "postgres", describeUrl(options.url), POOL_MAX);
  const pgdata = resolve(options.dataDir, "postgres");
  const where = `${pgdata} (embedded Postgres)`;
  const { startEmbeddedPostgres, EmbeddedDatabaseLockedError } = await import("./embedded-postgres.js");
  let server: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  try {
    server = await startEmbeddedPostgres({ dataDir: options.dataDir, ...(options.log ? { log: options.log } : {}) });
  } catch (err) {
    if (err instanceof EmbeddedDatabaseLockedError) throw err;
    throw new DatabaseOpenError(where, messageOf(err), { cause: err });
  }
  const endpoint = { url: `postgres://${server.user}@localhost:${server.port}/${server.database}`, socketDir: server.socketDir };
  try {
    const handle = await connect(endpoint, "embedded", where, EMBEDDED_POOL_MAX);
    return {
      ...handle,
      close: async () => {
        await handle.close();
        await server.stop();
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

async function connect(endpoint: Endpoint, kind: DatabaseHandle["kind"], where: string, poolMax: number): Promise<DatabaseHandle> {
  const client = postgresClient(endpoint, poolMax, STATEMENT_TIMEOUT_MS);
  // postgres.js connects lazily; find a wrong URL or a down server now, not at the first query.
  try {
    await client`select 1`;
  } catch (err) {
    await client.end({ timeout: 1 }).catch(() => {});
    throw new DatabaseOpenError(where, messageOf(err), { cause: err });
  }
  const db = drizzlePostgres({ client, schema });
  endpoints.set(db, endpoint);
  let closed = false;
  return {
    db,
    kind,
    close: async () => {
      if (closed) return;
      closed = true;
      await client.end({ timeout: 5 });
    },
  };
}

/** `host:port/database` of a URL, never its password. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `postgres://${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname}`;
  } catch {
    return "DATABASE_URL (unparsable)";
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The postgres.js settings every connection of ours uses. */
function postgresClient(endpoint: Endpoint, max: number, statementTimeoutMs?: number): postgres.Sql {
  return postgres(endpoint.url, {
    max,
    ...(endpoint.socketDir ? { host: endpoint.socketDir } : {}),
    // A statement hung on a sick server must not hang an operation or the audit log forever.
    ...(statementTimeoutMs ? { connection: { statement_timeout: statementTimeoutMs } } : {}),
    // Notices (e.g. "relation already exists, skipping") are noise in the bot's log.
    onnotice: () => {},
    // A dead connection is noticed and replaced rather than hanging a query forever.
    connect_timeout: 10,
    idle_timeout: 60,
    // postgres.js recycles connections after 30–60 min by default; keep that.
  });
}

const endpoints = new WeakMap<Db, Endpoint>();

/**
 * A separate single-connection client to the same server as `handle`, for work that needs one
 * session from start to end (session advisory locks die with their connection and must not leak
 * into a pooled one). The caller ends it.
 */
export function openDedicatedConnection(handle: DatabaseHandle): { db: PostgresJsDatabase<Schema>; sql: postgres.Sql } {
  const endpoint = endpoints.get(handle.db);
  if (!endpoint) throw new Error("a dedicated connection needs a handle opened by openDatabase()");
  const sql = postgresClient(endpoint, 1);
  return { db: drizzlePostgres({ client: sql, schema }), sql };
}
