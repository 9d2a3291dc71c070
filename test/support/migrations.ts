import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Copies drizzle/ into `folder` and appends a migration `9999_broken` whose first statement works
 * and whose second (`failingStatement`) fails, to prove a failed run changes nothing.
 */
export function writeBrokenMigrations(folder: string, failingStatement: string): void {
  cpSync(join(import.meta.dirname, "../../drizzle"), folder, { recursive: true });
  const journalPath = join(folder, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: Record<string, unknown>[] };
  const last = journal.entries.at(-1) as { idx: number; when: number };
  journal.entries.push({ idx: last.idx + 1, version: "7", when: last.when + 1, tag: "9999_broken", breakpoints: true });
  writeFileSync(journalPath, JSON.stringify(journal));
  writeFileSync(join(folder, "9999_broken.sql"), `CREATE TABLE "half_done" ("id" integer);\n--> statement-breakpoint\n${failingStatement}`);
}
