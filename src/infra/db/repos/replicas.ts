import { eq } from "drizzle-orm";
import type { ReplicasRepo, ReplicaRecord } from "../../../operations/model.js";
import type { Db } from "../client.js";
import { serviceReplicas } from "../schema/index.js";

/** The `service_replicas` table: desired replicas per service per target, as /scale last set them. */
export class DrizzleReplicasRepo implements ReplicasRepo {
  constructor(private readonly db: Db) {}

  async forTarget(target: string): Promise<Record<string, number>> {
    const rows = await this.db.select().from(serviceReplicas).where(eq(serviceReplicas.target, target));
    return Object.fromEntries(rows.map((r) => [r.service, r.replicas]));
  }

  async set(records: readonly ReplicaRecord[]): Promise<void> {
    if (records.length === 0) return;
    for (const r of records) {
      const values = { target: r.target, service: r.service, replicas: r.replicas, byUserId: r.byUserId, operationId: r.operationId, updatedAt: r.at };
      await this.db
        .insert(serviceReplicas)
        .values(values)
        .onConflictDoUpdate({ target: [serviceReplicas.target, serviceReplicas.service], set: values });
    }
  }
}
