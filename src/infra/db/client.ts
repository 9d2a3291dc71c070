import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema/index.js";

export type Schema = typeof schema;

/**
 * The drizzle database every repository takes, whichever driver is behind it. Only what both
 * drivers share is typed here: prefer the query builder over `db.execute`, whose result shape
 * differs (postgres.js gives an array of rows, PGlite `{ rows }`).
 */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

/** An open database and how to close it. `kind` says which engine is behind `db`. */
export interface DatabaseHandle {
  db: Db;
  kind: "postgres" | "pglite";
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** `postgres://…` of a real server; when absent, the embedded PGlite under `dataDir` is used. */
  url?: string;
  /** Where the embedded database lives (`${dataDir}/pglite`), created when missing. */
  dataDir: string;
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
/** The pool's statement timeout (migrations use their own connection, without one). */
const STATEMENT_TIMEOUT_MS = 60_000;

/**
 * Opens the bot's database: Postgres over postgres.js when a URL is given, else PGlite (embedded
 * Postgres in WASM) persisted under `${dataDir}/pglite`. PGlite is single-process: two bots must
 * never open the same data dir at once. Call `migrate(handle)` before use.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) {
    const where = describeUrl(options.url);
    const client = postgresClient(options.url, POOL_MAX, STATEMENT_TIMEOUT_MS);
    // postgres.js connects lazily; find a wrong URL or a down server now, not at the first query.
    try {
      await client`select 1`;
    } catch (err) {
      await client.end({ timeout: 1 }).catch(() => {});
      throw new DatabaseOpenError(where, messageOf(err), { cause: err });
    }
    const db = drizzlePostgres({ client, schema });
    postgresUrls.set(db, options.url);
    return {
      db,
      kind: "postgres",
      close: () => client.end({ timeout: 5 }),
    };
  }
  const dir = resolve(options.dataDir, "pglite");
  let client: PGlite;
  try {
    mkdirSync(dir, { recursive: true });
    client = await PGlite.create(dir);
  } catch (err) {
    throw new DatabaseOpenError(`${dir} (embedded PGlite)`, messageOf(err), { cause: err });
  }
  const db = drizzlePglite({ client, schema });
  let closed = false;
  return {
    db,
    kind: "pglite",
    close: async () => {
      if (closed) return;
      closed = true;
      await client.close();
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
function postgresClient(url: string, max: number, statementTimeoutMs?: number): postgres.Sql {
  return postgres(url, {
    max,
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

const postgresUrls = new WeakMap<Db, string>();

/**
 * A separate single-connection client to the same server as `handle`, for work that needs one
 * session from start to end (session advisory locks die with their connection and must not leak
 * into a pooled one). The caller ends it.
 */
export function openDedicatedConnection(handle: DatabaseHandle): { db: PostgresJsDatabase<Schema>; sql: postgres.Sql } {
  const url = postgresUrls.get(handle.db);
  if (handle.kind !== "postgres" || !url) {
    throw new Error("a dedicated connection needs a Postgres handle opened by openDatabase()");
  }
  const sql = postgresClient(url, 1);
  return { db: drizzlePostgres({ client: sql, schema }), sql };
}
