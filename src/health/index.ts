/**
 * Health alerts: monitors → incidents → a durable outbox → the alert chats.
 *
 * health/ is not a composition root: app.ts builds the adapters and hands them over as ports
 * (stores over the database, the Notifier, the renderer from bot/, each target's shell and Docker).
 *
 * What runs: per target, the Docker event stream of its compose project (die/oom/unhealthy/restart
 * loops, alert within ~0.5 s), its HTTP checks (from the target over the RemoteShell, or from the
 * bot), disk usage, SSH reachability, backup age and the payouts-paused reminder when configured,
 * the app's own Telegram webhook (getWebhookInfo) and its TLS certificates (expiry, chain, name);
 * an engine applying thresholds, acks and mutes; and the outbox dispatcher, which coalesces bursts
 * and delivers oldest first with retries (an alert waits out a Telegram outage and a restart).
 */
import type { TargetConfig } from "../config/file.js";
import type { Logger } from "../infra/logger.js";
import { systemClock, type Clock, type DockerApi, type Notifier, type RemoteShell } from "../shared/ports.js";
import { backupAge, diskUsage, httpFromBot, httpFromTarget, payoutsPaused, reachability, type CheckContext, type PolledCheck } from "./checks.js";
import { OutboxDispatcher } from "./dispatcher.js";
import { DockerMonitor } from "./docker-monitor.js";
import { ExpectedChangeRegistry, type ExpectedChanges } from "./expected-changes.js";
import type { AlertRenderer, BackupAges, HealthStores, PayoutsStates, TlsProbe, WebhookInfoSource } from "./ports.js";
import { CheckScheduler } from "./scheduler.js";
import { drillHealth, lastBackupFailed, type RecoveryStates } from "./recovery-checks.js";
import { HealthService, type AlertsControl } from "./service.js";
import { every } from "./timers.js";
import { tlsCheck } from "./tls-monitor.js";
import { webhookCheck } from "./webhook-monitor.js";

export type { ExpectedChange, ExpectedChanges } from "./expected-changes.js";
export type { AlertActionResult, AlertsControl } from "./service.js";
export type { Incident, IncidentKey } from "./types.js";

/** One target as the monitors see it (the pieces createTargetConnections returns, plus its health config). */
export interface HealthTarget {
  shell: RemoteShell;
  docker: DockerApi;
  /** Compose project name (the `com.docker.compose.project` label). */
  project: string;
  /** Services configured in opsgram.yml (an HTTP check of the same name watches that service). */
  services?: readonly string[];
  config: TargetConfig["health"];
  /** getWebhookInfo for the app's own bot (its token bound in); needed when `config.telegramWebhook` is set. */
  webhook?: WebhookInfoSource;
  /** Backups configured: the last-backup alert; with `drill`, the drill alerts too. */
  backup?: { drill: boolean; drillMaxAgeDays: number } | undefined;
}

/** Knobs with production defaults; tests shorten them. */
export interface HealthTuning {
  /** How long a new alert waits for others to join it in one message. Default 400 ms. */
  coalesceMs?: number;
  /** Overrides every target's `reminderMinutes` (payouts use their own interval); null = never. */
  remindEveryMs?: number | null;
  /** A flapping incident resolves after this long without a failure. Default 15 min. */
  flappingQuietMs?: number;
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
  /** Overrides `telegramWebhook.intervalSeconds` (tests). */
  webhookIntervalMs?: number;
  /** Overrides every `tls[].intervalSeconds` (tests). */
  tlsIntervalMs?: number;
}

export interface StartHealthOptions {
  stores: HealthStores;
  /** Latest successful backup per target. */
  backups: BackupAges;
  /** Payouts state per target. */
  payouts: PayoutsStates;
  render: AlertRenderer;
  notifier: Notifier;
  /** Reads certificates for `health.tls` (infra/tls/probe.ts); needed when any target has `tls` checks. */
  tlsProbe?: TlsProbe;
  targets: Record<string, HealthTarget>;
  /** Every alert goes to each of these chats (one message per incident per chat). */
  alertChatIds: readonly number[];
  log: Logger;
  clock?: Clock;
  /** Last backup attempt and drills per target (the backups repo satisfies it); needed for targets with `backup`. */
  recovery?: RecoveryStates;
  tuning?: HealthTuning;
}

export interface HealthHandle {
  /** For deploy/scale/rollback: containers we change ourselves raise no alert. */
  expected: ExpectedChanges;
  /** For the alerts feature: /alerts, Ack, Mute. */
  alerts: AlertsControl;
  /**
   * Queues an HTML message through the durable alert outbox (retried until delivered, a 429
   * included) to `chatIds`, or to the alert chats when null. For what must not be lost: an
   * operation's final outcome, a target left frozen.
   */
  notice(chatIds: readonly number[] | null, html: string): Promise<void>;
  /** Stops monitors, lets queued work settle (bounded), stops the dispatcher. Idempotent. */
  stop(): Promise<void>;
}

const STOP_WAIT_MS = 5_000;

/** Starts health monitoring for every target. Resolves once open incidents are loaded and everything runs. */
export async function startHealth(options: StartHealthOptions): Promise<HealthHandle> {
  const clock = options.clock ?? systemClock;
  const log = options.log;
  const t = options.tuning ?? {};
  const remindFor = (cfg: TargetConfig["health"]): number | null =>
    t.remindEveryMs !== undefined ? t.remindEveryMs : cfg.reminderMinutes > 0 ? cfg.reminderMinutes * 60_000 : null;
  const services = new Map<string, Set<string>>();
  const maxOpensByTarget: Record<string, number> = {};
  for (const [name, target] of Object.entries(options.targets)) {
    services.set(name, new Set([...(target.services ?? []), ...target.config.http.flatMap((h) => (h.service ? [h.service] : []))]));
    maxOpensByTarget[name] = target.config.flappingOpensPerHour;
  }
  const { incidents, mutes, outbox } = options.stores;

  if (options.alertChatIds.length === 0) log.warn("no alert chats configured: incidents are recorded but not sent");

  const dispatcher = new OutboxDispatcher({
    outbox,
    incidents,
    mutes,
    render: options.render,
    notifier: options.notifier,
    clock,
    log: log.child({ module: "alert-outbox" }),
    coalesceMs: t.coalesceMs ?? 400,
    ...(t.outboxPollMs !== undefined ? { pollMs: t.outboxPollMs } : {}),
  });
  const service = new HealthService({
    store: incidents,
    mutes,
    render: options.render,
    services,
    flapping: { maxOpens: 4, maxOpensByTarget, windowMs: 3_600_000, quietMs: t.flappingQuietMs ?? 900_000 },
    clock,
    log,
    alertChatIds: options.alertChatIds,
    onQueued: () => dispatcher.wake(),
  });
  await service.load();
  const expected = new ExpectedChangeRegistry(clock);
  const submit = (signal: Parameters<HealthService["submit"]>[0]) => service.submit(signal);

  const monitors: DockerMonitor[] = [];
  const checks: PolledCheck[] = [];
  for (const [name, target] of Object.entries(options.targets)) {
    const cfg = target.config;
    const targetLog = log.child({ target: name });
    const remindEveryMs = remindFor(cfg);
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
            .filter((i) => i.key.target === name && i.key.source === "service")
            .map((i) => i.key.subject),
        restartLoopCount: cfg.restartLoopCount,
        restartLoopWindowMs: cfg.restartLoopWindowSeconds * 1000,
        remindEveryMs,
        ...(t.dockerSettleMs !== undefined ? { settleMs: t.dockerSettleMs } : {}),
        ...(t.dockerRecheckMs !== undefined ? { recheckMs: t.dockerRecheckMs } : {}),
      }),
    );
    const ctx: CheckContext = { target: name, clock, isTargetChanging: () => expected.isTargetChanging(name), services: new Set(target.services ?? []) };
    for (const http of cfg.http) {
      checks.push(http.from === "bot" ? httpFromBot(ctx, http, remindEveryMs) : httpFromTarget(ctx, target.shell, http, remindEveryMs));
    }
    if (cfg.disk) checks.push(diskUsage(ctx, target.shell, cfg.disk, remindEveryMs));
    checks.push(reachability(ctx, target.shell, cfg.reachabilityIntervalSeconds, remindEveryMs));
    if (cfg.backupMaxAgeHours !== undefined) {
      checks.push(backupAge(ctx, options.backups, cfg.backupMaxAgeHours, t.backupCheckIntervalMs ?? 300_000, remindEveryMs));
    }
    const recovery = options.recovery;
    if (target.backup && !recovery) targetLog.warn("backup is configured but no backup reader was given: last-backup and drill alerts are off");
    if (target.backup && recovery) {
      checks.push(lastBackupFailed(ctx, recovery, t.backupCheckIntervalMs ?? 60_000, remindEveryMs));
      if (target.backup.drill) checks.push(drillHealth(ctx, recovery, target.backup.drillMaxAgeDays, t.backupCheckIntervalMs ?? 300_000, remindEveryMs));
    }
    if (cfg.payoutsPausedReminderMinutes !== undefined) {
      checks.push(payoutsPaused(ctx, options.payouts, cfg.payoutsPausedReminderMinutes, t.payoutsCheckIntervalMs ?? 60_000));
    }
    if (cfg.telegramWebhook) {
      if (target.webhook) checks.push(webhookCheck(ctx, target.webhook, cfg.telegramWebhook, remindEveryMs, t.webhookIntervalMs));
      else targetLog.warn("health.telegramWebhook is configured but no Bot API client was given: not checked");
    }
    const tlsProbe = options.tlsProbe;
    if (tlsProbe) for (const tls of cfg.tls) checks.push(tlsCheck(ctx, tlsProbe, tls, remindEveryMs, t.tlsIntervalMs));
    else if (cfg.tls.length > 0) targetLog.warn("health.tls is configured but no TLS probe was given: not checked");
  }
  const scheduler = new CheckScheduler(checks, submit, clock, log.child({ module: "health-checks" }));

  dispatcher.start();
  for (const m of monitors) m.start();
  scheduler.start();
  const stopTick = every(clock, t.tickMs ?? 1_000, () => void service.tick());
  const stopPrune = every(clock, 3_600_000, () => {
    outbox
      .pruneDelivered(new Date(clock.now().getTime() - (t.outboxKeepMs ?? 7 * 86_400_000)))
      .catch((err: unknown) => log.warn({ err }, "pruning the alert outbox failed"));
  });
  log.info({ targets: Object.keys(options.targets), checks: checks.length, open: service.openIncidents().length }, "health monitoring started");

  let stopping: Promise<void> | null = null;
  return {
    expected,
    alerts: service,
    async notice(chatIds, html) {
      if (!outbox.enqueue) throw new Error("this outbox store cannot queue notices");
      const to = chatIds ?? options.alertChatIds;
      await outbox.enqueue(to.map((chatId) => ({ chatId, kind: "notice" as const, text: html })));
      dispatcher.wake();
    },
    stop() {
      stopping ??= (async () => {
        stopTick();
        stopPrune();
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
