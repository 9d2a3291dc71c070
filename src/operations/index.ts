/**
 * Guarded operations: /deploy, /rollback, /scale, /backup, /pause_payouts, /resume_payouts, /lock,
 * /unlock, /backups, plus /status and /logs — plain TypeScript over the ports (no grammY, ssh2,
 * dockerode or drizzle here). Typed requests in; plans, progress and results out through the
 * OperationReporter port (bot/operations/chat-reporter.ts renders them). app.ts wires it.
 */
import { OperationEngine } from "./approvals.js";
import { backupDefinition } from "./backup.js";
import type { OperationDefinition, OperationsDeps } from "./context.js";
import { deployDefinition } from "./deploy.js";
import { TargetLocks } from "./lock.js";
import type { OperationKind } from "./model.js";
import { pausePayoutsDefinition, resumePayoutsDefinition } from "./payouts.js";
import { recoverInterrupted, type RecoveredOperation } from "./recovery.js";
import { restartDefinition } from "./restart.js";
import { restoreDefinition } from "./restore.js";
import { rollbackDefinition } from "./rollback.js";
import { runDefinition } from "./run-command.js";
import { scaleDefinition } from "./scale.js";
import { RestoreService } from "./restore-service.js";
import { OperationsService } from "./service.js";
import { StatusService } from "./status.js";
import { targetNames } from "./targets.js";

export type { OperationsDeps, TargetPorts, OperationsConfig } from "./context.js";
export type { RequestResult, ButtonResult } from "./approvals.js";
export type { RecoveredOperation } from "./recovery.js";
export type { OperationReporter } from "./reporter.js";
export type * from "./model.js";
export type * from "./requests.js";
export { OperationsService } from "./service.js";
export { StatusService } from "./status.js";
export { RestoreService, type RestoreChoices, type RestorePreview, type RestoreRequest } from "./restore-service.js";
export { OperationEngine } from "./approvals.js";
export { RefNotFoundError } from "./errors.js";

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
  /** The configured target names, in opsgram.yml order (the first is the default). */
  targetNames: string[];
  /** Deploy, rollback, scale, backup, payouts, lock/unlock, backups, button presses. */
  service: OperationsService;
  /** /status and /logs. */
  status: StatusService;
  /** /restore (pick, preview, typed confirmation) and /backup drill. */
  restore: RestoreService;
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

/** Every kind's executor. */
const DEFINITIONS: Record<OperationKind, OperationDefinition> = {
  deploy: deployDefinition,
  rollback: rollbackDefinition,
  scale: scaleDefinition,
  backup: backupDefinition,
  pause_payouts: pausePayoutsDefinition,
  resume_payouts: resumePayoutsDefinition,
  restart: restartDefinition,
  run: runDefinition,
  restore: restoreDefinition,
};

/** Builds the operations layer from its ports. Nothing runs until `start()`. */
export function createOperations(options: CreateOperationsOptions): Operations {
  const deps: OperationsDeps = options;
  const locks = new TargetLocks({
    repo: deps.repos.locks,
    clock: deps.clock,
    log: deps.log,
    ...(options.lockStaleAfterMs !== undefined ? { staleAfterMs: options.lockStaleAfterMs } : {}),
  });
  const engine = new OperationEngine(deps, locks, (kind) => DEFINITIONS[kind]);
  const service = new OperationsService(deps, engine);
  const status = new StatusService(deps, locks, service);
  const restore = new RestoreService(deps, engine, service);
  let sweeper: NodeJS.Timeout | null = null;
  let sweeping: Promise<unknown> = Promise.resolve();

  const sweep = () => {
    sweeping = engine.expireDue().catch((err: unknown) => deps.log.error({ err }, "expiry sweep failed"));
  };

  return {
    targetNames: targetNames(deps),
    service,
    status,
    restore,
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
