import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:tls";
import { Writable } from "node:stream";
import { Api } from "grammy";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertRenderer } from "../../src/bot/alerts/render.js";
import { fileSchema } from "../../src/config/file.js";
import type { TlsProbe } from "../../src/health/ports.js";
import { startHealth, type HealthHandle } from "../../src/health/index.js";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { createHealthStores, HealthReaders } from "../../src/infra/db/repos/health-readers.js";
import { createLogger } from "../../src/infra/logger.js";
import { TelegramNotifier } from "../../src/infra/telegram/notifier.js";
import { BotApiWebhookInfo } from "../../src/infra/telegram/webhook-info.js";
import { NodeTlsProbe } from "../../src/infra/tls/probe.js";
import { createTargetConnections, type TargetConnections } from "../../src/infra/targets.js";
import { BotApiEmulator, type BotMessage } from "../emulator/bot-api-emulator.js";
import { createTestDatabase } from "../support/db.js";
import { freePort } from "../support/ports.js";
import { startBotProcess } from "../support/bot-process.js";

/**
 * The app-facing checks against real parts: the webhook check asks the Bot API emulator's
 * getWebhookInfo with the app bot's own token (through opsgram's API root, as in production), the
 * TLS check does real handshakes with local node:tls servers whose certificates openssl made here
 * (our own CA, trusted through the probe's extraCa option). Alerts go through Postgres (incidents,
 * outbox) and the Notifier to the emulator. The target is `host: local` without Docker: these
 * checks run from the bot and need neither.
 */

const CHAT = -1005001;
const APP_TOKEN = "987654321:AAFappBotTokenForTheQuizAppXXXXXXXXXX";
const EXPECT_URL = "https://quiz.example/webhook/telegram";

let telegram: BotApiEmulator;
let database: DatabaseHandle;
let conn: TargetConnections;
let health: HealthHandle;
let dir: string;
const servers: Server[] = [];
const logLines: string[] = [];
/** Handshakes per port that read a certificate: proof that a check looked (the "nothing more arrives" marker). */
const probes = new Map<number, number>();

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** A key and a certificate for `name`, signed by our CA (or self-signed), valid for `days`. */
function certificate(file: string, name: string, days: number, selfSigned = false): { key: string; cert: string } {
  const subj = `/CN=${name}`;
  const ext = `subjectAltName=DNS:${name}`;
  if (selfSigned) {
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${file}.key`, "-out", `${file}.crt`, "-days", String(days), "-subj", subj, "-addext", ext);
  } else {
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${file}.key`, "-out", `${file}.csr`, "-subj", subj);
    writeFileSync(join(dir, `${file}.ext`), `${ext}\n`);
    openssl("x509", "-req", "-in", `${file}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${file}.crt`, "-days", String(days), "-extfile", `${file}.ext`);
  }
  return { key: readFileSync(join(dir, `${file}.key`), "utf8"), cert: readFileSync(join(dir, `${file}.crt`), "utf8") };
}

async function tlsServer(pair: { key: string; cert: string }): Promise<{ server: Server; port: number }> {
  const server = createServer(pair, (socket) => socket.end());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return { server, port: address.port };
}

function next(p: (m: BotMessage) => boolean, timeoutMs = 10_000): Promise<BotMessage> {
  return telegram.waitForMessage((m) => m.chatId === CHAT && p(m), timeoutMs);
}

async function waitUntil(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let soon: { server: Server; port: number };
let selfSigned: { server: Server; port: number };
let good: { server: Server; port: number };
let wrongName: { server: Server; port: number };
let goodPair: { key: string; cert: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "opsgram-tls-"));
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj", "/CN=opsgram test CA");
  const ca = readFileSync(join(dir, "ca.crt"), "utf8");
  goodPair = certificate("good", "localhost", 30);
  [soon, selfSigned, good, wrongName] = await Promise.all([
    tlsServer(certificate("soon", "localhost", 3)),
    tlsServer(certificate("self", "localhost", 30, true)),
    tlsServer(goodPair),
    tlsServer(certificate("other", "other.example", 30)),
  ]);

  telegram = await BotApiEmulator.start();
  // What Telegram reports for the app's bot at the start: all well.
  telegram.setWebhookInfo({ url: EXPECT_URL, pending_update_count: 0 }, APP_TOKEN);
  database = await openDatabase({ url: createTestDatabase("checks"), dataDir: "/unused" });
  await migrate(database);

  const target = fileSchema.parse({
    targets: {
      app: {
        host: "local",
        appDir: dir,
        dockerSocket: join(dir, "no-docker.sock"),
        compose: { project: "checks" },
        health: {
          telegramWebhook: { tokenEnv: "QUIZ_BOT_TOKEN", expectUrl: EXPECT_URL, maxPending: 100 },
          tls: [soon, selfSigned, good, wrongName].map((s) => ({ host: "localhost", port: s.port, warnDays: 14 })),
        },
      },
    },
  }).targets.app!;
  const log = createLogger({
    level: "debug",
    destination: new Writable({
      write(chunk: Buffer, _enc, cb) {
        logLines.push(chunk.toString());
        cb();
      },
    }),
  });
  conn = createTargetConnections("app", target, log);
  const real = new NodeTlsProbe({ extraCa: [ca] });
  const counting: TlsProbe = {
    async probe(host, port, timeoutMs) {
      const result = await real.probe(host, port, timeoutMs);
      if (result.status === "ok") probes.set(port, (probes.get(port) ?? 0) + 1);
      return result;
    },
  };
  const readers = new HealthReaders(database.db);
  health = await startHealth({
    stores: createHealthStores(database.db),
    backups: readers,
    payouts: readers,
    render: alertRenderer,
    notifier: new TelegramNotifier(new Api(telegram.token, { apiRoot: telegram.apiRoot }), { log, perChatIntervalMs: 100 }),
    tlsProbe: counting,
    targets: {
      app: {
        shell: conn.shell,
        docker: conn.docker,
        project: conn.project,
        config: target.health,
        webhook: new BotApiWebhookInfo({ token: APP_TOKEN, apiRoot: telegram.apiRoot }),
      },
    },
    alertChatIds: [CHAT],
    log,
    tuning: { coalesceMs: 200, tickMs: 200, outboxPollMs: 500, remindEveryMs: null, webhookIntervalMs: 300, tlsIntervalMs: 500 },
  });
}, 120_000);

afterAll(async () => {
  await health?.stop();
  await conn?.close();
  await database?.close();
  await telegram?.stop();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the app's own Telegram webhook (getWebhookInfo via the emulator)", () => {
  it("a wrong URL alerts, naming both URLs; putting it back recovers", async () => {
    telegram.setWebhookInfo({ url: "https://old.example/hook" }, APP_TOKEN);
    const alert = await next((m) => m.text.includes("🔴 app: Telegram webhook: URL is https://old.example/hook"));
    expect(alert.text).toContain(`(expected ${EXPECT_URL})`);
    expect(alert.replyMarkup?.inline_keyboard.flat().map((b) => b.text)).toEqual(["Ack", "Mute 1h", "Mute 24h"]);
    telegram.setWebhookInfo({ url: EXPECT_URL }, APP_TOKEN);
    await next((m) => /🟢 app: Telegram webhook recovered after/.test(m.text));
  });

  it("more pending updates than maxPending alerts; draining recovers", async () => {
    telegram.setWebhookInfo({ pending_update_count: 250 }, APP_TOKEN);
    await next((m) => m.text.includes("🔴 app: Telegram webhook: 250 updates waiting for delivery (more than 100)"));
    telegram.setWebhookInfo({ pending_update_count: 3 }, APP_TOKEN);
    await next((m) => /🟢 app: Telegram webhook recovered after/.test(m.text) && m.index > 0);
  });

  it("a delivery error newer than the last look alerts with Telegram's message (secrets masked); recovers when no new error comes", async () => {
    const mark = telegram.messages.length;
    telegram.setWebhookInfo({ last_error_date: new Date(Date.now() + 1000), last_error_message: `Wrong response from the webhook: 502 Bad Gateway at /hook/${APP_TOKEN}` }, APP_TOKEN);
    const alert = await next((m) => m.index >= mark && m.text.includes("🔴 app: Telegram webhook: Telegram could not deliver:"));
    expect(alert.text).toContain('"Wrong response from the webhook: 502 Bad Gateway at /hook/');
    expect(alert.text).not.toContain(APP_TOKEN);
    // The same error at the next look is not new: the incident recovers.
    await next((m) => m.index >= mark && /🟢 app: Telegram webhook recovered after/.test(m.text));
    const calls = telegram.calls.filter((c) => c.method.toLowerCase() === "getwebhookinfo");
    expect(calls.length).toBeGreaterThan(3);
    // The token never reaches chat or the log (the log is at debug level here).
    expect(telegram.messages.map((m) => m.text).join("\n")).not.toContain(APP_TOKEN);
    expect(logLines.join("")).not.toContain(APP_TOKEN);
  });
});

describe("the getWebhookInfo client", () => {
  it("a token Telegram does not know is refused (401); an API root that does not answer is unreachable, not an alert", async () => {
    const unknown = new BotApiWebhookInfo({ token: "111111111:AAunknownTokenXXXXXXXXXXXXXXXXXXXXXXX", apiRoot: telegram.apiRoot });
    expect(await unknown.lookup()).toEqual({ status: "refused", error: "401 Unauthorized" });
    const closed = await freePort();
    const down = new BotApiWebhookInfo({ token: APP_TOKEN, apiRoot: `http://127.0.0.1:${closed}`, timeoutSeconds: 5 });
    const result = await down.lookup();
    expect(result.status).toBe("unreachable");
    expect(JSON.stringify(result)).not.toContain(APP_TOKEN);
  });
});

describe("TLS certificates (local node:tls servers, certificates from openssl)", () => {
  it("one that expires in 3 days alerts with the date; a self-signed one and a wrong name say what does not verify", async () => {
    // The three open at the first looks, close together: they may share one (coalesced) message.
    const lines = [
      new RegExp(`🔴 app: certificate for localhost:${soon.port} expires in 3 days \\(\\d{4}-\\d\\d-\\d\\d\\)`),
      `🔴 app: certificate for localhost:${selfSigned.port}: the chain does not verify: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)`,
      `🔴 app: certificate for localhost:${wrongName.port}: the name does not verify: the certificate is for other.example`,
    ];
    const sent = () => telegram.messages.filter((m) => m.chatId === CHAT).map((m) => m.history[0]?.text ?? "").join("\n");
    await waitUntil("the three certificate alerts", () => lines.every((l) => (typeof l === "string" ? sent().includes(l) : l.test(sent()))), 15_000);
    expect(health.alerts.openIncidents().filter((i) => i.key.source === "tls")).toHaveLength(3);
  });

  it("a valid certificate (our CA, 30 days > warnDays) raises nothing; renewing the expiring one recovers it", async () => {
    const mark = telegram.messages.length;
    // The good server was looked at several times; then the marker: renewing the expiring one.
    const seen = probes.get(good.port) ?? 0;
    await waitUntil("two more looks at the valid certificate", () => (probes.get(good.port) ?? 0) >= seen + 2);
    soon.server.setSecureContext(goodPair);
    await next((m) => m.index >= mark && m.text.includes(`🟢 app: TLS certificate of localhost:${soon.port} recovered after`), 15_000);
    // Delivery is in order per chat: an alert about the valid one would have come before the recovery.
    expect(telegram.messages.filter((m) => m.chatId === CHAT && m.text.includes(`localhost:${good.port}`))).toEqual([]);
    expect(health.alerts.openIncidents().map((i) => i.key.subject).sort()).toEqual([`localhost:${selfSigned.port}`, `localhost:${wrongName.port}`].sort());
  });
});

describe("wired in the bot process (npm start)", () => {
  it("reads the app token from the env var the config names, asks opsgram's API root, and never logs the token", async () => {
    const chat = -1005002;
    const token = "555000111:AAFsecondAppBotTokenForTheWiringTestXX";
    telegram.setWebhookInfo({ url: "https://stale.example/hook", pending_update_count: 0 }, token);
    const config = join(dir, "opsgram.yml");
    writeFileSync(
      config,
      [
        "targets:",
        "  app:",
        "    host: local",
        `    appDir: ${dir}`,
        `    dockerSocket: ${join(dir, "no-docker.sock")}`,
        "    compose: { project: checks-e2e }",
        "    health:",
        `      telegramWebhook: { tokenEnv: SHOP_BOT_TOKEN, expectUrl: "${EXPECT_URL}" }`,
        `      tls: [{ host: localhost, port: ${selfSigned.port} }]`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const bot = startBotProcess({
      env: {
        TELEGRAM_BOT_TOKEN: telegram.token,
        TELEGRAM_API_ROOT: telegram.apiRoot,
        ADMIN_CHAT_IDS: String(chat),
        ALERT_CHAT_IDS: String(chat),
        DATABASE_URL: createTestDatabase("checks_e2e"),
        OPSGRAM_CONFIG: config,
        SHOP_BOT_TOKEN: token,
      },
    });
    try {
      // The first looks run at start.
      const alert = await telegram.waitForMessage((m) => m.chatId === chat && m.text.includes("Telegram webhook: URL is https://stale.example/hook"), 60_000);
      expect(alert.text).toContain(`(expected ${EXPECT_URL})`);
      // The two open at start together: they may share one (coalesced) message.
      const sent = () => telegram.messages.filter((m) => m.chatId === chat).map((m) => m.history[0]?.text ?? "").join("\n");
      await waitUntil("the TLS alert", () => sent().includes(`certificate for localhost:${selfSigned.port}: the chain does not verify`), 30_000);
      expect(telegram.calls.some((c) => c.method.toLowerCase() === "getwebhookinfo")).toBe(true);
      expect(bot.output()).not.toContain(token);
    } finally {
      await bot.stop();
    }
    expect(bot.output()).not.toContain(token);
  }, 180_000);
});
