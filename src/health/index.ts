/**
 * Health alerts: monitors → incidents → a durable outbox → the alert chats.
 *
 * Wiring in main.ts (one call; everything runs in the background until `stop()`):
 *
 * ```ts
 * import { Api } from "grammy";
 * import { startHealth } from "./health/index.js";
 * import { TelegramNotifier, configureApi } from "./infra/telegram/index.js";
 * import { createAlertsFeature } from "./bot/handlers/alerts.js";
 *
 * configureApi(bot.api);                                   // bounded auto-retry for the bot's own replies
 * const notifier = new TelegramNotifier(new Api(token, { apiRoot }), { log });  // own retries: no auto-retry here
 * const health = await startHealth({
 *   db: handle.db,                                         // migrated drizzle Db (Postgres or PGlite)
 *   notifier,
 *   targets: { prod: { shell, docker, project, config: targetConfig.health } },  // from createTargetConnections
 *   alertChatIds: env.adminChatIds,
 *   log: log.child({ module: "health" }),
 *   backups: repos.backups, payouts: repos.payouts,         // optional: default readers over the same db
 * });
 * features.push(createAlertsFeature({ alerts: health.alerts, audit }));
 * createOperations({ …, expected: health.expected });       // deploy/scale/rollback: no alerts for our own changes
 * …
 * await health.stop();                                     // on SIGTERM, before closing the database
 * ```
 *
 * What runs: per target, the Docker event stream of its compose project (die/oom/unhealthy/restart
 * loops, alert within ~0.5 s), its HTTP checks (from the target over the RemoteShell, or from the
 * bot), disk usage, SSH reachability, backup age and the payouts-paused reminder when configured;
 * an engine applying thresholds, acks and mutes; and the outbox dispatcher, which coalesces bursts
 * and delivers oldest first with retries (an alert waits out a Telegram outage and a restart).
 */
import type { TargetConfig } from "../config/file.js";
import type { Db } from "../infra/db/client.js";
import { AlertOutboxRepo } from "../infra/db/repos/alert-outbox.js";
import { HealthReaders } from "../infra/db/repos/health-readers.js";
import { IncidentsRepo } from "../infra/db/repos/incidents.js";
import { MutesRepo } from "../infra/db/repos/mutes.js";
import type { Logger } from "../infra/logger.js";
import { systemClock, type Clock, type DockerApi, type Notifier, type RemoteShell } from "../shared/ports.js";
import { backupAge, diskUsage, httpFromBot, httpFromTarget, payoutsPaused, reachability, type CheckContext, type PolledCheck } from "./checks.js";
import { OutboxDispatcher } from "./dispatcher.js";
import { DockerMonitor } from "./docker-monitor.js";
import { ExpectedChangeRegistry, type ExpectedChanges } from "./expected-changes.js";
import type { BackupAges, IncidentStore, OutboxStore, PayoutsStates } from "./ports.js";
import { CheckScheduler } from "./scheduler.js";
import { drillHealth, lastBackupFailed, type RecoveryStates } from "./recovery-checks.js";
import { DrizzleBackupsRepo } from "../infra/db/repos/backups.js";
import { HealthService, type AlertsControl } from "./service.js";

export type { ExpectedChange, ExpectedChanges } from "./expected-changes.js";
export type { AlertActionResult, AlertsControl } from "./service.js";
export type { Incident, IncidentKey } from "./types.js";

/** One target as the monitors see it (the pieces createTargetConnections returns, plus its health config). */
export interface HealthTarget {
  shell: RemoteShell;
  docker: DockerApi;
  /** Compose project name (the `com.docker.compose.project` label). */
  project: string;
  config: TargetConfig["health"];
  /** Backups configured: the last-backup alert; with `drill`, the drill alerts too. */
  backup?: { drill: boolean; drillMaxAgeDays: number } | undefined;
}

/** Knobs with production defaults; tests shorten them. */
export interface HealthTuning {
  /** How long a new alert waits for others to join it in one message. Default 400 ms. */
  coalesceMs?: number;
  /** Reminder for an open, unacked, unmuted incident (payouts use their own interval). Default 1 h; null = never. */
  remindEveryMs?: number | null;
  /** Mute expiry and reminder resolution. Default 1 s. */
  tickMs?: number;
  /** A start is believed after this long. Default 1 s. */
  dockerSettleMs?: number;
  /** Re-listing of containers (recovery of known-down services, missed deaths). Default 15 s. */
  dockerRecheckMs?: number;
  backupCheckIntervalMs?: number;
  payoutsCheckIntervalMs?: number;
  /** The outbox is read at least this often. Default 5 s. */
  outboxPollMs?: number;
  /** Delivered outbox rows older than this are deleted (hourly). Default 7 days. */
  outboxKeepMs?: number;
}

export interface StartHealthOptions {
  db: Db;
  notifier: Notifier;
  targets: Record<string, HealthTarget>;
  /** Every alert goes to each of these chats (one message per incident per chat). */
  alertChatIds: readonly number[];
  log: Logger;
  clock?: Clock;
  /** Latest successful backup per target; default: the backups table of `db`. */
  backups?: BackupAges;
  /** Last backup attempt and drills per target; default: the backups tables of `db`. */
  recovery?: RecoveryStates;
  /** Payouts state per target; default: the payouts_state table of `db`. */
  payouts?: PayoutsStates;
  tuning?: HealthTuning;
}

export interface HealthHandle {
  /** For deploy/scale/rollback: containers we change ourselves raise no alert. */
  expected: ExpectedChanges;
  /** For the alerts feature: /alerts, Ack, Mute. */
  alerts: AlertsControl;
  /** Stops monitors, lets queued work settle (bounded), stops the dispatcher. Idempotent. */
  stop(): Promise<void>;
}

const STOP_WAIT_MS = 5_000;

/** Starts health monitoring for every target. Resolves once open incidents are loaded and everything runs. */
export async function startHealth(options: StartHealthOptions): Promise<HealthHandle> {
  const clock = options.clock ?? systemClock;
  const log = options.log;
  const t = options.tuning ?? {};
  const remindEveryMs = t.remindEveryMs === undefined ? 3_600_000 : t.remindEveryMs;
  const incidentsRepo = new IncidentsRepo(options.db);
  const outboxRepo = new AlertOutboxRepo(options.db);
  const mutesRepo = new MutesRepo(options.db);
  const readers = new HealthReaders(options.db);

  const incidentStore: IncidentStore = {
    loadUnresolved: () => incidentsRepo.loadUnresolved(),
    loadMutes: (now) => mutesRepo.loadMutes(now),
    saveIncident: (incident, outbox, at) => incidentsRepo.saveIncident(incident, outbox, at),
    saveMute: (mute) => mutesRepo.saveMute(mute),
    incidentsByIds: (ids) => incidentsRepo.incidentsByIds(ids),
    incidentsOnMessage: (m) => incidentsRepo.incidentsOnMessage(m),
  };
  const outboxStore: OutboxStore = {
    pending: (limit) => outboxRepo.pending(limit),
    delivered: (ids, at, message, attachTo) => outboxRepo.delivered(ids, at, message, attachTo),
    retryLater: (ids, next, error) => outboxRepo.retryLater(ids, next, error),
    giveUp: (ids, at, error) => outboxRepo.giveUp(ids, at, error),
    incidentsByIds: (ids) => incidentsRepo.incidentsByIds(ids),
    incidentsOnMessage: (m) => incidentsRepo.incidentsOnMessage(m),
    loadMutes: (now) => mutesRepo.loadMutes(now),
  };

  if (options.alertChatIds.length === 0) log.warn("no alert chats configured: incidents are recorded but not sent");

  const dispatcher = new OutboxDispatcher({
    store: outboxStore,
    notifier: options.notifier,
    clock,
    log: log.child({ module: "alert-outbox" }),
    coalesceMs: t.coalesceMs ?? 400,
    ...(t.outboxPollMs !== undefined ? { pollMs: t.outboxPollMs } : {}),
  });
  const service = new HealthService({ store: incidentStore, clock, log, alertChatIds: options.alertChatIds, onQueued: () => dispatcher.wake() });
  await service.load();
  const expected = new ExpectedChangeRegistry(clock);
  const submit = (signal: Parameters<HealthService["submit"]>[0]) => service.submit(signal);

  const monitors: DockerMonitor[] = [];
  const checks: PolledCheck[] = [];
  for (const [name, target] of Object.entries(options.targets)) {
    const cfg = target.config;
    const targetLog = log.child({ target: name });
    monitors.push(
      new DockerMonitor({
        target: name,
        project: target.project,
        docker: target.docker,
        expected,
        clock,
        log: targetLog.child({ module: "docker-monitor" }),
        emit: (s) => void submit(s),
        openServices: () =>
          service
            .openIncidents()
            .filter((i) => i.key.target === name && i.key.source === "docker")
            .map((i) => i.key.subject),
        restartLoopCount: cfg.restartLoopCount,
        restartLoopWindowMs: cfg.restartLoopWindowSeconds * 1000,
        remindEveryMs,
        ...(t.dockerSettleMs !== undefined ? { settleMs: t.dockerSettleMs } : {}),
        ...(t.dockerRecheckMs !== undefined ? { recheckMs: t.dockerRecheckMs } : {}),
      }),
    );
    const ctx: CheckContext = { target: name, clock, isTargetChanging: () => expected.isTargetChanging(name) };
    for (const http of cfg.http) {
      checks.push(http.from === "bot" ? httpFromBot(ctx, http, remindEveryMs) : httpFromTarget(ctx, target.shell, http, remindEveryMs));
    }
    if (cfg.disk) checks.push(diskUsage(ctx, target.shell, cfg.disk, remindEveryMs));
    checks.push(reachability(ctx, target.shell, cfg.reachabilityIntervalSeconds, remindEveryMs));
    if (cfg.backupMaxAgeHours !== undefined) {
      checks.push(backupAge(ctx, options.backups ?? readers, cfg.backupMaxAgeHours, t.backupCheckIntervalMs ?? 300_000, remindEveryMs));
    }
    if (target.backup) {
      const recovery = options.recovery ?? new DrizzleBackupsRepo(options.db);
      checks.push(lastBackupFailed(ctx, recovery, t.backupCheckIntervalMs ?? 60_000, remindEveryMs));
      if (target.backup.drill) checks.push(drillHealth(ctx, recovery, target.backup.drillMaxAgeDays, t.backupCheckIntervalMs ?? 300_000, remindEveryMs));
    }
    if (cfg.payoutsPausedReminderMinutes !== undefined) {
      checks.push(payoutsPaused(ctx, options.payouts ?? readers, cfg.payoutsPausedReminderMinutes, t.payoutsCheckIntervalMs ?? 60_000));
    }
  }
  const scheduler = new CheckScheduler(checks, submit, clock, log.child({ module: "health-checks" }));

  dispatcher.start();
  for (const m of monitors) m.start();
  scheduler.start();
  const tick = setInterval(() => void service.tick(), t.tickMs ?? 1_000);
  const prune = setInterval(() => {
    outboxRepo
      .pruneDelivered(new Date(clock.now().getTime() - (t.outboxKeepMs ?? 7 * 86_400_000)))
      .catch((err: unknown) => log.warn({ err }, "pruning the alert outbox failed"));
  }, 3_600_000);
  prune.unref();
  log.info({ targets: Object.keys(options.targets), checks: checks.length, open: service.openIncidents().length }, "health monitoring started");

  let stopping: Promise<void> | null = null;
  return {
    expected,
    alerts: service,
    stop() {
      stopping ??= (async () => {
        clearInterval(tick);
        clearInterval(prune);
        for (const m of monitors) m.stop();
        await scheduler.stop();
        await service.idle();
        // A send stuck in a long retry_after must not hold up shutdown; its item stays queued.
        await Promise.race([dispatcher.stop(), new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref())]);
      })();
      return stopping;
    },
  };
}
