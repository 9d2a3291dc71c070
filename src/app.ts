import { join } from "node:path";
import { run, type RunnerHandle } from "@grammyjs/runner";
import { Api, GrammyError, HttpError } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import { ensurePrivateDir } from "./config/file-permissions.js";
import type { Config } from "./config/load.js";
import { createBot, commandList } from "./bot/bot.js";
import type { BotFeature } from "./bot/context.js";
import { alertRenderer } from "./bot/alerts/render.js";
import { createAlertsFeature } from "./bot/handlers/alerts.js";
import { createAuditFeature } from "./bot/handlers/audit.js";
import { createMutesFeature } from "./bot/handlers/mutes.js";
import { createOperationsFeature } from "./bot/handlers/operations.js";
import { createRollbackPickerFeature } from "./bot/handlers/rollback-picker.js";
import { FLOW_EXPIRED_TEXT, chatOfFlowKey, createRestoreFeature } from "./bot/conversations/restore.js";
import { PostgresConversationStorage } from "./infra/db/conversation-storage.js";
import { startBackupSchedules } from "./operations/schedule.js";
import { createStatusFeature } from "./bot/handlers/status.js";
import { ChatOperations } from "./bot/operations/chat-commands.js";
import { ChatReporter } from "./bot/operations/chat-reporter.js";
import { startHealth, type HealthTarget } from "./health/index.js";
import { createHealthStores, HealthReaders } from "./infra/db/repos/health-readers.js";
import { DrizzleBackupsRepo } from "./infra/db/repos/backups.js";
import { createOperationRepositories } from "./infra/db/repos/operations.js";
import { createTargetConnections, type TargetConnections } from "./infra/targets.js";
import { BotApiWebhookInfo, TelegramNotifier, configureApi } from "./infra/telegram/index.js";
import { NodeTlsProbe } from "./infra/tls/probe.js";
import { createOperations, type TargetPorts } from "./operations/index.js";
import { systemClock } from "./shared/ports.js";
import { AuditDigests, scheduleDaily } from "./infra/db/audit-digests.js";
import { PostgresAuditLog } from "./infra/db/audit-log.js";
import { DatabaseRoleError, migrateAsOwner } from "./infra/db/roles.js";
import { openDatabase, type DatabaseHandle } from "./infra/db/client.js";
import { migrate } from "./infra/db/migrate.js";
import { ProcessedUpdates } from "./infra/db/processed-updates.js";
import { redactText, type Logger } from "./infra/logger.js";
import { SetupError } from "./startup-error.js";
import { becomeLeader, lockDataDir, withDirLock } from "./leadership.js";
import { AUDIT_JOURNAL_FILE, AuditJournal, JournaledAuditLog, PostgresJournalReplayStore } from "./infra/journal/index.js";

export interface RunningApp {
  stop(): Promise<void>;
}

export interface StartAppOptions {
  /**
   * Called when update polling stops for good (Telegram answered 401 or 409: the token was
   * revoked, or another process polls with it). main.ts stops the app and exits non-zero.
   */
  onFatal(err: Error): void;
  /**
   * Aborts a start that is still waiting (a standby waiting for leadership): startApp then closes
   * what it opened and rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

/** Seconds before a Bot API call is abandoned; long polling waits up to 30 s, so more than that. */
const BOT_API_TIMEOUT_SECONDS = 45;
/** The notifier's calls are short; a hung connection must not stall a chat's queue for long. */
const NOTIFIER_API_TIMEOUT_SECONDS = 30;

const EXAMPLE_CONFIG = "deploy/opsgram.example.yml";

async function openMigratedDatabase(config: Config, log: Logger): Promise<DatabaseHandle> {
  let handle: DatabaseHandle;
  const { databaseUrl, databaseOwnerUrl } = config.env;
  if (databaseOwnerUrl && !databaseUrl) throw new SetupError(["DATABASE_OWNER_URL: needs DATABASE_URL (the bot's own role) as well"]);
  if (!databaseUrl) {
    log.info({ dataDir: config.env.dataDir }, "no DATABASE_URL: starting the embedded Postgres under DATA_DIR");
    ensurePrivateDir(config.env.dataDir); // the database files are for the bot's user only
  }
  // The embedded database is single-process: take DATA_DIR before opening it (see data-dir-lock.ts).
  const dirLock = databaseUrl ? undefined : lockDataDir(config.env.dataDir);
  try {
    handle = await openDatabase({ url: databaseUrl, dataDir: config.env.dataDir, log });
  } catch (err) {
    dirLock?.release();
    throw new SetupError([`database: cannot open (${(err as Error).message})`]);
  }
  if (dirLock) handle = withDirLock(handle, dirLock);
  try {
    if (databaseOwnerUrl) await migrateAsOwner(handle, databaseOwnerUrl);
    else await migrate(handle);
  } catch (err) {
    await handle.close().catch(() => {});
    if (err instanceof DatabaseRoleError) throw new SetupError([err.message]);
    throw new SetupError([`database: ${(err as Error).message}`]);
  }
  if (!databaseOwnerUrl) {
    log.info("DATABASE_OWNER_URL is not set: the bot's own database role owns audit_events and could rewrite it (see README, audit log)");
  }
  log.info({ kind: handle.kind, separateOwner: Boolean(databaseOwnerUrl) }, "database ready");
  return handle;
}

/** What health needs of a target's backup settings: the last-backup alert, and drills when configured. */
function backupOf(backup: Config["ops"]["targets"][string]["backup"]): { drill: boolean; drillMaxAgeDays: number } | undefined {
  return backup ? { drill: backup.drill !== undefined, drillMaxAgeDays: backup.drillMaxAgeDays } : undefined;
}

/** Turns a getMe failure into a sentence the operator can act on. */
function tokenProblem(err: unknown): SetupError {
  if (err instanceof GrammyError && err.error_code === 401) {
    return new SetupError(["TELEGRAM_BOT_TOKEN: rejected by Telegram (401 Unauthorized): check the token with @BotFather"]);
  }
  if (err instanceof HttpError) return new SetupError([`TELEGRAM_API_ROOT: cannot reach the Bot API (${err.message})`]);
  return new SetupError([`Telegram getMe failed: ${(err as Error).message}`]);
}

const GET_ME_TIMEOUT_MS = 20_000;

/** Asks Telegram who we are, once, without retries: a wrong token or API root fails fast. */
async function getMe(config: Config): Promise<UserFromGetMe> {
  const api = new Api(config.env.telegramBotToken, config.env.telegramApiRoot ? { apiRoot: config.env.telegramApiRoot } : undefined);
  // grammY types its signal with the abort-controller polyfill; the platform one is compatible.
  return api.getMe(AbortSignal.timeout(GET_ME_TIMEOUT_MS) as Parameters<typeof api.getMe>[0]);
}

/** `--check`: env and config already passed; now the database and the token. */
export async function checkSetup(config: Config, log: Logger): Promise<string[]> {
  const problems: string[] = [];
  const lines: string[] = [];
  try {
    const handle = await openMigratedDatabase(config, log);
    lines.push(`database: ok (${handle.kind})`);
    await handle.close();
  } catch (err) {
    problems.push(...(err instanceof SetupError ? err.problems : [String(err)]));
  }
  try {
    const me = await getMe(config);
    lines.push(`telegram: ok (@${me.username})`);
  } catch (err) {
    problems.push(...tokenProblem(err).problems);
  }
  if (problems.length > 0) throw new SetupError(problems);
  const targets = Object.keys(config.ops.targets);
  lines.push(targets.length > 0 ? `targets: ${targets.join(", ")}` : `targets: none configured (see ${EXAMPLE_CONFIG})`);
  return ["opsgram: setup ok", ...lines];
}

/**
 * Composition root: database → audit → targets (SSH/local shells, Docker) → operations and health
 * → bot features → long polling. Stopping runs the same chain backwards.
 */
export async function startApp(config: Config, log: Logger, options: StartAppOptions): Promise<RunningApp> {
  if (!config.opsFileFound || Object.keys(config.ops.targets).length === 0) {
    log.warn(`no targets configured: copy ${EXAMPLE_CONFIG} to ${config.env.configPath} and edit it`);
  }
  const database = await openMigratedDatabase(config, log);
  const audit = new PostgresAuditLog(database.db, config.env.auditHmacKey ? { hmacKey: config.env.auditHmacKey } : {});
  const processedUpdates = new ProcessedUpdates(database.db);
  let botInfo: UserFromGetMe;
  try {
    botInfo = await getMe(config);
  } catch (err) {
    await database.close();
    throw tokenProblem(err);
  }
  // Everything below mutates (recovery, monitors, outbox, polling): leaders only.
  const leadership = await becomeLeader({ url: config.env.databaseUrl, database, log, signal: options.signal, onLost: (err) => options.onFatal(err) });
  // Audit events the kill switch wrote to the local journal during an outage go in first, in order.
  const journaled = new JournaledAuditLog({
    inner: audit,
    journal: new AuditJournal(config.env.auditJournalPath ?? join(config.env.dataDir, AUDIT_JOURNAL_FILE)),
    store: new PostgresJournalReplayStore(database.db),
    clock: systemClock,
    log: log.child({ module: "audit-journal" }),
  });
  journaled.start();

  // Nothing connects yet: each target's SSH connection opens on first use, so a target that is
  // down does not stop the bot from starting (it shows as unreachable in /status and alerts).
  const connections = new Map<string, TargetConnections>();
  for (const [name, target] of Object.entries(config.ops.targets)) connections.set(name, createTargetConnections(name, target, log));
  const targetPorts: Record<string, TargetPorts> = {};
  const healthTargets: Record<string, HealthTarget> = {};
  for (const [name, c] of connections) {
    targetPorts[name] = { shell: c.shell, docker: c.docker };
    const healthConfig = config.ops.targets[name]!.health;
    healthTargets[name] = { shell: c.shell, docker: c.docker, project: c.project, services: Object.keys(config.ops.targets[name]!.services), config: healthConfig, backup: backupOf(config.ops.targets[name]!.backup) };
    const webhook = healthConfig.telegramWebhook;
    // The app bot's token: the config loader already refused a start without it. Asked of opsgram's
    // own Bot API root, so a local Bot API server (or the test emulator) answers for every bot.
    const appToken = webhook ? process.env[webhook.tokenEnv] : undefined;
    if (appToken) healthTargets[name].webhook = new BotApiWebhookInfo({ token: appToken, apiRoot: config.env.telegramApiRoot });
  }

  // Operations and alerts talk to Telegram through their own Api with bounded, paced retries;
  // they never depend on the chat being up.
  const notifierApi = new Api(config.env.telegramBotToken, {
    timeoutSeconds: NOTIFIER_API_TIMEOUT_SECONDS,
    ...(config.env.telegramApiRoot ? { apiRoot: config.env.telegramApiRoot } : {}),
  });
  const notifier = new TelegramNotifier(notifierApi, { log: log.child({ module: "notifier" }) });
  const repos = createOperationRepositories(database.db);
  const healthReaders = new HealthReaders(database.db);
  const health = await startHealth({
    stores: createHealthStores(database.db),
    backups: healthReaders,
    payouts: healthReaders,
    recovery: new DrizzleBackupsRepo(database.db),
    render: alertRenderer,
    notifier,
    tlsProbe: new NodeTlsProbe(),
    targets: healthTargets,
    alertChatIds: config.env.alertChatIds,
    log: log.child({ module: "health" }),
  });
  // A leader that lost its lock stops monitoring and alerting at once (the orderly stop that
  // follows may wait for running operations); the new leader has taken over.
  leadership.onLost(() => void health.stop().catch((err: unknown) => log.warn({ err }, "stopping health after losing leadership failed")));
  const operations = createOperations({
    repos,
    audit: journaled,
    // Final results whose edit failed, and frozen targets, go through the durable alert outbox.
    reporter: new ChatReporter(notifier, systemClock, log.child({ module: "operations" }), {
      notice: (chatIds, html) => health.notice(chatIds, html),
      alertChatIds: config.env.alertChatIds,
    }),
    targets: targetPorts,
    config: config.ops,
    clock: systemClock,
    log: log.child({ module: "operations" }),
    redact: redactText,
    expected: health.expected,
  });
  const digests = new AuditDigests({ db: database.db, audit, notifier, chatIds: config.env.alertChatIds, log: log.child({ module: "audit" }) });
  const chat = new ChatOperations(operations.service, operations.status, operations.targetNames, operations.restore);
  // /restore's flow state lives in Postgres; flows idle past the confirm timeout are ended with a message.
  const flowStorage = new PostgresConversationStorage(database.db, config.ops.confirmTimeoutSeconds * 1000);
  const features: BotFeature[] = [
    createAuditFeature({ audit, chain: audit, digests }),
    createRestoreFeature({ restore: operations.restore, targetNames: operations.targetNames, storage: flowStorage, waitMs: config.ops.confirmTimeoutSeconds * 1000 }),
    createOperationsFeature({ chat }),
    createRollbackPickerFeature({ restore: operations.restore, chat }),
    createStatusFeature({ chat }),
    createAlertsFeature({ alerts: health.alerts, audit }),
    createMutesFeature({ alerts: health.alerts, audit }),
  ];

  const bot = createBot({
    token: config.env.telegramBotToken,
    apiRoot: config.env.telegramApiRoot,
    rules: { adminChatIds: config.env.adminChatIds, adminUserIds: config.env.adminUserIds, roles: config.ops.access.roles, commands: config.ops.access.commands },
    audit,
    processedUpdates,
    features,
    log,
    configureApi,
    botInfo,
    timeoutSeconds: BOT_API_TIMEOUT_SECONDS,
    staleCommandSeconds: config.ops.staleCommandSeconds,
  });
  try {
    await bot.api.setMyCommands(commandList(features));
  } catch (err) {
    log.warn({ err }, "setMyCommands failed; the command menu may be stale");
  }
  const recovered = await operations.start();
  if (recovered.length > 0) log.warn({ count: recovered.length }, "operations interrupted by the last shutdown were recovered");

  const pruneTimer = setInterval(() => {
    processedUpdates.prune().catch((err: unknown) => log.warn({ err }, "pruning processed_updates failed"));
  }, 3_600_000);
  pruneTimer.unref();
  const flowSweep = setInterval(() => {
    flowStorage
      .sweep()
      .then((keys) => Promise.allSettled(keys.map(chatOfFlowKey).filter((id): id is number => id !== null).map((id) => notifier.send(id, FLOW_EXPIRED_TEXT))))
      .catch((err: unknown) => log.warn({ err }, "sweeping expired chat flows failed"));
  }, 60_000);
  flowSweep.unref();
  const backupSchedules = startBackupSchedules({ operations, config: config.ops, notifier, alertChatIds: config.env.alertChatIds, log: log.child({ module: "schedule" }) });
  const dailyDigest =
    config.env.auditDigestHour === null ? null : scheduleDaily(config.env.auditDigestHour, () => digests.publish("daily", null), systemClock, log);

  const runner: RunnerHandle = run(bot, { runner: { fetch: { allowed_updates: ["message", "callback_query"] } } });
  runner.task()?.catch((err: unknown) => {
    const error = err instanceof Error ? err : new Error(String(err));
    const hint =
      err instanceof GrammyError && err.error_code === 409
        ? "another process is polling with this token (or a webhook is set): stop it"
        : err instanceof GrammyError && err.error_code === 401
          ? "Telegram no longer accepts the token: get a new one from @BotFather"
          : "update polling failed";
    log.fatal({ err: error, hint }, `stopped receiving updates: ${hint}`);
    options.onFatal(error);
  });
  log.info({ bot: bot.botInfo.username, admin_chats: config.env.adminChatIds.length, targets: [...connections.keys()] }, "opsgram started");

  return {
    async stop() {
      clearInterval(pruneTimer);
      clearInterval(flowSweep);
      await backupSchedules.stop();
      dailyDigest?.stop();
      // Stop taking updates first, then let running work settle, then close what it used.
      if (runner.isRunning()) await runner.stop();
      await operations.stop();
      journaled.stop();
      await health.stop();
      await Promise.allSettled([...connections.values()].map((c) => c.close()));
      await database.close();
      // Last: a standby must not start leading while this process still winds down.
      await leadership.release();
      log.info("stopped");
    },
  };
}
