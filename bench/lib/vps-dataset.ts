import postgres from "postgres";

/**
 * A big app database for the backup benchmark, generated inside Postgres (INSERT … SELECT
 * generate_series) by two sessions at once (one per core). Rows look like an event log: ids, times,
 * amounts, a kind, and a JSON-ish payload with a random uuid and an md5, so pg_dump's compression has
 * realistic work (roughly 4:1), neither incompressible noise nor repeated filler.
 */

export interface Dataset {
  table: string;
  rows: number;
  /** pg_database_size after generation (primary key included). */
  databaseBytes: number;
  tableBytes: number;
  generationMs: number;
  /** True when the time budget ran out before the target size: the database is smaller than asked. */
  stoppedByTimeBudget: boolean;
}

const CHUNK_ROWS = 200_000;
/** A btree on a bigint costs about this much per row; the inserts stop early enough to leave room for it. */
const PK_BYTES_PER_ROW = 22;

export async function generateDataset(url: string, options: { targetBytes: number; insertBudgetMs: number; log?: (line: string) => void }): Promise<Dataset> {
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const started = Date.now();
  try {
    await sql`CREATE TABLE events (
      id bigint NOT NULL,
      created_at timestamptz NOT NULL,
      account_id integer NOT NULL,
      amount numeric(12, 2) NOT NULL,
      kind text NOT NULL,
      payload text NOT NULL
    )`;
    let nextChunk = 0;
    let rows = 0;
    let done = false;
    let stoppedByTimeBudget = false;
    const worker = async () => {
      while (!done) {
        const first = nextChunk++ * CHUNK_ROWS + 1;
        const last = first + CHUNK_ROWS - 1;
        await sql`
          INSERT INTO events
          SELECT g,
                 now() - g * interval '1 second',
                 (g % 50000)::int,
                 round((random() * 1000)::numeric, 2),
                 (ARRAY['login', 'payout', 'deposit', 'bet', 'logout', 'withdrawal'])[1 + (g % 6)::int],
                 '{"user":"' || gen_random_uuid() || '","ip":"10.' || (g % 250) || '.' || (g % 199) || '.' || (g % 97) ||
                   '","ua":"Mozilla/5.0 (Linux; Android 13) quiz-arena/' || (g % 40) || '","session":"' || md5(g::text) || '"}'
          FROM generate_series(${first}::bigint, ${last}::bigint) AS g`;
        rows += CHUNK_ROWS;
        const [row] = await sql<{ size: string }[]>`SELECT pg_database_size(current_database()) AS size`;
        const projected = Number(row!.size) + rows * PK_BYTES_PER_ROW;
        options.log?.(`  ${rows.toLocaleString("en-US")} rows, ${(projected / 1e9).toFixed(2)} GB projected with the primary key, ${Math.round((Date.now() - started) / 1000)} s`);
        if (projected >= options.targetBytes) done = true;
        else if (Date.now() - started > options.insertBudgetMs) {
          done = true;
          stoppedByTimeBudget = true;
        }
      }
    };
    await Promise.all([worker(), worker()]);
    await sql`ALTER TABLE events ADD PRIMARY KEY (id)`;
    const [size] = await sql<{ db: string; tbl: string; n: string }[]>`
      SELECT pg_database_size(current_database()) AS db, pg_total_relation_size('events') AS tbl, (SELECT count(*) FROM events) AS n`;
    return {
      table: "events",
      rows: Number(size!.n),
      databaseBytes: Number(size!.db),
      tableBytes: Number(size!.tbl),
      generationMs: Date.now() - started,
      stoppedByTimeBudget,
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
