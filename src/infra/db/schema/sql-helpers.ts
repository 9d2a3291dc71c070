import { sql, type SQL } from "drizzle-orm";

/**
 * `"column" IN ('a', 'b', …)` for a CHECK constraint. The values are our own constants (never
 * input), so they are inlined: drizzle-kit has to print the constraint into a migration anyway.
 */
export function oneOf(column: string, values: readonly string[]): SQL {
  const list = values.map((v) => `'${v.replace(/'/g, "''")}'`).join(", ");
  return sql.raw(`"${column.replace(/"/g, '""')}" IN (${list})`);
}
