/**
 * Least privilege through the real bot: grammY + the Bot API emulator, real Postgres, and the
 * sandbox VPS (pinned sshd, dockerd + compose) as the target. Roles per user, four eyes per
 * command, buttons bound to their plan message, anonymous admins, prototype names as targets, and
 * /logs masking and audit.
 *
 * One sandbox for the file; tests run in order.
 */
import { execFileSync } from "node:child_process";
import { run, type RunnerHandle } from "@grammyjs/runner";
import { Api } from "grammy";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createBot } from "../../src/bot/bot.js";
import { createOperationsFeature } from "../../src/bot/handlers/operations.js";
import { createStatusFeature } from "../../src/bot/handlers/status.js";
import { CONFIRM_PREFIX } from "../../src/bot/operations/callback-data.js";
import { ChatOperations } from "../../src/bot/operations/chat-commands.js";
import { ChatReporter } from "../../src/bot/operations/chat-reporter.js";
import type { AccessRules } from "../../src/bot/roles.js";
import { fileSchema, type OpsFile } from "../../src/config/file.js";
import { PostgresAuditLog } from "../../src/infra/db/audit-log.js";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { ProcessedUpdates } from "../../src/infra/db/processed-updates.js";
import { createOperationRepositories } from "../../src/infra/db/repos/operations.js";
import { createLogger } from "../../src/infra/logger.js";
import { TelegramNotifier } from "../../src/infra/telegram/notifier.js";
import { createTargetConnections, type TargetConnections } from "../../src/infra/targets.js";
import { createOperations, type Operations } from "../../src/operations/index.js";
import { systemClock } from "../../src/shared/ports.js";
import { BotApiEmulator } from "../emulator/bot-api-emulator.js";
import type { BotMessage } from "../emulator/types.js";
import { startSandbox, type Sandbox } from "../sandbox/index.js";
import { BASE_IMAGE } from "../sandbox/docker.js";
import { createTestDatabase } from "../support/db.js";
import { sandboxTarget } from "../support/sandbox-target.js";

const log = createLogger({ level: "silent" });
const CHAT_A = { id: -1003000000001, type: "supergroup" as const, title: "ops-a" };
const CHAT_B = { id: -1003000000002, type: "supergroup" as const, title: "ops-b" };
const ADMIN = { id: 9001, username: "ada" };
const SECOND_ADMIN = { id: 9002, username: "bert" };
const OPERATOR = { id: 9003, username: "olga" };
const VIEWER = { id: 9004, username: "vic" };
const NO_USERNAME = { id: 9005, first_name: "ada" };

let sandbox: Sandbox;
let database: DatabaseHandle;
let sql: postgres.Sql;
let audit: PostgresAuditLog;
let connections: TargetConnections;
let config: OpsFile;
const stops: (() => Promise<void>)[] = [];

function buildConfig(): OpsFile {
  return fileSchema.parse({
    targets: {
      prod: {
        ...sandboxTarget(sandbox),
        services: { worker: { min: 1, max: 3 } },
        deploy: { healthcheck: { url: `http://127.0.0.1:${sandbox.webPort}/health`, from: "target", expectStatus: 200, timeoutSeconds: 15, intervalSeconds: 0.5 } },
      },
    },
    confirmTimeoutSeconds: 120,
    fourEyes: ["rollback"],
    access: { roles: { [String(OPERATOR.id)]: "operator", [String(VIEWER.id)]: "viewer", [String(NO_USERNAME.id)]: "viewer" } },
  });
}

/** A real grammY bot with the operations and status features, polling its own emulator. */
async function startBot(rules: AccessRules): Promise<{ emulator: BotApiEmulator; ops: Operations }> {
  const emulator = await BotApiEmulator.start();
  const api = new Api(emulator.token, { apiRoot: emulator.apiRoot });
  const notifier = new TelegramNotifier(api, { perChatIntervalMs: 100 });
  const repos = createOperationRepositories(database.db);
  const ops = createOperations({ repos, audit, reporter: new ChatReporter(notifier, systemClock, log), targets: { prod: { shell: connections.shell, docker: connections.docker } }, config, clock: systemClock, log });
  const chat = new ChatOperations(ops.service, ops.status, ops.targetNames);
  const bot = createBot({
    token: emulator.token,
    apiRoot: emulator.apiRoot,
    rules,
    audit,
    processedUpdates: new ProcessedUpdates(database.db),
    features: [createOperationsFeature({ chat }), createStatusFeature({ chat })],
    log,
    configureApi: () => {},
    botInfo: await api.getMe(),
  });
  const runner: RunnerHandle = run(bot);
  stops.push(async () => {
    if (runner.isRunning()) await runner.stop();
    await ops.stop({ graceMs: 1_000 });
    await emulator.stop();
  });
  return { emulator, ops };
}

const confirmData = (m: BotMessage) =>
  (m.replyMarkup?.inline_keyboard.flat().find((b) => "callback_data" in b && b.callback_data?.startsWith(CONFIRM_PREFIX)) as { callback_data: string } | undefined)?.callback_data;

async function deniedRows(userId: number, action: string): Promise<postgres.Row[]> {
  return sql`SELECT action, detail FROM audit_events WHERE user_id = ${userId} AND action = ${action} AND outcome = 'denied' ORDER BY id`;
}

beforeAll(async () => {
  sandbox = await startSandbox({ postgresUrl: inject("postgresUrl") });
  const url = createTestDatabase("privilege");
  database = await openDatabase({ url, dataDir: sandbox.dir });
  await migrate(database);
  sql = postgres(url, { max: 2, onnotice: () => {} });
  audit = new PostgresAuditLog(database.db);
  config = buildConfig();
  connections = createTargetConnections("prod", config.targets.prod!, log);
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  await connections?.close();
  await sql?.end();
  await database?.close();
  await sandbox?.stop();
});

describe("with ADMIN_USER_IDS and access.roles (two admin chats)", () => {
  let emulator: BotApiEmulator;

  beforeAll(async () => {
    ({ emulator } = await startBot({
      adminChatIds: [CHAT_A.id, CHAT_B.id],
      adminUserIds: [ADMIN.id, SECOND_ADMIN.id],
      roles: config.access.roles,
      commands: config.access.commands,
    }));
  });

  it("a viewer's /deploy main is refused, naming the operator role, and audited as denied", async () => {
    emulator.sendCommand(CHAT_A, VIEWER, "/deploy main");
    const reply = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.startsWith("⛔"), 15_000);
    expect(reply.text).toBe("⛔ /deploy needs the operator role; you are a viewer.");
    expect(reply.replyMarkup).toBeUndefined();
    const rows = await deniedRows(VIEWER.id, "deploy");
    expect(rows).toHaveLength(1);
    expect(rows[0]!.detail).toMatchObject({ reason: "role", need: "operator", role: "viewer" });
    const [ops] = await sql`SELECT count(*)::int AS n FROM operations`;
    expect(ops!.n).toBe(0);
    // Rate-limited like the allowlist: a second try within the minute gets neither a reply nor a row.
    emulator.sendCommand(CHAT_A, VIEWER, "/deploy main");
    emulator.sendCommand(CHAT_A, VIEWER, "/status");
    await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.includes("worker"), 20_000);
    expect(emulator.messages.filter((m) => m.chatId === CHAT_A.id && m.text.startsWith("⛔"))).toHaveLength(1);
    expect(await deniedRows(VIEWER.id, "deploy")).toHaveLength(1);
    emulator.sendCommand(CHAT_B, OPERATOR, "/whoami");
    const whoami = await emulator.waitForMessage((m) => m.chatId === CHAT_B.id && m.text.startsWith("Your user id"), 15_000);
    expect(whoami.text).toBe(`Your user id: ${OPERATOR.id}\nThis chat id: ${CHAT_B.id}\nYour role here: operator`);
  });

  it("an operator's /unlock and /resume_payouts are refused naming admin; a viewer's /status works", async () => {
    emulator.sendCommand(CHAT_A, OPERATOR, "/unlock");
    const unlock = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.startsWith("⛔"), 15_000);
    expect(unlock.text).toBe("⛔ /unlock needs the admin role; you are an operator.");
    emulator.sendCommand(CHAT_A, OPERATOR, "/resume_payouts");
    const resume = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.startsWith("⛔"), 15_000);
    expect(resume.text).toBe("⛔ /resume_payouts needs the admin role; you are an operator.");
    expect(await deniedRows(OPERATOR.id, "unlock")).toHaveLength(1);
    emulator.sendCommand(CHAT_A, OPERATOR, "/audit verify");
    const verify = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.startsWith("⛔"), 15_000);
    expect(verify.text).toBe("⛔ /audit verify needs the admin role; you are an operator.");
    expect(await deniedRows(OPERATOR.id, "audit.verify")).toHaveLength(1);

    emulator.sendCommand(CHAT_B, VIEWER, "/status");
    const status = await emulator.waitForMessage((m) => m.chatId === CHAT_B.id && m.text.includes(sandbox.versions.v1.slice(0, 7)), 20_000);
    expect(status.text).toMatch(/worker/);
  });

  it("/status constructor and /lock __proto__ answer unknown target, and no lock row is made", async () => {
    emulator.sendCommand(CHAT_A, ADMIN, "/status constructor");
    const status = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.startsWith("⛔"), 15_000);
    expect(status.text).toBe('⛔ Unknown target "constructor". Known targets: prod.');
    emulator.sendCommand(CHAT_A, ADMIN, "/lock __proto__");
    const lock = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.startsWith("⛔"), 15_000);
    expect(lock.text).toBe('⛔ Unknown target "__proto__". Known targets: prod.');
    const [locks] = await sql`SELECT count(*)::int AS n FROM locks`;
    expect(locks!.n).toBe(0);
  });

  it("an anonymous admin cannot request a mutating command", async () => {
    emulator.sendAnonymousAdmin(CHAT_A, "/deploy main");
    const reply = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.startsWith("⛔"), 15_000);
    expect(reply.text).toMatch(/Anonymous admins cannot use this bot here/);
    const [ops] = await sql`SELECT count(*)::int AS n FROM operations`;
    expect(ops!.n).toBe(0);
  });

  it("a Confirm replayed in another admin chat, or on another message, runs nothing and is audited", async () => {
    emulator.sendCommand(CHAT_A, ADMIN, "/deploy v2.0.0");
    const plan = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && confirmData(m) !== undefined, 30_000);
    const data = confirmData(plan)!;
    const operationId = data.slice(CONFIRM_PREFIX.length);
    // Other bot messages to carry the forged presses: one in the same chat, one in chat B.
    emulator.sendCommand(CHAT_A, ADMIN, "/status constructor");
    const sameChat = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.startsWith("⛔"), 15_000);
    emulator.sendCommand(CHAT_B, SECOND_ADMIN, "/status constructor");
    const elsewhere = await emulator.waitForMessage((m) => m.chatId === CHAT_B.id && m.text.startsWith("⛔"), 15_000);
    const original = emulator.pressButton(CHAT_A, SECOND_ADMIN, sameChat.messageId, data);
    const replayed = emulator.replayPress(original, CHAT_B, SECOND_ADMIN, elsewhere.messageId);
    const answers = [await emulator.waitForCallbackAnswer(original.callback_query!.id, 15_000), await emulator.waitForCallbackAnswer(replayed.callback_query!.id, 15_000)];
    for (const a of answers) expect(a.text).toBe("This button does not belong to this message. Nothing ran.");
    const [op] = await sql`SELECT status, confirmed_by FROM operations WHERE id = ${operationId}`;
    expect(op).toEqual({ status: "awaiting_confirmation", confirmed_by: null });
    const denied = await sql`SELECT user_id, detail FROM audit_events WHERE operation_id = ${operationId} AND outcome = 'denied' ORDER BY id`;
    expect(denied.map((r) => r.detail.reason)).toEqual(["button not on its plan message", "button not on its plan message"]);
    // Nothing ran on the target: still v1.
    expect((await (await fetch(`http://127.0.0.1:${sandbox.webPort}/version`)).text()).trim()).toBe("v1");
    // The plan itself can still be cancelled where it is.
    const cancel = emulator.pressButton(CHAT_A, ADMIN, plan.messageId, data.replace("op:c:", "op:x:"));
    expect((await emulator.waitForCallbackAnswer(cancel.callback_query!.id, 15_000)).text).toBe("Cancelled. Nothing ran.");
  });

  it("fourEyes: [rollback]: the requester's Confirm is refused and audited, another admin's runs it", async () => {
    emulator.sendCommand(CHAT_A, ADMIN, `/rollback ${sandbox.versions.v2}`);
    const plan = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && confirmData(m) !== undefined, 30_000);
    expect(plan.text).toContain("someone else must confirm");
    const data = confirmData(plan)!;
    const operationId = data.slice(CONFIRM_PREFIX.length);
    const own = emulator.pressButton(CHAT_A, ADMIN, plan.messageId, data);
    expect((await emulator.waitForCallbackAnswer(own.callback_query!.id, 15_000)).text).toBe("Four eyes: someone other than the requester must confirm.");
    // A viewer may not press at all: the button needs the rollback command's role.
    const viewer = emulator.pressButton(CHAT_A, VIEWER, plan.messageId, data);
    expect((await emulator.waitForCallbackAnswer(viewer.callback_query!.id, 15_000)).text).toBe("⛔ This button needs the operator role; you are a viewer.");
    const [waiting] = await sql`SELECT status FROM operations WHERE id = ${operationId}`;
    expect(waiting!.status).toBe("awaiting_confirmation");

    const other = emulator.pressButton(CHAT_A, SECOND_ADMIN, plan.messageId, data);
    expect((await emulator.waitForCallbackAnswer(other.callback_query!.id, 15_000)).text).toMatch(/^Confirmed/);
    const done = await emulator.waitForEdit((e) => e.chatId === CHAT_A.id && e.messageId === plan.messageId && /✅|❌/.test(e.text ?? ""), 120_000);
    expect(done.text).toMatch(/✅/);
    const [op] = await sql`SELECT status, requested_by::int, confirmed_by::int FROM operations WHERE id = ${operationId}`;
    expect(op).toEqual({ status: "succeeded", requested_by: ADMIN.id, confirmed_by: SECOND_ADMIN.id });
    const outcomes = await sql`SELECT user_id, outcome, detail FROM audit_events WHERE operation_id = ${operationId} AND outcome IN ('denied', 'confirmed') ORDER BY id`;
    expect(outcomes.map((r) => [Number(r.user_id), r.outcome])).toEqual([
      [ADMIN.id, "denied"],
      [SECOND_ADMIN.id, "confirmed"],
    ]);
  });

  it("a user without a username is shown as user <id>, never by first name", async () => {
    emulator.sendCommand(CHAT_A, NO_USERNAME, "/deploy main");
    const reply = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.startsWith("⛔"), 15_000);
    expect(reply.text).toBe("⛔ /deploy needs the operator role; you are a viewer.");
    const [row] = await sql`SELECT username FROM audit_events WHERE user_id = ${NO_USERNAME.id} ORDER BY id DESC LIMIT 1`;
    expect(row!.username).toBeNull();
    emulator.sendCommand(CHAT_A, VIEWER, "/audit 2");
    const listing = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.startsWith("Last 2 audit events"), 15_000);
    expect(listing.text).toMatch(/user 9005 deploy → denied/);
    expect(listing.text).not.toMatch(/@ada deploy → denied/);
  });

  it("/logs masks DB_PASSWORD=hunter2 as DB_PASSWORD=*** and is audited", async () => {
    const docker = (...args: string[]) => execFileSync("docker", args, { env: { ...process.env, ...sandbox.env }, encoding: "utf8", stdio: "pipe" }).trim();
    const name = `${sandbox.composeProject}-leaky-1`;
    docker(
      "run", "-d", "--name", name, "--network", "none",
      "--label", `com.docker.compose.project=${sandbox.composeProject}`,
      "--label", "com.docker.compose.service=leaky",
      "--label", "com.docker.compose.container-number=1",
      BASE_IMAGE, "sh", "-c", "echo connecting with DB_PASSWORD=hunter2; echo ready; sleep 3600",
    );
    try {
      // The container has printed both lines before /logs reads them.
      for (let i = 0; i < 100 && !docker("logs", name).includes("ready"); i++) await new Promise((r) => setTimeout(r, 100));
      emulator.sendCommand(CHAT_A, VIEWER, "/logs leaky");
      const reply = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.includes("leaky on prod"), 20_000);
      expect(reply.text).toContain("DB_PASSWORD=***");
      expect(reply.text).not.toContain("hunter2");
      const [row] = await sql`SELECT target, args, outcome FROM audit_events WHERE action = 'logs' AND user_id = ${VIEWER.id} ORDER BY id DESC LIMIT 1`;
      expect(row).toEqual({ target: "prod", args: { services: ["leaky"], lines: 50, since: null, grep: null }, outcome: "info" });
    } finally {
      docker("rm", "-f", name);
    }
  });
});

describe("while neither ADMIN_USER_IDS nor access.roles names anyone", () => {
  it("group members are viewers, told once how to allow actions; the private chat's own user is an admin", async () => {
    const { emulator } = await startBot({ adminChatIds: [CHAT_A.id, OPERATOR.id], adminUserIds: undefined, roles: {}, commands: {} });
    emulator.sendCommand(CHAT_A, OPERATOR, "/status");
    await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.includes("worker"), 20_000);
    emulator.sendCommand(CHAT_A, OPERATOR, "/scale worker 2");
    const first = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.startsWith("⛔"), 15_000);
    expect(first.text).toBe("⛔ /scale needs the operator role; you are a viewer.\nset ADMIN_USER_IDS or access.roles to allow actions in a group");
    emulator.sendCommand(CHAT_A, VIEWER, "/deploy main");
    const second = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.startsWith("⛔"), 15_000);
    expect(second.text).toBe("⛔ /deploy needs the operator role; you are a viewer.");
    emulator.sendAnonymousAdmin(CHAT_A, "/deploy main");
    const anonymous = await emulator.waitForMessage((m) => m.chatId === CHAT_A.id && m.text.startsWith("⛔"), 15_000);
    expect(anonymous.text).toBe("⛔ /deploy needs the operator role; anonymous admins are viewers at most: send it as yourself.");

    // In the private admin chat the same person is an admin: the plan comes back with buttons.
    const privateChat = { id: OPERATOR.id, type: "private" as const };
    emulator.sendCommand(privateChat, OPERATOR, "/scale worker 2");
    const plan = await emulator.waitForMessage((m) => m.chatId === OPERATOR.id && confirmData(m) !== undefined, 30_000);
    const cancel = emulator.pressButton(privateChat, OPERATOR, plan.messageId, confirmData(plan)!.replace("op:c:", "op:x:"));
    expect((await emulator.waitForCallbackAnswer(cancel.callback_query!.id, 15_000)).text).toBe("Cancelled. Nothing ran.");
  });
});
