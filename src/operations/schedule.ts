import { Cron } from "croner";
import type { Actor, Clock, Notifier } from "../shared/ports.js";
import { systemClock } from "../shared/ports.js";
import type { OperationsConfig } from "./context.js";
import type { RequestResult } from "./approvals.js";
import type { OpsLogger } from "./model.js";
import type { TargetRequest } from "./requests.js";

/** What the schedule starts: the same requests as /backup and /backup drill. */
export interface ScheduledPort {
  service: { backup(actor: Actor, request: TargetRequest): Promise<RequestResult> };
  restore: { drill(actor: Actor, request: TargetRequest): Promise<RequestResult> };
}

export interface BackupSchedulesOptions {
  operations: ScheduledPort;
  config: OperationsConfig;
  /** Where a busy target is announced and where the run's message goes (the first alert chat). */
  notifier: Notifier;
  alertChatIds: readonly number[];
  log: OpsLogger;
  clock?: Clock;
  /** How often a schedule that found its target busy asks again. Default 30 s. */
  retryMs?: number;
}

export type ScheduledKind = "backup" | "drill";

/** Who a scheduled run is in the audit log: user id 0, named "opsgram (schedule)". */
export function scheduleActor(chatId: number): Actor {
  return { chatId, userId: 0, username: "opsgram (schedule)" };
}

interface Job {
  target: string;
  kind: ScheduledKind;
  cron: Cron;
}

/**
 * backup.schedule and backup.drillSchedule (cron, UTC). A scheduled run is an ordinary operation:
 * it takes the lock, is audited as opsgram (schedule), counts for backupMaxAgeHours, and a failure
 * shows as the last-backup alert. A busy target is not skipped: the schedule says so and asks again
 * until the lock frees (or the next slot comes). croner only computes the times; waiting goes
 * through the Clock, so tests drive it without real minutes.
 */
export class BackupSchedules {
  private readonly jobs: Job[] = [];
  private readonly clock: Clock;
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(private readonly options: BackupSchedulesOptions) {
    this.clock = options.clock ?? systemClock;
    for (const [target, cfg] of Object.entries(options.config.targets)) {
      const b = cfg.backup;
      if (b?.schedule) this.jobs.push({ target, kind: "backup", cron: new Cron(b.schedule, { timezone: "UTC", paused: true }) });
      if (b?.drillSchedule && b.drill) this.jobs.push({ target, kind: "drill", cron: new Cron(b.drillSchedule, { timezone: "UTC", paused: true }) });
    }
  }

  get size(): number {
    return this.jobs.length;
  }

  /** The next time each job fires after `from`, for tests and logs. */
  nextRuns(from: Date = this.clock.now()): { target: string; kind: ScheduledKind; at: Date | null }[] {
    return this.jobs.map((j) => ({ target: j.target, kind: j.kind, at: j.cron.nextRun(from) }));
  }

  start(): void {
    this.loops = this.jobs.map((job) => this.loop(job));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    for (const j of this.jobs) j.cron.stop();
    await Promise.allSettled(this.loops);
  }

  private async loop(job: Job): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const now = this.clock.now();
      const next = job.cron.nextRun(now);
      if (!next) return;
      try {
        await this.clock.sleep(next.getTime() - now.getTime(), signal);
        await this.fire(job.target, job.kind, job.cron.nextRun(next));
      } catch (err) {
        if (signal.aborted) return;
        this.options.log.error({ err, target: job.target, kind: job.kind }, "scheduled run failed to start");
      }
    }
  }

  /**
   * One scheduled run. Busy: tells the alert chat once, then retries every `retryMs` until the
   * lock frees or `until` (the next slot) passes. Resolves when the run has started and ended.
   */
  async fire(target: string, kind: ScheduledKind, until: Date | null = null): Promise<RequestResult> {
    const { operations, notifier, alertChatIds, log } = this.options;
    const chatId = alertChatIds[0] ?? 0;
    const actor = scheduleActor(chatId);
    const request: TargetRequest = { target, input: [`(${kind} schedule)`] };
    const what = kind === "backup" ? "scheduled backup" : "scheduled drill";
    let told = false;
    for (;;) {
      const result = kind === "backup" ? await operations.service.backup(actor, request) : await operations.restore.drill(actor, request);
      if (result.status === "started") {
        await result.done.catch((err: unknown) => log.error({ err, target }, `${what} crashed`));
        return result;
      }
      if (result.status !== "busy") {
        if (result.status === "refused") log.warn({ target, reason: result.reason }, `${what} refused`);
        return result;
      }
      if (!told && chatId !== 0) {
        told = true;
        const holder = `${result.lock.kind}${result.lock.reason ? `: ${result.lock.reason}` : ""}`;
        await notifier.send(chatId, `⏳ ${what} of ${target} waits: the target is busy (${holder}). It runs as soon as the lock frees.`).catch(() => undefined);
      }
      const retryMs = this.options.retryMs ?? 30_000;
      if (until && this.clock.now().getTime() + retryMs >= until.getTime()) {
        log.warn({ target }, `${what} gave up waiting: the next slot is due`);
        return result;
      }
      await this.clock.sleep(retryMs, this.abort.signal);
    }
  }
}

export function startBackupSchedules(options: BackupSchedulesOptions): BackupSchedules {
  const schedules = new BackupSchedules(options);
  schedules.start();
  if (schedules.size > 0) options.log.info?.({ jobs: schedules.nextRuns().map((j) => `${j.target} ${j.kind} ${j.at?.toISOString() ?? "never"}`) }, "backup schedules");
  return schedules;
}
