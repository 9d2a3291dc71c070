import { ChatOperations } from "../../src/bot/operations/chat-commands.js";
import { ChatReporter } from "../../src/bot/operations/chat-reporter.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { run as runBot, type RunnerHandle } from "@grammyjs/runner";
import { Api } from "grammy";
import pino from "pino";
import { fileSchema, type OpsFile } from "../../src/config/file.js";
import { createBot } from "../../src/bot/bot.js";
import { createOperationsFeature } from "../../src/bot/handlers/operations.js";
import { createStatusFeature } from "../../src/bot/handlers/status.js";
import { PostgresAuditLog } from "../../src/infra/db/audit-log.js";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { ProcessedUpdates } from "../../src/infra/db/processed-updates.js";
import { createOperationRepositories } from "../../src/infra/db/repos/operations.js";
import { createLogger, redactText, type Logger } from "../../src/infra/logger.js";
import { configureApi, TelegramNotifier } from "../../src/infra/telegram/index.js";
import { createTargetConnections, type TargetConnections } from "../../src/infra/targets.js";
import { createOperations, type OperationRepositories, type Operations, type TargetPorts } from "../../src/operations/index.js";
import { systemClock, type ExecOptions, type ExecResult, type RemoteShell } from "../../src/shared/ports.js";
import { BotApiEmulator, type BotMessage, type MessageEdit } from "../../test/emulator/bot-api-emulator.js";
import { startSandbox, type Sandbox } from "../../test/sandbox/index.js";
import { startPostgres, type TestPostgres } from "../../test/support/postgres.js";
import type { Cleanup } from "./cleanup.js";

/**
 * The opsgram stack the VPS benchmarks (status, deploy, backup) drive, all on 127.0.0.1: a real
 * Postgres for the bot, the sandbox VPS (pinned sshd, dockerd + compose app from a git origin, the
 * app's Postgres database, Redis), and the bot itself — composed exactly as src/app.ts composes it
 * (drizzle repos, hash-chained audit log, TelegramNotifier with its production pacing, the
 * operations and status features behind the allowlist guard, @grammyjs/runner long polling) —
 * polling the Bot API emulator in this process. What is left out: the health monitors (they would
 * add background load that has nothing to do with the measured command).
 */

export const TARGET = "prod";
export const ADMIN_GROUP = { id: -1001000000777, type: "supergroup" as const, title: "ops" };
export const ONCALL = { id: 7001, username: "oncall" };

/** One command a target's shell ran, timed from the call to its result (Date ms). */
export interface TimedCall {
  /** The program and its first arguments ("git checkout --detach"), or "trusted: <first word>". */
  what: string;
  startedAt: number;
  ms: number;
  code: number | null;
}

/**
 * The target's real shell, recording how long each command took. It only observes (one clock read
 * before and after), so what it reports is what the operation waited for each command.
 */
export class TimedShell implements RemoteShell {
  constructor(
    private readonly inner: RemoteShell,
    readonly calls: TimedCall[] = [],
  ) {}
  exec(argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    return this.time(commandLabel(argv), () => this.inner.exec(argv, options));
  }
  execTrusted(line: string, options: ExecOptions): Promise<ExecResult> {
    // Only the program's name: the operator's line may carry credentials (it does here: the database URL).
    const program = line.replace(/^[\s{(]+/, "").split(/\s+/, 1)[0]!.split("/").pop();
    return this.time(`trusted: ${program}`, () => this.inner.execTrusted(line, options));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  private async time(what: string, run: () => Promise<ExecResult>): Promise<ExecResult> {
    const startedAt = Date.now();
    const t0 = performance.now();
    const result = await run();
    this.calls.push({ what, startedAt, ms: performance.now() - t0, code: result.code });
    return result;
  }
}

/** Options of git / compose / docker that take a value (skipped when looking for the subcommand). */
const TAKES_VALUE = new Set(["-c", "-C", "-p", "-f", "--project-name", "--file"]);

/** "git checkout", "docker-compose build", "pg_restore --list", "curl -s": stable across runs (no shas, paths). */
export function commandLabel(argv: readonly string[]): string {
  const [program = "?", ...rest] = argv;
  if (program === "git" || program === "docker" || program === "docker-compose") {
    for (let i = 0; i < rest.length; i++) {
      const arg = rest[i]!;
      if (TAKES_VALUE.has(arg)) i++;
      else if (!arg.startsWith("-")) return `${program} ${arg}`;
    }
  }
  const flag = rest.find((a) => a.startsWith("-") && a !== "--");
  return flag ? `${program} ${flag}` : program;
}

export interface VpsHarnessOptions {
  /** Deploy health gate poll interval (s); the baseline scripts use the same. */
  healthIntervalSeconds?: number;
  /** Backups kept on the target (older ones are pruned by opsgram). */
  backupKeep?: number;
  /** Configure backup.restore (pg_restore --clean --if-exists from stdin) for /restore benchmarks. */
  restore?: boolean;
}

export interface VpsHarness {
  sandbox: Sandbox;
  postgres: TestPostgres;
  database: DatabaseHandle;
  config: OpsFile;
  /** The target ports operations use; swapped by {@link VpsHarness.freshConnections}. */
  targets: Record<string, TargetPorts>;
  /** Every command opsgram ran on the target, timed (across connection swaps). */
  shellCalls: TimedCall[];
  connections(): TargetConnections;
  /**
   * Replaces the target's connections with new, unconnected ones (as after a bot restart) and closes
   * the old ones: the next command pays for the SSH handshake and the Docker socket forward.
   */
  freshConnections(): Promise<void>;
  ops: Operations;
  repos: OperationRepositories;
  audit: PostgresAuditLog;
  emulator: BotApiEmulator;
  runner: RunnerHandle;
  log: Logger;
  /** Where opsgram's own log lines (level info, as in production) go. */
  logPath: string;
  /** Scratch dir of this run (removed at cleanup). */
  scratch: string;
  /** The health URL of the app's web service, as the target sees it. */
  healthUrl: string;
  /** Sends a command as the on-call admin in the admin group; returns the enqueue time (Date ms). */
  command(text: string): number;
  /** The oldest bot message not yet handed out that matches (see the emulator's README). */
  waitForMessage(predicate: (m: BotMessage) => boolean, timeoutMs: number): Promise<BotMessage>;
  waitForEdit(predicate: (e: MessageEdit) => boolean, timeoutMs: number): Promise<MessageEdit>;
}

function buildConfig(sandbox: Sandbox, options: VpsHarnessOptions): OpsFile {
  const redis = `redis-cli ${sandbox.redis.cliArgs.join(" ")}`;
  return fileSchema.parse({
    targets: {
      [TARGET]: {
        host: `ssh://${sandbox.ssh.username}@${sandbox.ssh.host}:${sandbox.ssh.port}`,
        ssh: { privateKeyPath: sandbox.ssh.privateKeyPath, knownHostsPath: sandbox.ssh.knownHostsPath, connectTimeoutSeconds: 10 },
        appDir: sandbox.appDir,
        dockerSocket: sandbox.dockerSocket,
        compose: { command: sandbox.composeCommand, project: sandbox.composeProject },
        services: { web: { min: 1, max: 1 }, worker: { min: 1, max: 3 } },
        deploy: {
          allowedRefs: "^(main|release/[A-Za-z0-9._-]+|broken|v\\d+\\.\\d+\\.\\d+)$",
          healthcheck: {
            url: `http://127.0.0.1:${sandbox.webPort}/health`,
            from: "target",
            expectStatus: 200,
            timeoutSeconds: 60,
            intervalSeconds: options.healthIntervalSeconds ?? 0.5,
          },
          autoRollback: true,
        },
        backup: {
          command: `${sandbox.pgBinDir}/pg_dump -Fc ${sandbox.appPostgresUrl}`,
          dir: sandbox.backupDir,
          keep: options.backupKeep ?? 1,
          format: "custom",
          timeoutSeconds: 1800,
          ...(options.restore ? { restore: `${sandbox.pgBinDir}/pg_restore --clean --if-exists --no-owner -d ${sandbox.appPostgresUrl}` } : {}),
        },
        payouts: {
          pause: `${redis} SET system:pause_payouts 1`,
          resume: `${redis} DEL system:pause_payouts`,
          status: `${redis} GET system:pause_payouts`,
        },
        // A runbook's read-only query (bench/run-command.ts): "how many payouts are pending".
        commands: {
          payouts_count: { description: "payouts in the app database", run: `${sandbox.pgBinDir}/psql ${sandbox.appPostgresUrl} -tAc "select count(*) from payouts"`, confirm: false },
        },
      },
    },
    confirmTimeoutSeconds: 300,
  });
}

/** Starts everything; every piece is registered with `cleanup` as soon as it runs. */
export async function startVpsHarness(cleanup: Cleanup, options: VpsHarnessOptions = {}): Promise<VpsHarness> {
  const scratch = mkdtempSync(join(tmpdir(), "opsgram-vpsbench-"));
  cleanup.add("scratch dir", () => rmSync(scratch, { recursive: true, force: true }));

  const postgres = await startPostgres();
  cleanup.add("postgres", () => postgres.stop());
  const sandbox = await startSandbox({ postgresUrl: postgres.url });
  cleanup.add("sandbox", () => sandbox.stop());

  const logPath = join(scratch, "opsgram.log");
  const log = createLogger({ level: "info", destination: pino.destination({ dest: logPath, sync: false }) });
  const database = await openDatabase({ url: postgres.createDatabase(`bench_vps_${randomBytes(4).toString("hex")}`), dataDir: scratch });
  cleanup.add("bot database", () => database.close());
  await migrate(database);
  const repos = createOperationRepositories(database.db);
  const audit = new PostgresAuditLog(database.db);
  const config = buildConfig(sandbox, options);

  let current = createTargetConnections(TARGET, config.targets[TARGET]!, log);
  cleanup.add("target connections", () => current.close());
  const shellCalls: TimedCall[] = [];
  const timed = (shell: RemoteShell) => new TimedShell(shell, shellCalls);
  const targets: Record<string, TargetPorts> = { [TARGET]: { shell: timed(current.shell), docker: current.docker } };

  const emulator = await BotApiEmulator.start();
  cleanup.add("emulator", () => emulator.stop());
  // The notifier gets its own Api with production pacing (1 request/s per chat), as in src/app.ts.
  const notifierApi = new Api(emulator.token, { apiRoot: emulator.apiRoot });
  const notifier = new TelegramNotifier(notifierApi, { log: log.child({ module: "notifier" }) });
  const ops = createOperations({
    repos,
    audit,
    reporter: new ChatReporter(notifier, systemClock, log.child({ module: "operations" })),
    targets,
    config,
    clock: systemClock,
    log: log.child({ module: "operations" }),
    redact: redactText,
  });
  const chat = new ChatOperations(ops.service, ops.status, ops.targetNames);
  await ops.start();
  cleanup.add("operations", () => ops.stop({ graceMs: 5_000 }));
  const bot = createBot({
    token: emulator.token,
    apiRoot: emulator.apiRoot,
    rules: { adminChatIds: [ADMIN_GROUP.id], adminUserIds: [ONCALL.id] },
    audit,
    processedUpdates: new ProcessedUpdates(database.db),
    features: [createOperationsFeature({ chat }), createStatusFeature({ chat })],
    log,
    configureApi,
    botInfo: await notifierApi.getMe(),
  });
  const runner = runBot(bot, { runner: { fetch: { allowed_updates: ["message", "callback_query"] } } });
  cleanup.add("bot runner", async () => {
    if (runner.isRunning()) await runner.stop();
  });

  return {
    sandbox,
    postgres,
    database,
    config,
    targets,
    shellCalls,
    connections: () => current,
    async freshConnections() {
      const old = current;
      current = createTargetConnections(TARGET, config.targets[TARGET]!, log);
      targets[TARGET] = { shell: timed(current.shell), docker: current.docker };
      await old.close();
    },
    ops,
    repos,
    audit,
    emulator,
    runner,
    log,
    logPath,
    scratch,
    healthUrl: `http://127.0.0.1:${sandbox.webPort}/health`,
    command(text) {
      const at = Date.now();
      emulator.sendCommand(ADMIN_GROUP, ONCALL, text);
      return at;
    },
    waitForMessage: (predicate, timeoutMs) => emulator.waitForMessage(predicate, timeoutMs),
    waitForEdit: (predicate, timeoutMs) => emulator.waitForEdit(predicate, timeoutMs),
  };
}
