import type { Db } from "./client.js";

/** What drizzle keeps as `$client` for each driver, as far as we use it. */
interface PostgresJsClient {
  unsafe(text: string, params: unknown[], options: { prepare: boolean }): Promise<Record<string, unknown>[]>;
}
interface PgliteClient {
  query(text: string, params: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/**
 * Runs one parameterised statement as a named prepared statement, so after its first use on a
 * connection it costs one round trip. drizzle sends its queries unprepared, and postgres.js then
 * asks the server to describe the parameters first: two round trips per statement, which a
 * database a few milliseconds away makes expensive for the hot paths (audit append, update marker).
 * On PGlite (in-process) it is a plain query.
 */
export async function preparedRows(db: Db, text: string, params: unknown[]): Promise<Record<string, unknown>[]> {
  const client = (db as unknown as { $client?: unknown }).$client;
  if (client && typeof (client as PostgresJsClient).unsafe === "function") {
    return [...(await (client as PostgresJsClient).unsafe(text, params, { prepare: true }))];
  }
  if (client && typeof (client as PgliteClient).query === "function") {
    return (await (client as PgliteClient).query(text, params)).rows;
  }
  throw new Error("preparedRows: unknown database driver");
}
