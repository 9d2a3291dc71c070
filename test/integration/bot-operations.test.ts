/**
 * The real bot process (`src/main.ts`, as `npm start` runs it) against the Bot API emulator, real
 * Postgres and the sandbox VPS over pinned SSH: what an on-call engineer does, end to end.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { BotApiEmulator } from "../emulator/bot-api-emulator.js";
import { startSandbox, type Sandbox } from "../sandbox/index.js";
import { startBotProcess, type BotProcess } from "../support/bot-process.js";
import { createTestDatabase } from "../support/db.js";
import { sandboxTarget } from "../support/sandbox-target.js";

const CHAT = { id: -1002000000002, type: "supergroup" as const, title: "prod-ops" };
const ONCALL = { id: 8001, username: "oncall" };

describe("operations through the bot process", () => {
  let sandbox: Sandbox;
  let emulator: BotApiEmulator;
  let databaseUrl: string;
  let sql: postgres.Sql;
  let env: Record<string, string>;
  let bot: BotProcess;

  async function version(): Promise<string> {
    return (await (await fetch(`http://127.0.0.1:${sandbox.webPort}/version`)).text()).trim();
  }

  function head(): string {
    return execFileSync("git", ["-C", sandbox.appDir, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
  }

  /** Sends a command and presses Confirm on the plan it gets back; resolves with the plan message id. */
  async function requestAndConfirm(command: string): Promise<number> {
    emulator.sendCommand(CHAT, ONCALL, command);
    const plan = await emulator.waitForMessage(
      (m) => m.chatId === CHAT.id && (m.replyMarkup?.inline_keyboard.flat().some((b) => "callback_data" in b && b.callback_data?.startsWith("op:c:")) ?? false),
      30_000,
    );
    const confirm = plan.replyMarkup!.inline_keyboard.flat().find((b) => "callback_data" in b && b.callback_data!.startsWith("op:c:"));
    emulator.pressButton(CHAT, ONCALL, plan.messageId, (confirm as { callback_data: string }).callback_data);
    return plan.messageId;
  }

  function startBot(): BotProcess {
    return startBotProcess({ env });
  }

  beforeAll(async () => {
    sandbox = await startSandbox({ postgresUrl: inject("postgresUrl") });
    emulator = await BotApiEmulator.start();
    databaseUrl = createTestDatabase("botops");
    sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
    const dir = mkdtempSync(join(tmpdir(), "opsgram-botops-"));
    const configPath = join(dir, "opsgram.yml");
    writeFileSync(
      configPath,
      stringify({
        confirmTimeoutSeconds: 120,
        targets: {
          prod: {
            ...sandboxTarget(sandbox),
            services: { worker: { min: 1, max: 3 } },
            deploy: {
              healthcheck: { url: `http://127.0.0.1:${sandbox.webPort}/health`, from: "target", timeoutSeconds: 20, intervalSeconds: 0.5 },
              // A slow step gives the crash test a wide window in the middle of a deploy.
              steps: [{ name: "migrate", run: "sleep 6" }],
            },
          },
        },
      }),
      { mode: 0o600 }, // the bot refuses a config file others can read
    );
    env = {
      TELEGRAM_BOT_TOKEN: emulator.token,
      TELEGRAM_API_ROOT: emulator.apiRoot,
      ADMIN_CHAT_IDS: String(CHAT.id),
      ADMIN_USER_IDS: String(ONCALL.id),
      DATABASE_URL: databaseUrl,
      OPSGRAM_CONFIG: configPath,
    };
    bot = startBot();
    await bot.waitForLog((l) => l.msg === "opsgram started", 60_000);
  });

  afterAll(async () => {
    await bot?.stop();
    await sql?.end();
    await emulator?.stop();
    await sandbox?.stop();
  });

  it("/status shows the live commit and the services", async () => {
    emulator.sendCommand(CHAT, ONCALL, "/status");
    const reply = await emulator.waitForMessage((m) => m.chatId === CHAT.id && m.text.includes(sandbox.versions.v1.slice(0, 7)), 20_000);
    expect(reply.text).toMatch(/web/);
    expect(reply.text).toMatch(/worker/);
  });

  it("/deploy release/v2: plan, Confirm, progress edits, ✅, and v2 is live", async () => {
    const messageId = await requestAndConfirm("/deploy release/v2");
    const done = await emulator.waitForEdit((e) => e.chatId === CHAT.id && e.messageId === messageId && /✅/.test(e.text ?? ""), 120_000);
    expect(done.text).toMatch(/✅ deployed .* in [\d.]+ s/);
    expect(await version()).toBe("v2");
    expect(head()).toBe(sandbox.versions.v2);
    const [row] = await sql`SELECT sha, previous_sha, status FROM deployments ORDER BY id DESC LIMIT 1`;
    expect(row).toEqual({ sha: sandbox.versions.v2, previous_sha: sandbox.versions.v1, status: "succeeded" });
    // Recreating web was our own doing: no health alert about it.
    expect(emulator.messages.filter((m) => m.chatId === CHAT.id && m.text.includes("🔴"))).toEqual([]);
    const outcomes = await sql`SELECT outcome FROM audit_events WHERE action = 'deploy' ORDER BY id`;
    expect(outcomes.map((r) => r.outcome)).toEqual(expect.arrayContaining(["requested", "confirmed", "started", "succeeded"]));
  });

  it("SIGKILL of the leader during a deploy: the standby takes over, the operation is interrupted, the chat is told, the target stays frozen until [Unlock] + Confirm", async () => {
    // A second process with the same token and database waits as a standby.
    const standby = startBot();
    await standby.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("standby: another opsgram instance leads"), 60_000);
    const messageId = await requestAndConfirm("/deploy v1.0.0");
    // Wait until the deploy is inside its slow step, then kill the leader as a crash would.
    await emulator.waitForEdit((e) => e.chatId === CHAT.id && e.messageId === messageId && /built/.test(e.text ?? ""), 90_000);
    const [running] = await sql`SELECT status FROM operations WHERE message_id = ${messageId}`;
    expect(running!.status).toBe("running");
    await bot.kill();
    const killedAt = Date.now();

    bot = standby;
    await bot.waitForLog((l) => l.msg === "opsgram started", 15_000);
    console.log(`[timing] leader SIGKILLed mid-deploy → standby leads and polls: ${Date.now() - killedAt} ms`);
    const told = await emulator.waitForMessage((m) => m.chatId === CHAT.id && /Interrupted/.test(m.text) && m.replyMarkup !== undefined, 30_000);
    expect(told.text).toMatch(/stays frozen: its commands may still be running there/);
    const [op] = await sql`SELECT status FROM operations WHERE message_id = ${messageId}`;
    expect(op!.status).toBe("interrupted");
    const [frozen] = await sql`SELECT kind FROM locks WHERE target = 'prod'`;
    expect(frozen!.kind).toBe("freeze");

    // [Unlock] asks for a Confirm; the Confirm lifts the freeze.
    const button = (m: { replyMarkup?: { inline_keyboard: { text: string; callback_data?: string }[][] } | undefined }, prefix: string) =>
      m.replyMarkup?.inline_keyboard.flat().find((b) => b.callback_data?.startsWith(prefix))?.callback_data;
    emulator.pressButton(CHAT, ONCALL, told.messageId, button(told, "fz:u:")!);
    const ask = await emulator.waitForMessage((m) => m.chatId === CHAT.id && m.text.startsWith("Unlock prod?"), 10_000);
    emulator.pressButton(CHAT, ONCALL, ask.messageId, button(ask, "fz:c:")!);
    await emulator.waitForEdit((e) => e.chatId === CHAT.id && e.messageId === ask.messageId && /unlocked/.test(e.text ?? ""), 10_000);
    const [lock] = await sql`SELECT count(*)::int AS n FROM locks WHERE target = 'prod'`;
    expect(lock!.n).toBe(0);
    const [audited] = await sql`SELECT count(*)::int AS n FROM audit_events WHERE outcome = 'interrupted'`;
    expect(audited!.n).toBe(1);

    // Unlocked, the target takes a new operation at once: not "busy".
    const next = await requestAndConfirm("/deploy release/v2");
    const done = await emulator.waitForEdit((e) => e.chatId === CHAT.id && e.messageId === next && /✅|❌|↩/.test(e.text ?? ""), 120_000);
    expect(done.text).toMatch(/✅/);
    expect(await version()).toBe("v2");
  });

  it("a container killed behind the bot's back raises one alert in the chat, then a recovery", async () => {
    const compose = (...args: string[]) =>
      execFileSync("docker-compose", args, { cwd: sandbox.appDir, env: { ...process.env, ...sandbox.env }, stdio: "pipe" });
    // Our last deploy's expected change has a short grace period for trailing events: let it pass.
    await new Promise((r) => setTimeout(r, 6_000));
    const killedAt = Date.now();
    compose("kill", "web");
    const alert = await emulator
      .waitForMessage((m) => m.chatId === CHAT.id && m.text.includes("🔴") && m.text.includes("web"), 10_000)
      .catch((err: Error) => {
        const health = bot.logs().filter((l) => l.module === "health" || String(l.msg).includes("docker"));
        throw new Error(`${err.message}\nhealth log:\n${health.map((l) => JSON.stringify(l)).join("\n").slice(-3000)}`);
      });
    // The wait above bounds it; how fast it is goes to the log (a fixed window flakes on a loaded box).
    console.log(`[timing] docker kill → alert in the chat: ${Date.now() - killedAt} ms`);
    expect(alert.replyMarkup?.inline_keyboard.flat().map((b) => b.text)).toEqual(expect.arrayContaining([expect.stringMatching(/Ack/), expect.stringMatching(/Mute/)]));
    compose("up", "-d", "web");
    const recovery = await emulator.waitForMessage((m) => m.chatId === CHAT.id && m.text.includes("🟢"), 60_000);
    expect(recovery.text).toMatch(/web recovered after/);
  });
});
