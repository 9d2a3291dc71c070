import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { inject } from "vitest";

/** A fresh, empty database in the run's Postgres cluster, for one test file. */
export function createTestDatabase(prefix = "t"): string {
  const base = inject("postgresUrl");
  const name = `${prefix}_${randomBytes(5).toString("hex")}`;
  execFileSync("psql", [base, "-qc", `CREATE DATABASE "${name}"`]);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}
