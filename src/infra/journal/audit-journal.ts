import { randomUUID } from "node:crypto";
import { chmod, mkdir, open, readFile, rename } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { AuditEventInput } from "../../shared/ports.js";

/** The journal's default name inside DATA_DIR. */
export const AUDIT_JOURNAL_FILE = "audit-journal.jsonl";

/** One line of the journal. `id` makes its replay idempotent; `at` is when it really happened. */
export interface JournalEntry {
  v: 1;
  id: string;
  at: string;
  event: AuditEventInput;
}

/** A new entry for `event`, stamped now. */
export function newJournalEntry(event: AuditEventInput, at: Date): JournalEntry {
  return { v: 1, id: randomUUID(), at: at.toISOString(), event };
}

/**
 * A local append-only file of audit events (JSON lines), for when Postgres cannot take them.
 * Each append is written and fsync'd before it resolves, so an acknowledged entry survives a crash
 * or power loss; the file is created with mode 0600 (it names people and what they did). A line
 * torn by a crash mid-write was never acknowledged and is skipped on read.
 */
export class AuditJournal {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  /** Appends one entry durably. Appends are serialised, so lines keep their call order. */
  append(entry: JournalEntry): Promise<void> {
    const run = this.tail.then(() => this.write(`${JSON.stringify(entry)}\n`));
    this.tail = run.catch(() => {});
    return run;
  }

  private async write(line: string): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const file = await open(this.path, "a", 0o600);
    let created = false;
    try {
      const stat = await file.stat();
      created = stat.size === 0;
      // A file someone else created must not stay readable by others.
      if ((stat.mode & 0o077) !== 0) await chmod(this.path, 0o600);
      await file.appendFile(line, "utf8");
      await file.sync();
    } finally {
      await file.close();
    }
    if (created) await syncDir(dirname(this.path));
  }

  /** The entries in file order. Missing file: none. */
  async read(): Promise<JournalEntry[]> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const entries: JournalEntry[] = [];
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      try {
        const parsed = JSON.parse(line) as JournalEntry;
        if (parsed?.v === 1 && typeof parsed.id === "string" && parsed.event) entries.push(parsed);
      } catch {
        // a line torn by a crash mid-append: never acknowledged, nothing to replay
      }
    }
    return entries;
  }

  /**
   * Moves the replayed journal aside (`audit-journal.<UTC>.replayed.jsonl`, kept for the record)
   * so the next outage starts a fresh file. Serialised with appends.
   */
  archive(now: Date): Promise<string> {
    const run = this.tail.then(async () => {
      const stamp = now.toISOString().replace(/[:.]/g, "-");
      const name = basename(this.path).replace(/\.jsonl$/, "");
      const target = join(dirname(this.path), `${name}.${stamp}.replayed.jsonl`);
      await rename(this.path, target);
      await syncDir(dirname(this.path));
      return target;
    });
    this.tail = run.catch(() => {});
    return run;
  }
}

/** fsync a directory, so a created or renamed entry in it survives a crash too. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
