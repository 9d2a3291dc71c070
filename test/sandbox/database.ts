import { randomBytes } from "node:crypto";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { run } from "./processes.js";

/** Where pg_dump / pg_restore live (Debian's postgresql-15). */
export const PG_BIN_DIR = "/usr/lib/postgresql/15/bin";

export interface AppDatabase {
  url: string;
  /** Drops the database, or stops the cluster we started for it. */
  drop(): Promise<string[]>;
}

const SEED_SQL = `
CREATE TABLE payouts (
  id serial PRIMARY KEY,
  amount numeric(12, 2) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO payouts (amount, created_at)
SELECT round((random() * 1000)::numeric, 2), now() - (n || ' minutes')::interval
FROM generate_series(1, 1000) AS n;
`;

/**
 * The app's own database, with rows worth backing up: a fresh `app_<random>` database in the given
 * cluster, or (without one) a cluster of our own.
 */
export async function createAppDatabase(postgresUrl: string | undefined): Promise<AppDatabase> {
  let cluster: TestPostgres | undefined;
  const baseUrl = postgresUrl ?? (cluster = await startPostgres()).url;
  const name = `app_${randomBytes(5).toString("hex")}`;
  const drop = async (): Promise<string[]> => {
    if (cluster) {
      cluster.stop();
      return [];
    }
    try {
      await run("psql", [baseUrl, "-qXc", `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`], { timeoutMs: 30_000 });
      return [];
    } catch (error) {
      return [`dropping ${name}: ${(error as Error).message}`];
    }
  };
  try {
    await run("psql", [baseUrl, "-qXv", "ON_ERROR_STOP=1", "-c", `CREATE DATABASE "${name}"`], { timeoutMs: 30_000 });
    const url = new URL(baseUrl);
    url.pathname = `/${name}`;
    await run("psql", [url.toString(), "-qXv", "ON_ERROR_STOP=1"], { input: SEED_SQL, timeoutMs: 30_000 });
    return { url: url.toString(), drop };
  } catch (error) {
    await drop();
    throw error;
  }
}
