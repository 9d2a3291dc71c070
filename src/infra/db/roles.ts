import { sql } from "drizzle-orm";
import { openDatabase, type DatabaseHandle } from "./client.js";
import { migrate } from "./migrate.js";

/** Tables the app role may only INSERT into and SELECT from: the evidence. */
const APPEND_ONLY_TABLES = ["audit_events", "audit_digests"] as const;

/** The owner/app split would not protect anything; `reason` says why and how to fix it. */
export class DatabaseRoleError extends Error {
  override readonly name = "DatabaseRoleError";
}

/** What the app connection is: its role, and whether it is a superuser (who bypasses every grant). */
export async function describeRole(handle: DatabaseHandle): Promise<{ role: string; superuser: boolean }> {
  const [row] = rowsOf(await handle.db.execute(sql`select current_user as role, (select rolsuper from pg_roles where rolname = current_user) as superuser`));
  return { role: String(row?.role), superuser: row?.superuser === true };
}

/**
 * Run over the owner's connection after migrating: grants the app role what the bot needs on every
 * table, but on audit_events and audit_digests only INSERT and SELECT (plus the sequences and
 * functions), so the app can neither disable their triggers nor rewrite, delete or truncate rows.
 * Refuses (DatabaseRoleError) when the app role is a superuser or owns those tables, because then
 * the grants would protect nothing.
 */
export async function grantAppRole(owner: DatabaseHandle, appRole: string, appIsSuperuser: boolean): Promise<void> {
  if (appIsSuperuser) {
    throw new DatabaseRoleError(
      `DATABASE_URL: connects as "${appRole}", a superuser, who can rewrite the audit log whatever is granted: give the bot a plain role (see docker-compose.yml)`,
    );
  }
  const owners = rowsOf(
    await owner.db.execute(sql`select tablename, tableowner from pg_tables where schemaname = 'public' and tablename in ('audit_events', 'audit_digests')`),
  );
  const ownedByApp = owners.filter((r) => r.tableowner === appRole).map((r) => String(r.tablename));
  if (ownedByApp.length > 0) {
    throw new DatabaseRoleError(
      `DATABASE_URL: ${ownedByApp.join(" and ")} ${ownedByApp.length > 1 ? "are" : "is"} owned by the app role "${appRole}", which could then disable the triggers: run \`REASSIGN OWNED BY "${appRole}" TO <owner role>\` once as a superuser`,
    );
  }
  const role = quoteIdent(appRole);
  const tables = APPEND_ONLY_TABLES.map(quoteIdent).join(", ");
  await owner.db.transaction(async (tx) => {
    await tx.execute(sql.raw(`GRANT USAGE ON SCHEMA public TO ${role}`));
    await tx.execute(sql.raw(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`));
    await tx.execute(sql.raw(`REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ${tables} FROM ${role}`));
    await tx.execute(sql.raw(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`));
    await tx.execute(sql.raw(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ${role}`));
  });
}

/** A Postgres identifier, quoted: role names come from the server, but may hold any character. */
function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function rowsOf(result: unknown): Record<string, unknown>[] {
  return (Array.isArray(result) ? result : (result as { rows: Record<string, unknown>[] }).rows) as Record<string, unknown>[];
}

/**
 * With DATABASE_OWNER_URL: migrates over the owner's connection, then grants the role `app`
 * connects as only INSERT and SELECT on the audit tables. Throws DatabaseRoleError for a setup
 * that would protect nothing, or when the owner database cannot be opened.
 */
export async function migrateAsOwner(app: DatabaseHandle, ownerUrl: string): Promise<void> {
  let owner: DatabaseHandle;
  try {
    owner = await openDatabase({ url: ownerUrl, dataDir: "" });
  } catch (err) {
    throw new DatabaseRoleError(`DATABASE_OWNER_URL: ${(err as Error).message}`, { cause: err });
  }
  try {
    await migrate(owner);
    const { role, superuser } = await describeRole(app);
    await grantAppRole(owner, role, superuser);
  } finally {
    await owner.close();
  }
}
