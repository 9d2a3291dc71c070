import { describe, expect, it } from "vitest";
import { alertLine, alertRenderer, recoveryLine, renderAlertMessage } from "../../src/bot/alerts/render.js";
import type { CheckContext, SignalOutcome } from "../../src/health/checks.js";
import type { TlsCertificateReport, TlsProbe, TlsProbeResult, WebhookInfoSource, WebhookLookup, WebhookStatus } from "../../src/health/ports.js";
import { CheckScheduler } from "../../src/health/scheduler.js";
import { HealthService } from "../../src/health/service.js";
import { judgeCertificate, tlsCheck, TLS_SIGNALS } from "../../src/health/tls-monitor.js";
import { judgeWebhook, QUIET_LOOKS, webhookCheck, WEBHOOK_SIGNALS } from "../../src/health/webhook-monitor.js";
import { FakeClock, MemoryHealthStore, silentLog } from "./health-fakes.js";

const DAY = 86_400_000;
const EXPECT = "https://quiz.example/webhook/telegram";
const WEBHOOK = { tokenEnv: "QUIZ_BOT_TOKEN", expectUrl: EXPECT, maxPending: 100, intervalSeconds: 60 };
const TLS = { host: "quiz.example", port: 443, warnDays: 14, intervalSeconds: 3600 };

function ctx(clock: FakeClock, changing = false): CheckContext {
  return { target: "prod", clock, isTargetChanging: () => changing };
}

function info(over: Partial<WebhookStatus> = {}): WebhookStatus {
  return { url: EXPECT, pendingUpdateCount: 0, lastErrorDate: null, lastErrorMessage: null, ...over };
}

/** getWebhookInfo answers set by the test, one per look (the last one repeats). */
class ScriptedWebhook implements WebhookInfoSource {
  calls = 0;
  constructor(public answers: WebhookLookup[]) {}
  async lookup(): Promise<WebhookLookup> {
    this.calls++;
    return this.answers.length > 1 ? this.answers.shift()! : this.answers[0]!;
  }
}

const byName = (outcomes: readonly SignalOutcome[]) => Object.fromEntries(outcomes.map((o) => [o.signal, o]));
const failed = (outcomes: readonly SignalOutcome[]) => outcomes.filter((o) => o.status === "failed").map((o) => (o as { error: string }).error);

describe("webhook check: what getWebhookInfo says", () => {
  it("all well: every signal ok", () => {
    expect(failed(judgeWebhook(info(), WEBHOOK, 0))).toEqual([]);
  });

  it("a different URL, or none, names both URLs", () => {
    expect(failed(judgeWebhook(info({ url: "https://old.example/hook" }), WEBHOOK, 0))).toEqual([
      `Telegram webhook: URL is https://old.example/hook (expected ${EXPECT})`,
    ]);
    expect(failed(judgeWebhook(info({ url: "" }), WEBHOOK, 0))).toEqual([`Telegram webhook: no webhook is set (expected ${EXPECT})`]);
  });

  it("more pending than maxPending fails; exactly maxPending does not", () => {
    expect(failed(judgeWebhook(info({ pendingUpdateCount: 100 }), WEBHOOK, 0))).toEqual([]);
    expect(failed(judgeWebhook(info({ pendingUpdateCount: 101 }), WEBHOOK, 0))).toEqual(["Telegram webhook: 101 updates waiting for delivery (more than 100)"]);
  });

  it("an error newer than the last look is quoted; the same one again is not", () => {
    const e = info({ lastErrorDate: 1000, lastErrorMessage: "Wrong response from the webhook: 502 Bad Gateway" });
    expect(failed(judgeWebhook(e, WEBHOOK, 999))).toEqual(['Telegram webhook: Telegram could not deliver: "Wrong response from the webhook: 502 Bad Gateway"']);
    expect(byName(judgeWebhook(e, WEBHOOK, 1000))[WEBHOOK_SIGNALS.error]?.status).toBe("ok");
  });

  it("secrets in the URL and the quoted error are masked", () => {
    const token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX";
    const out = failed(judgeWebhook(info({ url: `https://quiz.example/hook/${token}`, lastErrorDate: 5, lastErrorMessage: `Connection to https://u:hunter2@db.example failed, ${token}` }), WEBHOOK, 0));
    expect(out.join("\n")).not.toContain(token);
    expect(out.join("\n")).not.toContain("hunter2");
    expect(out).toHaveLength(2);
  });
});

describe("webhook check: looks over time (fake clock)", () => {
  it("the first look counts errors from one interval back; later looks only newer ones", async () => {
    const clock = new FakeClock();
    const now = Math.floor(clock.now().getTime() / 1000);
    const old = { status: "ok", info: info({ lastErrorDate: now - 3600, lastErrorMessage: "old" }) } as const;
    const recent = { status: "ok", info: info({ lastErrorDate: now - 30, lastErrorMessage: "recent" }) } as const;
    const later = { status: "ok", info: info({ lastErrorDate: now + 50, lastErrorMessage: "later" }) } as const;

    const first = webhookCheck(ctx(clock), new ScriptedWebhook([old]), WEBHOOK, null);
    expect(byName((await first.run()) as SignalOutcome[])[WEBHOOK_SIGNALS.error]?.status).toBe("ok");

    const check = webhookCheck(ctx(clock), new ScriptedWebhook([recent, recent, recent, recent, later]), WEBHOOK, null);
    expect(failed((await check.run()) as SignalOutcome[])).toEqual(['Telegram webhook: Telegram could not deliver: "recent"']);
    // Telegram backs off between redeliveries: the error stands for QUIET_LOOKS looks without a newer one.
    for (let look = 1; look < QUIET_LOOKS; look++) {
      clock.advance(60_000);
      expect(failed((await check.run()) as SignalOutcome[])).toEqual(['Telegram webhook: Telegram could not deliver: "recent"']);
    }
    clock.advance(60_000);
    expect(failed((await check.run()) as SignalOutcome[])).toEqual([]);
    clock.advance(60_000);
    expect(failed((await check.run()) as SignalOutcome[])).toEqual(['Telegram webhook: Telegram could not deliver: "later"']);
  });

  it("during our own deploy a backlog and delivery errors are not counted, and not reported afterwards", async () => {
    const clock = new FakeClock();
    const now = Math.floor(clock.now().getTime() / 1000);
    const busy = { status: "ok", info: info({ pendingUpdateCount: 500, lastErrorDate: now - 5, lastErrorMessage: "Connection refused", url: "" }) } as const;
    let changing = true;
    const check = webhookCheck({ target: "prod", clock, isTargetChanging: () => changing }, new ScriptedWebhook([busy, { status: "ok", info: info({ lastErrorDate: now - 5, lastErrorMessage: "Connection refused" }) }]), WEBHOOK, null);
    const during = byName((await check.run()) as SignalOutcome[]);
    expect(during[WEBHOOK_SIGNALS.pending]?.status).toBe("unknown");
    expect(during[WEBHOOK_SIGNALS.error]?.status).toBe("unknown");
    // A wrong URL is not something a deploy causes.
    expect(during[WEBHOOK_SIGNALS.url]?.status).toBe("failed");
    changing = false;
    clock.advance(60_000);
    expect(failed((await check.run()) as SignalOutcome[])).toEqual([]);
  });

  it("a refused token fails its own signal; an unreachable Bot API reports nothing", async () => {
    const clock = new FakeClock();
    const refused = webhookCheck(ctx(clock), new ScriptedWebhook([{ status: "refused", error: "401 Unauthorized" }]), WEBHOOK, null);
    expect(await refused.run()).toEqual([{ signal: WEBHOOK_SIGNALS.token, status: "failed", error: "Telegram webhook: Telegram refuses the app bot's token (401 Unauthorized)" }]);
    const down = webhookCheck(ctx(clock), new ScriptedWebhook([{ status: "unreachable", error: "ECONNREFUSED" }]), WEBHOOK, null);
    expect(await down.run()).toEqual([{ signal: WEBHOOK_SIGNALS.token, status: "unknown", reason: "ECONNREFUSED" }]);
  });
});

function cert(over: Partial<TlsCertificateReport> = {}): TlsCertificateReport {
  const now = new FakeClock().now().getTime();
  return { validFrom: new Date(now - 30 * DAY), validTo: new Date(now + 60 * DAY), names: ["quiz.example"], chainError: null, nameError: null, ...over };
}

describe("TLS check: what the certificate says", () => {
  const now = new FakeClock().now();

  it("valid for longer than warnDays: all ok", () => {
    expect(failed(judgeCertificate(cert(), TLS, now))).toEqual([]);
  });

  it("expiring within warnDays says in how many days, and the date", () => {
    const validTo = new Date(now.getTime() + 3 * DAY - 60_000);
    expect(failed(judgeCertificate(cert({ validTo }), TLS, now))).toEqual([`certificate for quiz.example expires in 3 days (${validTo.toISOString().slice(0, 10)})`]);
    expect(failed(judgeCertificate(cert({ validTo: new Date(now.getTime() + 3_600_000) }), { ...TLS, port: 8443 }, now))[0]).toMatch(/^certificate for quiz\.example:8443 expires in 1 day \(/);
  });

  it("expired: says so once (OpenSSL's CERT_HAS_EXPIRED is not also a chain problem)", () => {
    const validTo = new Date(now.getTime() - DAY);
    expect(failed(judgeCertificate(cert({ validTo, chainError: "CERT_HAS_EXPIRED" }), TLS, now))).toEqual([`certificate for quiz.example expired on ${validTo.toISOString().slice(0, 10)}`]);
  });

  it("a chain or a name that does not verify says which", () => {
    expect(failed(judgeCertificate(cert({ chainError: "DEPTH_ZERO_SELF_SIGNED_CERT" }), TLS, now))).toEqual([
      "certificate for quiz.example: the chain does not verify: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)",
    ]);
    expect(failed(judgeCertificate(cert({ names: ["other.example", "*.other.example"], nameError: "Hostname/IP does not match" }), TLS, now))).toEqual([
      "certificate for quiz.example: the name does not verify: the certificate is for other.example, *.other.example",
    ]);
    expect(failed(judgeCertificate(cert({ chainError: "SOMETHING_NEW" }), TLS, now))[0]).toContain("(SOMETHING_NEW)");
  });
});

class ScriptedProbe implements TlsProbe {
  calls = 0;
  constructor(private readonly answers: TlsProbeResult[]) {}
  async probe(): Promise<TlsProbeResult> {
    this.calls++;
    return this.answers.length > 1 ? this.answers.shift()! : this.answers[0]!;
  }
}

/** Lets the check's promise chain run until it waits on the clock again. */
const flush = () => new Promise((r) => setImmediate(r));

describe("TLS check: connecting (fake clock)", () => {
  it("a failed handshake is tried once more 5 s later before it counts", async () => {
    const clock = new FakeClock();
    const probe = new ScriptedProbe([{ status: "failed", error: "ECONNRESET" }, { status: "ok", certificate: cert() }]);
    const running = tlsCheck(ctx(clock), probe, TLS, null).run();
    await flush();
    expect(probe.calls).toBe(1);
    clock.advance(4_999);
    await flush();
    expect(probe.calls).toBe(1);
    clock.advance(1);
    expect(failed((await running) as SignalOutcome[])).toEqual([]);
    expect(probe.calls).toBe(2);

    const down = new ScriptedProbe([{ status: "failed", error: "ECONNREFUSED" }]);
    const failing = tlsCheck(ctx(clock), down, TLS, null).run();
    await flush();
    clock.advance(5_000);
    expect(await failing).toEqual([{ signal: TLS_SIGNALS.connect, status: "failed", error: "certificate for quiz.example cannot be read: ECONNREFUSED" }]);
  });

  it("monitoring stopping during the wait ends the look without a second try or a report", async () => {
    const clock = new FakeClock();
    const down = new ScriptedProbe([{ status: "failed", error: "ECONNREFUSED" }]);
    const stop = new AbortController();
    const running = tlsCheck(ctx(clock), down, TLS, null).run(stop.signal);
    await flush();
    stop.abort();
    expect(await running).toEqual([]);
    expect(down.calls).toBe(1);
  });
});

describe("webhook and TLS incidents (scheduler → engine → outbox)", () => {
  function setup() {
    const clock = new FakeClock();
    const store = new MemoryHealthStore();
    const service = new HealthService({ store, mutes: store, render: alertRenderer, clock, log: silentLog, alertChatIds: [-1], onQueued: () => {} });
    const scheduler = new CheckScheduler([], (s) => service.submit(s), clock, silentLog);
    return { clock, store, service, scheduler };
  }

  it("one incident for the webhook lists each failing signal, and recovers when all are well", async () => {
    const { clock, store, service, scheduler } = setup();
    await service.load();
    const now = Math.floor(clock.now().getTime() / 1000);
    const source = new ScriptedWebhook([
      { status: "ok", info: info({ url: "https://old.example/hook" }) },
      { status: "ok", info: info({ url: "https://old.example/hook", pendingUpdateCount: 250, lastErrorDate: now + 10, lastErrorMessage: "Read timeout expired" }) },
      { status: "ok", info: info({ lastErrorDate: now + 10, lastErrorMessage: "Read timeout expired" }) },
    ]);
    const check = webhookCheck(ctx(clock), source, WEBHOOK, null);
    await scheduler.runOnce(check);
    await service.idle();
    const [opened] = service.openIncidents();
    expect(opened?.key).toEqual({ target: "prod", source: "telegram", subject: "webhook" });
    expect(alertLine(opened!)).toBe(`🔴 prod: Telegram webhook: URL is https://old.example/hook (expected ${EXPECT})`);

    clock.advance(60_000);
    await scheduler.runOnce(check);
    await service.idle();
    const worse = service.openIncidents()[0]!;
    expect(service.openIncidents()).toHaveLength(1);
    expect(renderAlertMessage([worse])).toMatch(/^🔴 prod: Telegram webhook — 3 of 3 signals failing\n• .*URL is.*\n• .*250 updates waiting.*\n• .*"Read timeout expired"/);

    // URL and backlog fixed; the delivery error stands until QUIET_LOOKS looks saw no newer one.
    for (let look = 1; look < QUIET_LOOKS; look++) {
      clock.advance(60_000);
      await scheduler.runOnce(check);
      await service.idle();
      expect(service.openIncidents()[0]?.signals.filter((s) => s.failing).map((s) => s.name)).toEqual([WEBHOOK_SIGNALS.error]);
    }
    clock.advance(60_000);
    await scheduler.runOnce(check);
    await service.idle();
    expect(service.openIncidents()).toEqual([]);
    const resolved = [...store.incidents.values()][0]!;
    expect(recoveryLine(resolved)).toBe("🟢 prod: Telegram webhook recovered after 4 min 0 s");
    // One alert and one recovery; the signals joining and leaving are edits of that alert.
    expect(store.outbox.filter((o) => o.kind !== "update").map((o) => o.kind)).toEqual(["open", "recovery"]);
  });

  it("a certificate about to expire opens one incident per host; a renewed one recovers it", async () => {
    const { clock, service, scheduler } = setup();
    await service.load();
    const probe = new ScriptedProbe([
      { status: "ok", certificate: cert({ validTo: new Date(clock.now().getTime() + 3 * DAY) }) },
      { status: "ok", certificate: cert({ validTo: new Date(clock.now().getTime() + 90 * DAY) }) },
    ]);
    const check = tlsCheck(ctx(clock), probe, TLS, null);
    await scheduler.runOnce(check);
    await service.idle();
    const [opened] = service.openIncidents();
    expect(opened?.key).toEqual({ target: "prod", source: "tls", subject: "quiz.example" });
    expect(alertLine(opened!)).toMatch(/^🔴 prod: certificate for quiz\.example expires in 3 days \(\d{4}-\d\d-\d\d\)$/);
    clock.advance(3_600_000);
    await scheduler.runOnce(check);
    await service.idle();
    expect(service.openIncidents()).toEqual([]);
  });
});
