import { and, desc, eq } from "drizzle-orm";
import type { DeploymentRecord, DeploymentsRepo, DeploymentStatus, NewDeployment } from "../../../operations/model.js";
import type { Db } from "../client.js";
import { deployments, type DeploymentRow } from "../schema/index.js";

function toRecord(row: DeploymentRow): DeploymentRecord {
  return { ...row };
}

/** The `deployments` table: what ran on a target and from which commit, newest first. */
export class DrizzleDeploymentsRepo implements DeploymentsRepo {
  constructor(private readonly db: Db) {}

  async insert(d: NewDeployment): Promise<DeploymentRecord> {
    const [row] = await this.db.insert(deployments).values(d).returning();
    return toRecord(row!);
  }

  async get(id: number): Promise<DeploymentRecord | null> {
    const [row] = await this.db.select().from(deployments).where(eq(deployments.id, id));
    return row ? toRecord(row) : null;
  }

  async finish(id: number, status: DeploymentStatus, at: Date): Promise<void> {
    await this.db.update(deployments).set({ status, finishedAt: at }).where(eq(deployments.id, id));
  }

  async latest(target: string): Promise<DeploymentRecord | null> {
    const [row] = await this.db.select().from(deployments).where(eq(deployments.target, target)).orderBy(desc(deployments.id)).limit(1);
    return row ? toRecord(row) : null;
  }

  async lastSucceeded(target: string): Promise<DeploymentRecord | null> {
    const [row] = await this.db
      .select()
      .from(deployments)
      .where(and(eq(deployments.target, target), eq(deployments.status, "succeeded")))
      .orderBy(desc(deployments.id))
      .limit(1);
    return row ? toRecord(row) : null;
  }

  async byOperation(operationId: string): Promise<DeploymentRecord | null> {
    const [row] = await this.db.select().from(deployments).where(eq(deployments.operationId, operationId)).orderBy(desc(deployments.id)).limit(1);
    return row ? toRecord(row) : null;
  }

  async recent(target: string, limit: number): Promise<DeploymentRecord[]> {
    const rows = await this.db.select().from(deployments).where(eq(deployments.target, target)).orderBy(desc(deployments.id)).limit(limit);
    return rows.map(toRecord);
  }
}
