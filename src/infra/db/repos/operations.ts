import { and, asc, eq, gt, inArray, isNull, lte, ne, or } from "drizzle-orm";
import type {
  ClaimRequest,
  NewOperation,
  OperationPatch,
  OperationRecord,
  OperationRepositories,
  OperationsRepo,
  OperationStatus,
} from "../../../operations/model.js";
import type { Db } from "../client.js";
import { operations, type OperationRow } from "../schema/index.js";
import { DrizzleBackupsRepo } from "./backups.js";
import { DrizzleDeploymentsRepo } from "./deployments.js";
import { DrizzleLocksRepo } from "./locks.js";
import { DrizzlePayoutsRepo } from "./payouts.js";
import { DrizzleReplicasRepo } from "./replicas.js";

function toRecord(row: OperationRow): OperationRecord {
  return {
    id: row.id,
    kind: row.kind,
    target: row.target,
    status: row.status,
    args: row.args ?? null,
    plan: row.plan ?? null,
    result: row.result ?? null,
    chatId: row.chatId,
    messageId: row.messageId,
    requestedBy: row.requestedBy,
    requestedByName: row.requestedByName,
    confirmedBy: row.confirmedBy,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    confirmedAt: row.confirmedAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    heartbeatAt: row.heartbeatAt,
    error: row.error,
  };
}

/** Drops keys whose value is undefined, so a patch only sets what it names. */
function defined<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The `operations` table. Every status change is one conditional UPDATE … RETURNING, so two
 * processes (or two presses) racing on the same row cannot both move it.
 */
export class DrizzleOperationsRepo implements OperationsRepo {
  constructor(private readonly db: Db) {}

  async insert(op: NewOperation): Promise<OperationRecord> {
    const [row] = await this.db
      .insert(operations)
      .values({
        id: op.id,
        kind: op.kind,
        target: op.target,
        status: op.status,
        args: op.args,
        chatId: op.chatId,
        requestedBy: op.requestedBy,
        requestedByName: op.requestedByName,
        createdAt: op.createdAt,
      })
      .returning();
    return toRecord(row!);
  }

  async get(id: string): Promise<OperationRecord | null> {
    const [row] = await this.db.select().from(operations).where(eq(operations.id, id));
    return row ? toRecord(row) : null;
  }

  async transition(id: string, from: readonly OperationStatus[], to: OperationStatus, patch: OperationPatch = {}): Promise<OperationRecord | null> {
    const [row] = await this.db
      .update(operations)
      .set({ ...defined(patch), status: to })
      .where(and(eq(operations.id, id), inArray(operations.status, [...from])))
      .returning();
    return row ? toRecord(row) : null;
  }

  async claim(id: string, request: ClaimRequest): Promise<OperationRecord | null> {
    const [row] = await this.db
      .update(operations)
      .set({ status: "confirmed", confirmedBy: request.userId, confirmedAt: request.now, messageId: request.on.messageId })
      .where(
        and(
          eq(operations.id, id),
          eq(operations.status, "awaiting_confirmation"),
          // Bound to the plan's message: a callback_data replayed anywhere else claims nothing.
          eq(operations.chatId, request.on.chatId),
          or(eq(operations.messageId, request.on.messageId), isNull(operations.messageId)),
          // A NULL expiry compares as unknown: such a row can never be confirmed.
          gt(operations.expiresAt, request.now),
          request.excludeRequester ? ne(operations.requestedBy, request.userId) : undefined,
        ),
      )
      .returning();
    return row ? toRecord(row) : null;
  }

  async setMessage(id: string, chatId: number, messageId: number): Promise<void> {
    await this.db.update(operations).set({ chatId, messageId }).where(eq(operations.id, id));
  }

  async heartbeat(id: string, at: Date): Promise<void> {
    await this.db.update(operations).set({ heartbeatAt: at }).where(and(eq(operations.id, id), eq(operations.status, "running")));
  }

  async expireDue(now: Date): Promise<OperationRecord[]> {
    const rows = await this.db
      .update(operations)
      .set({ status: "expired", finishedAt: now })
      .where(and(eq(operations.status, "awaiting_confirmation"), lte(operations.expiresAt, now)))
      .returning();
    return rows.map(toRecord);
  }

  async listByStatus(statuses: readonly OperationStatus[]): Promise<OperationRecord[]> {
    const rows = await this.db
      .select()
      .from(operations)
      .where(inArray(operations.status, [...statuses]))
      .orderBy(asc(operations.createdAt));
    return rows.map(toRecord);
  }
}

/** All repositories the operations layer needs, over one drizzle database. */
export function createOperationRepositories(db: Db): OperationRepositories {
  return {
    operations: new DrizzleOperationsRepo(db),
    locks: new DrizzleLocksRepo(db),
    deployments: new DrizzleDeploymentsRepo(db),
    backups: new DrizzleBackupsRepo(db),
    payouts: new DrizzlePayoutsRepo(db),
    replicas: new DrizzleReplicasRepo(db),
  };
}
