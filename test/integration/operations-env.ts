/**
 * The shared environment of the operations integration tests (operations.test.ts and operations/*.ts):
 * the sandbox VPS, the bot's database, the real target connections, and small helpers. Exported as
 * live bindings, assigned in useOperationsEnv()'s beforeAll.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, inject, it } from "vitest";
import { fileSchema, type OpsFile } from "../../src/config/file.js";
import { PostgresAuditLog } from "../../src/infra/db/audit-log.js";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { createOperationRepositories } from "../../src/infra/db/repos/operations.js";
import { createLogger } from "../../src/infra/logger.js";
import { createTargetConnections, type TargetConnections } from "../../src/infra/targets.js";
import { createOperations, type Operations, type OperationRepositories } from "../../src/operations/index.js";
import { systemClock, type Clock, type ExecOptions, type ExecResult, type RemoteShell } from "../../src/shared/ports.js";
import { startSandbox, type Sandbox } from "../sandbox/index.js";
import { createTestDatabase } from "../support/db.js";
import { RecordingNotifier } from "../unit/operations-fakes.js";
import { run } from "@grammyjs/runner";
import { ChatReporter } from "../../src/bot/operations/chat-reporter.js";
import { RecordingShell } from "../support/recording-shell.js";
import { sandboxTarget } from "../support/sandbox-target.js";
export { RecordingShell };

export const log = createLogger({ level: "silent" });
export let sandbox: Sandbox;
export let database: DatabaseHandle;
export let repos: OperationRepositories;
export let audit: PostgresAuditLog;
export let connections: TargetConnections;
export let shell: RecordingShell;
export let config: OpsFile;
export const running: Operations[] = [];


/** A clock that can be moved forward (expiry) while sleeps stay real. */
export class OffsetClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
}

export function buildConfig(overrides: Record<string, unknown> = {}): OpsFile {
  const redis = `redis-cli ${sandbox.redis.cliArgs.join(" ")}`;
  return fileSchema.parse({
    targets: {
      prod: {
        ...sandboxTarget(sandbox),
        services: { worker: { min: 1, max: 3 } },
        deploy: {
          healthcheck: { url: `http://127.0.0.1:${sandbox.webPort}/health`, from: "target", expectStatus: 200, timeoutSeconds: 8, intervalSeconds: 0.5 },
          autoRollback: true,
        },
        backup: { command: `${sandbox.pgBinDir}/pg_dump -Fc ${sandbox.appPostgresUrl}`, dir: sandbox.backupDir, keep: 1, format: "custom" },
        payouts: {
          pause: `${redis} SET system:pause_payouts 1`,
          resume: `${redis} DEL system:pause_payouts`,
          status: `${redis} GET system:pause_payouts`,
        },
      },
    },
    confirmTimeoutSeconds: 60,
    ...overrides,
  });
}

export function makeOps(options: { config?: OpsFile; clock?: Clock; notifier?: RecordingNotifier } = {}) {
  const notifier = options.notifier ?? new RecordingNotifier();
  const ops = createOperations({
    repos,
    audit,
    reporter: new ChatReporter(notifier, options.clock ?? systemClock, log),
    targets: { prod: { shell, docker: connections.docker } },
    config: options.config ?? config,
    clock: options.clock ?? systemClock,
    log,
  });
  running.push(ops);
  return { ops, notifier };
}

export async function version(): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${sandbox.webPort}/version`);
  return (await response.text()).trim();
}

export function head(): string {
  return execFileSync("git", ["-C", sandbox.appDir, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
}

export async function runningReplicas(service: string): Promise<number> {
  const list = await connections.docker.listContainers(sandbox.composeProject);
  return list.filter((c) => c.service === service && c.state === "running").length;
}

/** One sandbox and one database for every group of the operations tests (hooks of the calling file). */
export function useOperationsEnv(): void {
  beforeAll(async () => {
  sandbox = await startSandbox({ postgresUrl: inject("postgresUrl") });
    database = await openDatabase({ url: createTestDatabase("ops"), dataDir: sandbox.dir });
    await migrate(database);
    repos = createOperationRepositories(database.db);
    audit = new PostgresAuditLog(database.db);
    config = buildConfig();
    connections = createTargetConnections("prod", config.targets.prod!, log);
    shell = new RecordingShell(connections.shell);
  });

  afterAll(async () => {
    for (const ops of running) await ops.stop({ graceMs: 1_000 });
    await connections?.close();
    await database?.close();
    await sandbox?.stop();
  });
}
