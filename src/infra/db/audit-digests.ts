import { desc } from "drizzle-orm";
import type { Actor, Clock, Notifier } from "../../shared/ports.js";
import type { Logger } from "../logger.js";
import type { AuditHead, PostgresAuditLog } from "./audit-log.js";
import type { Db } from "./client.js";
import { auditDigests } from "./schema/index.js";

/** Why a digest was published. */
export type DigestReason = "daily" | "manual";

/** A digest as recorded and posted. */
export interface PublishedDigest {
  id: number;
  lastRowId: number;
  rowCount: number;
  headHash: string;
  /** The text posted to the alert chats. */
  text: string;
  /** Chats the post reached (a chat that failed is logged and skipped). */
  deliveredTo: number[];
}

/** `🔏 audit digest: rows 1–12,345 · head <hash>`: the chat is the outside witness of the chain head. */
export function digestText(head: Pick<AuditHead, "rowCount" | "hash">): string {
  return `🔏 audit digest: rows 1–${head.rowCount.toLocaleString("en-US")} · head ${head.hash}`;
}

export interface AuditDigestsOptions {
  db: Db;
  audit: PostgresAuditLog;
  notifier: Notifier;
  /** Where digests are posted (ALERT_CHAT_IDS). */
  chatIds: readonly number[];
  log: Logger;
}

/**
 * Publishes digests of the audit chain: audits the request, reads the head (which then covers that
 * very row), records the digest in audit_digests, and posts it to the alert chats. A later rewrite
 * of any covered row no longer matches what people received, and `/audit verify` names the digest.
 */
export class AuditDigests {
  constructor(private readonly options: AuditDigestsOptions) {}

  async publish(reason: DigestReason, by: Actor | null): Promise<PublishedDigest> {
    const { db, audit, notifier, chatIds, log } = this.options;
    await audit.append({
      chatId: by?.chatId ?? null,
      userId: by?.userId ?? null,
      username: by?.username ?? null,
      action: "audit.digest",
      target: null,
      args: { reason },
      outcome: "info",
      operationId: null,
      detail: null,
    });
    const head = await audit.head();
    const [row] = await db
      .insert(auditDigests)
      .values({ lastRowId: head.lastRowId ?? 0, rowCount: head.rowCount, headHash: head.hash, reason, chatIds: [...chatIds] })
      .returning({ id: auditDigests.id });
    const text = digestText(head);
    const deliveredTo: number[] = [];
    for (const chatId of chatIds) {
      try {
        await notifier.send(chatId, text);
        deliveredTo.push(chatId);
      } catch (err) {
        log.warn({ err, chatId }, "could not post the audit digest to a chat");
      }
    }
    return { id: row!.id, lastRowId: head.lastRowId ?? 0, rowCount: head.rowCount, headHash: head.hash, text, deliveredTo };
  }

  /** The latest digest, or null when none was published yet. */
  async latest(): Promise<{ id: number; createdAt: Date; rowCount: number; headHash: string } | null> {
    const [row] = await this.options.db.select().from(auditDigests).orderBy(desc(auditDigests.id)).limit(1);
    return row ? { id: row.id, createdAt: row.createdAt, rowCount: Number(row.rowCount), headHash: row.headHash } : null;
  }
}

/** Milliseconds from `now` to the next `hourUtc`:00:00 UTC strictly after it. */
export function msUntilHour(now: Date, hourUtc: number): number {
  const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hourUtc));
  if (next.getTime() <= now.getTime()) next.setUTCDate(next.getUTCDate() + 1);
  return next.getTime() - now.getTime();
}

/**
 * Runs `task` every day at `hourUtc`:00 UTC until stopped. A failed run is logged and the next day
 * still comes. A day the bot was down for is not made up.
 */
export function scheduleDaily(hourUtc: number, task: () => Promise<unknown>, clock: Clock, log: Logger): { stop(): void } {
  const abort = new AbortController();
  void (async () => {
    while (!abort.signal.aborted) {
      try {
        await clock.sleep(msUntilHour(clock.now(), hourUtc), abort.signal);
      } catch {
        return; // stopped
      }
      await task().catch((err: unknown) => log.error({ err }, "daily audit digest failed"));
    }
  })();
  return { stop: () => abort.abort() };
}
