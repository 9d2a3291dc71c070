import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DrizzleQueryError } from "drizzle-orm";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import { openDedicatedConnection, type DatabaseHandle } from "./client.js";

/** A migration could not be applied; the database is left as it was before that run. */
export class MigrationError extends Error {
  override readonly name = "MigrationError";
  constructor(
    message: string,
    /** Tag of the migration that failed (e.g. `0001_audit_append_only`), when known. */
    readonly migration: string | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface MigrateOptions {
  /** Folder drizzle-kit generated (with meta/_journal.json). Default: `drizzle/` of this package. */
  migrationsFolder?: string;
  /** How long to wait for another process that is migrating the same database. Default 120 s. */
  lockTimeoutMs?: number;
}

/**
 * Key of the session advisory lock that serialises migrations across processes
 * ("opsgram" + 0x02; audit-log.ts uses 0x01). drizzle's migrator takes no lock of its own.
 */
const MIGRATION_LOCK_KEY = "8030045023739407618";

/**
 * Applies the committed migrations in drizzle/ that the database has not seen yet. Safe when two
 * processes start at once against the same Postgres: one migrates while the other waits on an
 * advisory lock, then finds nothing left to do. Throws MigrationError naming the failed migration.
 */
export async function migrate(handle: DatabaseHandle, options: MigrateOptions = {}): Promise<void> {
  const folder = options.migrationsFolder ?? defaultMigrationsFolder();
  const tags = readTags(folder);
  const { db, sql } = openDedicatedConnection(handle);
  try {
    await takeMigrationLock(sql, options.lockTimeoutMs ?? 120_000);
    await applyWith(tags, () => migratePostgres(db, { migrationsFolder: folder }));
    // No explicit unlock: ending the connection releases the session lock, also on failure.
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function takeMigrationLock(sql: ReturnType<typeof openDedicatedConnection>["sql"], timeoutMs: number): Promise<void> {
  try {
    await sql.unsafe(`SET lock_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
    await sql.unsafe(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    await sql.unsafe("RESET lock_timeout");
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "55P03") {
      throw new MigrationError(
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for the migration lock: another process is migrating this database (or is stuck doing so)`,
        null,
        { cause: err },
      );
    }
    throw new MigrationError(`could not take the migration lock: ${messageOf(err)}`, null, { cause: err });
  }
}

interface TaggedMigration {
  tag: string;
  statements: string[];
}

async function applyWith(migrations: TaggedMigration[], apply: () => Promise<void>): Promise<void> {
  try {
    await apply();
  } catch (err) {
    throw toMigrationError(err, migrations);
  }
}

function toMigrationError(err: unknown, migrations: TaggedMigration[]): MigrationError {
  if (err instanceof DrizzleQueryError) {
    const failed = err.query.trim();
    const culprit = migrations.find((m) => m.statements.some((s) => s.trim() === failed));
    const reason = messageOf(err.cause ?? err);
    if (culprit) {
      return new MigrationError(`migration ${culprit.tag} failed: ${reason}`, culprit.tag, { cause: err });
    }
    return new MigrationError(`migrations could not run: ${reason}`, null, { cause: err });
  }
  return new MigrationError(`migrations could not run: ${messageOf(err)}`, null, { cause: err });
}

/** The migrations listed in the folder's journal, with their statements, in order. */
function readTags(folder: string): TaggedMigration[] {
  const journalPath = join(folder, "meta", "_journal.json");
  let entries: { tag: string }[];
  try {
    entries = (JSON.parse(readFileSync(journalPath, "utf8")) as { entries: { tag: string }[] }).entries;
  } catch (err) {
    throw new MigrationError(`cannot read the migration journal ${journalPath}: ${messageOf(err)}`, null, { cause: err });
  }
  return entries.map(({ tag }) => {
    const file = join(folder, `${tag}.sql`);
    try {
      return { tag, statements: readFileSync(file, "utf8").split("--> statement-breakpoint") };
    } catch (err) {
      throw new MigrationError(`migration ${tag} is listed in the journal but ${file} cannot be read: ${messageOf(err)}`, tag, { cause: err });
    }
  });
}

/**
 * `drizzle/` at the package root, found by walking up from this module: the same code runs from
 * src/ (tsx, vitest) and from dist/ (built), at different depths.
 */
function defaultMigrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return join(dir, "drizzle");
    const parent = dirname(dir);
    if (parent === dir) throw new MigrationError("cannot find the package root (package.json) to locate drizzle/", null);
    dir = parent;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
