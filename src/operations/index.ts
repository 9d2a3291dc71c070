/**
 * Guarded operations: /deploy, /rollback, /scale, /backup, /pause_payouts, /resume_payouts, /lock,
 * /unlock, /backups, plus /status and /logs — plain TypeScript over the ports (no grammY, ssh2,
 * dockerode or drizzle here).
 *
 * Wiring in main.ts:
 *
 * ```ts
 * import { createOperations } from "./operations/index.js";
 * import { createOperationRepositories } from "./infra/db/repos/operations.js";
 * import { createOperationsFeature } from "./bot/handlers/operations.js";
 * import { createStatusFeature } from "./bot/handlers/status.js";
 *
 * const ops = createOperations({
 *   repos: createOperationRepositories(handle.db),   // drizzle repos over the bot's database
 *   audit,                                            // AuditLog (hash-chained)
 *   notifier,                                         // Notifier over grammY's Api
 *   targets,                                          // Record<name, { shell: RemoteShell, docker: DockerApi }>
 *   config: config.ops,                               // opsgram.yml (targets, confirmTimeoutSeconds, fourEyes)
 *   clock: systemClock,
 *   log: log.child({ module: "operations" }),
 *   redact: redactText,                               // masks secrets in command output sent to chat
 * });
 * const features = [createOperationsFeature({ service: ops.service }), createStatusFeature({ status: ops.status })];
 * await ops.start();      // restart recovery (interrupted ops, locks), then the expiry sweeper
 * …
 * await ops.stop();       // on SIGTERM: stop the sweeper, let running operations finish (grace), then abort
 * ```
 */
import { OperationEngine } from "./approvals.js";
import { backupDefinition } from "./backup.js";
import type { OperationDefinition, OperationsDeps } from "./context.js";
import { deployDefinition } from "./deploy.js";
import { TargetLocks } from "./lock.js";
import type { OperationKind } from "./model.js";
import { pausePayoutsDefinition, resumePayoutsDefinition } from "./payouts.js";
import { recoverInterrupted, type RecoveredOperation } from "./recovery.js";
import { rollbackDefinition } from "./rollback.js";
import { scaleDefinition } from "./scale.js";
import { OperationsService } from "./service.js";
import { StatusService } from "./status.js";

export type { OperationsDeps, TargetPorts, OperationsConfig } from "./context.js";
export type { RequestResult, ButtonResult } from "./approvals.js";
export type { TextReply } from "./service.js";
export type { ReadReply } from "./status.js";
export type { RecoveredOperation } from "./recovery.js";
export type * from "./model.js";
export { OperationsService } from "./service.js";
export { StatusService } from "./status.js";
export { OperationEngine, BUTTON_DATA_PATTERN } from "./approvals.js";
export { LockHeldError, RefNotFoundError } from "./errors.js";

/** How often plans past their expiry are marked expired (and their message edited). */
export const SWEEP_INTERVAL_MS = 5_000;
/** How long stop() lets running operations finish before asking them to abort. */
export const STOP_GRACE_MS = 30_000;

export interface CreateOperationsOptions extends OperationsDeps {
  sweepIntervalMs?: number;
  /** Locks whose heartbeat is older than this are taken over (default 2 min). */
  lockStaleAfterMs?: number;
}

export interface Operations {
  /** Deploy, rollback, scale, backup, payouts, lock/unlock, backups, button presses. */
  service: OperationsService;
  /** /status and /logs. */
  status: StatusService;
  engine: OperationEngine;
  locks: TargetLocks;
  /**
   * Restart recovery (running → interrupted, chat told, locks released after re-reading each
   * target), then expires overdue plans and starts the sweeper. Resolves with what was recovered.
   */
  start(): Promise<RecoveredOperation[]>;
  /**
   * Stops the sweeper and waits up to `graceMs` (default 30 s) for running operations to finish.
   * Ones still running are left alone; the next start() recovers them as interrupted.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
}

/** Builds the operations layer from its ports. Nothing runs until `start()`. */
export function createOperations(options: CreateOperationsOptions): Operations {
  const deps: OperationsDeps = options;
  const locks = new TargetLocks({
    repo: deps.repos.locks,
    operations: deps.repos.operations,
    clock: deps.clock,
    log: deps.log,
    ...(options.lockStaleAfterMs !== undefined ? { staleAfterMs: options.lockStaleAfterMs } : {}),
  });
  const definitions = new Map<OperationKind, OperationDefinition<never>>([
    ["deploy", deployDefinition as OperationDefinition<never>],
    ["rollback", rollbackDefinition as OperationDefinition<never>],
    ["scale", scaleDefinition as OperationDefinition<never>],
    ["backup", backupDefinition as OperationDefinition<never>],
    ["pause_payouts", pausePayoutsDefinition as OperationDefinition<never>],
    ["resume_payouts", resumePayoutsDefinition as OperationDefinition<never>],
  ]);
  const engine = new OperationEngine(deps, locks, definitions);
  const service = new OperationsService(deps, engine);
  const status = new StatusService(deps, locks);
  let sweeper: NodeJS.Timeout | null = null;
  let sweeping: Promise<unknown> = Promise.resolve();

  const sweep = () => {
    sweeping = engine.expireDue().catch((err: unknown) => deps.log.error({ err }, "expiry sweep failed"));
  };

  return {
    service,
    status,
    engine,
    locks,
    async start() {
      const recovered = await recoverInterrupted(deps, locks);
      await engine.expireDue();
      sweeper = setInterval(sweep, options.sweepIntervalMs ?? SWEEP_INTERVAL_MS);
      sweeper.unref();
      return recovered;
    },
    async stop(stopOptions = {}) {
      if (sweeper) clearInterval(sweeper);
      sweeper = null;
      await sweeping;
      const inFlight = engine.inFlight();
      if (inFlight.length === 0) return;
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        Promise.allSettled(inFlight).then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), stopOptions.graceMs ?? STOP_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      // Not aborted on purpose: cutting a deploy between checkout and up would leave a worse state
      // than letting the process end. Rows still `running` are recovered as interrupted on the next
      // start, after the target has been re-read.
      if (!finished) deps.log.warn({ running: inFlight.length }, "operations still running at shutdown: they will show as interrupted after the restart");
    },
  };
}
