import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import pino from "pino";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { BotApiEmulator } from "../emulator/bot-api-emulator.js";
import { startSandbox, type Sandbox } from "../sandbox/index.js";
import { runBotToExit, startBotProcess, type BotProcess } from "../support/bot-process.js";
import { createTestDatabase } from "../support/db.js";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { AlertOutboxRepo } from "../../src/infra/db/repos/alert-outbox.js";
import { LEADER_LOCK_KEY, PostgresLeadership } from "../../src/infra/db/leader.js";
import { instanceName } from "../../src/infra/instance.js";
import { sandboxTarget } from "../support/sandbox-target.js";

const GROUP_A = { id: -1001000000011, type: "supergroup" as const, title: "ops-a" };
const GROUP_B = { id: -1001000000012, type: "supergroup" as const, title: "ops-b" };
const ADMIN = { id: 7101, username: "oncall" };

const quiet = pino({ level: "silent" });

describe("one leader among opsgram processes (real Postgres, the emulator, bot processes)", () => {
  let emulator: BotApiEmulator;
  let databaseUrl: string;
  let sql: postgres.Sql;
  const bots: BotProcess[] = [];

  const startBot = () => {
    const bot = startBotProcess({
      env: {
        TELEGRAM_BOT_TOKEN: emulator.token,
        TELEGRAM_API_ROOT: emulator.apiRoot,
        ADMIN_CHAT_IDS: `${GROUP_A.id},${GROUP_B.id}`,
        ADMIN_USER_IDS: String(ADMIN.id),
        DATABASE_URL: databaseUrl,
      },
    });
    bots.push(bot);
    return bot;
  };
  const repliesIn = (chatId: number, from = 0) => emulator.messages.slice(from).filter((m) => m.chatId === chatId);

  beforeAll(async () => {
    emulator = await BotApiEmulator.start();
    databaseUrl = createTestDatabase("leader");
    sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  });

  afterAll(async () => {
    await Promise.all(bots.map((b) => b.stop()));
    await sql?.end();
    await emulator?.stop();
  });

  let leader: BotProcess;
  let standby: BotProcess;

  it("two processes, one token, one database: one leads, the other says who leads and waits", async () => {
    leader = startBot();
    await leader.waitForLog((l) => l.msg === "opsgram started", 60_000);
    standby = startBot();
    const line = await standby.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("standby:"), 60_000);
    expect(line.msg).toBe(`standby: another opsgram instance leads (pid ${leader.child.pid}, host ${hostname()})`);
    // The standby polls nothing and recovers nothing while it waits.
    expect(standby.logs().some((l) => l.msg === "opsgram started")).toBe(false);
  });

  it("exactly one of them answers /help", async () => {
    const before = emulator.messages.length;
    emulator.sendCommand(GROUP_A, ADMIN, "/help");
    await emulator.waitForMessage((m) => m.index >= before && m.chatId === GROUP_A.id && m.text.includes("/whoami"));
    // A later marker: once its answer is in, any second answer to /help would be too (one chat, in order).
    emulator.sendCommand(GROUP_A, ADMIN, "/whoami");
    await emulator.waitForMessage((m) => m.index >= before && m.chatId === GROUP_A.id && m.text.includes("Your user id"));
    expect(repliesIn(GROUP_A.id, before).filter((m) => m.text.includes("/whoami —"))).toHaveLength(1);
    const conflicts = emulator.calls.filter((c) => c.method === "getUpdates" && c.response && !c.response.ok);
    expect(conflicts).toEqual([]); // never two pollers at once: no 409
  });

  it("SIGKILL the leader: the standby takes over within 15 s and answers", async () => {
    const killedAt = Date.now();
    await leader.kill();
    const before = emulator.messages.length;
    emulator.sendCommand(GROUP_A, ADMIN, "/help");
    await standby.waitForLog((l) => l.msg === "opsgram started", 15_000);
    const tookOver = Date.now() - killedAt;
    await emulator.waitForMessage((m) => m.index >= before && m.chatId === GROUP_A.id && m.text.includes("/whoami"), 15_000);
    const answered = Date.now() - killedAt;
    console.log(`takeover: leader SIGKILLed → standby leads in ${tookOver} ms, answers /help in ${answered} ms`);
    expect(answered).toBeLessThan(15_000);
  });

  it("a command 10 minutes old is not run; the chat is told and the refusal is audited", async () => {
    const before = emulator.messages.length;
    const date = Math.floor(Date.now() / 1000) - 600;
    emulator.enqueueRaw({
      message: {
        message_id: 900_001,
        date,
        chat: GROUP_A,
        from: { id: ADMIN.id, is_bot: false, first_name: ADMIN.username, username: ADMIN.username },
        text: "/deploy main",
        entities: [{ type: "bot_command", offset: 0, length: 7 }],
      },
    });
    const reply = await emulator.waitForMessage((m) => m.index >= before && m.chatId === GROUP_A.id);
    expect(reply.text).toBe("ignored /deploy main, sent 10 min ago while opsgram was offline; send it again");
    const rows = await sql`SELECT action, outcome, detail FROM audit_events WHERE chat_id = ${GROUP_A.id} AND action = 'deploy'`;
    expect(rows).toEqual([{ action: "deploy", outcome: "denied", detail: { reason: "stale", ageSeconds: expect.any(Number), maxAgeSeconds: 120 } }]);
    expect(rows[0]!.detail.ageSeconds).toBeGreaterThanOrEqual(600);
    const ops = await sql`SELECT count(*)::int AS n FROM operations`;
    expect(ops[0]!.n).toBe(0);
  });

  it("two commands of one chat run in order, while another chat goes on in parallel", async () => {
    const before = emulator.messages.length;
    const callsBefore = emulator.calls.length;
    // Chat A's first answer is slow (1.5 s at the Bot API). Once it is on its way, chat A sends a
    // second command and chat B one: A's must wait for the first to finish, B's must not.
    emulator.failNext("sendMessage", { delayMs: 1_500 });
    emulator.sendCommand(GROUP_A, ADMIN, "/help");
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (emulator.calls.slice(callsBefore).some((c) => c.method === "sendMessage" && c.fault && c.response === undefined)) {
          clearInterval(poll);
          resolve();
        }
      }, 10);
    });
    emulator.sendCommand(GROUP_A, ADMIN, "/whoami");
    emulator.sendCommand(GROUP_B, ADMIN, "/whoami");
    await emulator.waitForMessage((m) => m.index >= before && m.chatId === GROUP_A.id && m.text.includes("Your user id"));
    const seen = emulator.messages.slice(before).map((m) => `${m.chatId === GROUP_A.id ? "A" : "B"}:${m.text.includes("/whoami —") ? "help" : "whoami"}`);
    expect(seen).toEqual(["B:whoami", "A:help", "A:whoami"]);
  });

  it("a leader whose lock connection dies stops at once and exits non-zero (its supervisor restarts it as standby)", async () => {
    const name = `opsgram:${standby.child.pid}@${hostname()}`;
    const killedAt = Date.now();
    const [row] = await sql`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = ${name.slice(0, 63)}`;
    expect(row!.n).toBe(1);
    const code = await standby.exited;
    console.log(`leader connection killed → leader process exited in ${Date.now() - killedAt} ms`);
    expect(code).toBe(1);
    expect(standby.logs().some((l) => typeof l.msg === "string" && l.msg.startsWith("leadership lost:"))).toBe(true);
    expect(standby.logs().find((l) => l.msg === "shutting down")).toMatchObject({ reason: expect.stringMatching(/^leadership lost/) });
  });
  it("a standby waiting for the lock stops at once on SIGTERM, exit 0", async () => {
    const next = startBot();
    await next.waitForLog((l) => l.msg === "opsgram started", 60_000);
    const waiting = startBot();
    await waiting.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("standby:"), 60_000);
    const t0 = Date.now();
    expect(await waiting.stop()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});

describe("the alert outbox only lets the live leader claim rows", () => {
  let handle: DatabaseHandle;
  let url: string;
  let sql: postgres.Sql;

  beforeAll(async () => {
    url = createTestDatabase("outbox_claim");
    handle = await openDatabase({ url, dataDir: "/nonexistent" });
    await migrate(handle);
    sql = postgres(url, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end();
    await handle?.close();
  });

  it("a process that does not lead claims nothing; a dead leader's claims pass to the next", async () => {
    await sql`INSERT INTO alert_outbox (chat_id, kind, text) VALUES (1, 'recovery', 'a'), (1, 'recovery', 'b')`;
    const repo = new AlertOutboxRepo(handle.db);

    // Another process leads and has claimed row a.
    const other = postgres(url, { max: 1, connection: { application_name: "opsgram:999@elsewhere" }, onnotice: () => {} });
    await other`SELECT pg_advisory_lock(${LEADER_LOCK_KEY}::bigint)`;
    await sql`UPDATE alert_outbox SET claimed_by = 'opsgram:999@elsewhere' WHERE text = 'a'`;
    expect(await repo.pending(10)).toEqual([]);

    // It dies; this process becomes the leader and takes both rows, oldest first.
    await other.end();
    const leadership = new PostgresLeadership({ url, log: quiet });
    await leadership.acquire();
    try {
      const claimed = await repo.pending(10);
      expect(claimed.map((i) => i.text)).toEqual(["a", "b"]);
      const rows = await sql`SELECT text, claimed_by FROM alert_outbox ORDER BY id`;
      expect(rows).toEqual([
        { text: "a", claimed_by: instanceName() },
        { text: "b", claimed_by: instanceName() },
      ]);
      // A rival that somehow runs a dispatcher without the lock gets nothing.
      const rival = await sql`
        UPDATE alert_outbox SET claimed_by = 'opsgram:1@rival'
        WHERE id IN (SELECT id FROM alert_outbox WHERE claimed_by IS NULL FOR UPDATE SKIP LOCKED) RETURNING id`;
      expect(rival).toEqual([]);
    } finally {
      await leadership.release();
    }
  });

  it("leadership is lost when its connection is killed, and the listener hears it", async () => {
    const leadership = new PostgresLeadership({ url, log: quiet, heartbeatMs: 200 });
    await leadership.acquire();
    const lost = new Promise<Error>((resolve) => leadership.onLost(resolve));
    const startedAt = Date.now();
    await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${instanceName()} AND pid <> pg_backend_pid()`;
    const err = await lost;
    expect(err.message).toMatch(/^leadership lost: /);
    console.log(`leader connection killed → leadership lost noticed in ${Date.now() - startedAt} ms (heartbeat 200 ms)`);
    await leadership.release();
    const [row] = await sql`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 1918987523`;
    expect(row!.n).toBe(0);
  });
});

describe("the embedded database is one process's", () => {
  it("a second opsgram on the same DATA_DIR exits 2 with a clear error; the first keeps running", async () => {
    const emulator = await BotApiEmulator.start();
    const dataDir = mkdtempSync(join(tmpdir(), "opsgram-shared-data-"));
    const env = { TELEGRAM_BOT_TOKEN: emulator.token, TELEGRAM_API_ROOT: emulator.apiRoot, ADMIN_CHAT_IDS: String(GROUP_A.id), DATA_DIR: dataDir };
    const first = startBotProcess({ env });
    try {
      await first.waitForLog((l) => l.msg === "opsgram started", 120_000);
      const second = await runBotToExit({ env }, 60_000);
      expect(second.code).toBe(2);
      expect(second.output).toContain(`another opsgram uses DATA_DIR ${dataDir} (pid ${first.child.pid}, host ${hostname()}`);
      emulator.sendCommand(GROUP_A, ADMIN, "/whoami");
      await emulator.waitForMessage((m) => m.chatId === GROUP_A.id && m.text.includes("Your user id"));
    } finally {
      await first.stop();
      await emulator.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("two processes watching one real target (sandbox VPS over SSH)", () => {
  let sandbox: Sandbox;
  let emulator: BotApiEmulator;
  const bots: BotProcess[] = [];

  afterAll(async () => {
    await Promise.all(bots.map((b) => b.stop()));
    await emulator?.stop();
    await sandbox?.stop();
  });

  it("a killed container raises one alert, not one per process", async () => {
    sandbox = await startSandbox({ postgresUrl: inject("postgresUrl") });
    emulator = await BotApiEmulator.start();
    const dir = mkdtempSync(join(tmpdir(), "opsgram-leader-target-"));
    const configPath = join(dir, "opsgram.yml");
    writeFileSync(
      configPath,
      stringify({
        targets: {
          prod: {
            ...sandboxTarget(sandbox),
          },
        },
      }),
      { mode: 0o600 }, // opsgram refuses a config that others can read
    );
    const env = {
      TELEGRAM_BOT_TOKEN: emulator.token,
      TELEGRAM_API_ROOT: emulator.apiRoot,
      ADMIN_CHAT_IDS: String(GROUP_A.id),
      DATABASE_URL: createTestDatabase("leader_target"),
      OPSGRAM_CONFIG: configPath,
    };
    const a = startBotProcess({ env });
    bots.push(a);
    await a.waitForLog((l) => l.msg === "health monitoring started", 60_000);
    const b = startBotProcess({ env });
    bots.push(b);
    await b.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("standby:"), 60_000);
    // The leader's Docker event stream opens right after monitoring starts; /status is a round
    // trip over the same SSH link, so once it answers the stream has had its chance to connect.
    emulator.sendCommand(GROUP_A, ADMIN, "/status");
    await emulator.waitForMessage((m) => m.chatId === GROUP_A.id && m.text.includes("prod"), 30_000);

    const compose = (...args: string[]) =>
      execFileSync("docker-compose", args, { cwd: sandbox.appDir, env: { ...process.env, ...sandbox.env }, stdio: "pipe" });
    const before = emulator.messages.length;
    const killedAt = Date.now();
    compose("kill", "web");
    await emulator.waitForMessage((m) => m.index >= before && m.text.includes("🔴") && m.text.includes("web"), 15_000);
    const alertMs = Date.now() - killedAt;
    compose("up", "-d", "web");
    // The recovery is the later marker: any second alert would have been sent before it.
    await emulator.waitForMessage((m) => m.index >= before && m.text.includes("🟢"), 60_000);
    console.log(`two processes: docker kill → one alert in ${alertMs} ms`);
    expect(emulator.messages.slice(before).filter((m) => m.text.includes("🔴"))).toHaveLength(1);
    expect(b.logs().some((l) => l.msg === "health monitoring started")).toBe(false);
  });
});
