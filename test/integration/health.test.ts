import { eq } from "drizzle-orm";
import { Api } from "grammy";
import { describe, expect, it } from "vitest";
import { fileSchema } from "../../src/config/file.js";
import { startHealth } from "../../src/health/index.js";
import { openDatabase } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { AlertOutboxRepo } from "../../src/infra/db/repos/alert-outbox.js";
import { auditEvents, backups, incidents, payoutsState } from "../../src/infra/db/schema/index.js";
import { TelegramNotifier } from "../../src/infra/telegram/notifier.js";
import { createTargetConnections } from "../../src/infra/targets.js";
import type { BotMessage } from "../emulator/bot-api-emulator.js";
import { createTestDatabase } from "../support/db.js";
import * as h from "../support/health-harness.js";
import { freePort } from "../support/ports.js";

/**
 * Health alerts against the real thing (see test/support/health-harness.ts): Docker events and
 * HTTP checks through the sandbox, delivery through the durable outbox, Ack and Mute, restarts.
 * One incident per failing thing, mutes, inhibition and flapping: health-incidents.test.ts.
 */

h.useHealthHarness("health");

describe("health alerts (sandbox + Postgres + emulator)", () => {
  it("health file removed: the HTTP alert after failuresBeforeAlert × interval; recovery once restored", async () => {
    const id = await h.webId();
    const removedAt = Date.now();
    await h.docker("exec", id, "rm", "/www/health");
    const alert = await h.next((m) => /HTTP check web: status 404 \(expected 200\)/.test(m.text), 10_000);
    const after = alert.sentAt.getTime() - removedAt;
    // Two failed checks one second apart, then the coalescing window.
    expect(after).toBeGreaterThanOrEqual((h.HTTP.failuresBeforeAlert - 1) * h.HTTP.intervalSeconds * 1000);
    expect(after).toBeLessThan(6_000);
    await h.docker("exec", id, "sh", "-c", "echo ok > /www/health");
    // The check names the service web: its recovery is web's.
    await h.next((m) => /🟢 prod: web recovered after/.test(m.text), 10_000);
    await h.settled();
  });

  it("a burst: 20 worker containers killed at once make at most 2 messages", async () => {
    await h.compose("up", "-d", "--scale", "worker=20");
    const ids = (await h.compose("ps", "-q", "worker")).split("\n").filter(Boolean);
    expect(ids).toHaveLength(20);
    await h.sleep(1_500); // let the monitor's next listing see them running
    const mark = h.telegram.messages.length;
    await h.docker("kill", ...ids);
    const first = await h.next((m) => /worker/.test(m.text), 3_000);
    // The incident lists them (edited in place as the last deaths arrive).
    await h.waitUntil("all 20 listed", () => (/worker: 20 containers down/.test(first.text) ? true : undefined), 20_000);
    await h.compose("up", "-d", "--scale", "worker=1");
    // The recovery is queued after every death was handled: whatever else the burst sent came before it.
    const recovery = await h.next((m) => /🟢 prod: worker recovered/.test(m.text), 30_000);
    const messages = h.sentSince(mark).filter((m) => m.index < recovery.index);
    expect(messages.length).toBeGreaterThanOrEqual(1);
    expect(messages.length).toBeLessThanOrEqual(2);
    await h.settled();
  });

  it("Telegram answers 429 retry_after 3: the alert arrives after the wait, exactly once", async () => {
    const mark = h.telegram.messages.length;
    h.telegram.failNext("sendMessage", { status: 429, retryAfter: 3 });
    const killedAt = Date.now();
    await h.docker("kill", await h.webId());
    const alert = await h.next((m) => /🔴 prod: web exited/.test(m.text), 10_000);
    expect(alert.sentAt.getTime() - killedAt).toBeGreaterThanOrEqual(3_000);
    const refused = h.telegram.calls.filter((c) => c.method === "sendMessage" && c.fault && "status" in c.fault && c.fault.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    await h.compose("up", "-d");
    await h.next((m) => /🟢 prod: web recovered/.test(m.text), 20_000);
    expect(h.sentSince(mark, (m) => /^🔴 prod: web exited/.test(m.text))).toHaveLength(1);
    await h.settled();
  });

  it("an expected change (our own deploy recreating web) raises no alert", async () => {
    const mark = h.telegram.messages.length;
    const change = h.health!.expected.expect("prod", ["web"], Date.now() + 120_000);
    const before = await h.webId();
    await h.compose("up", "-d", "--force-recreate", "web");
    expect(await h.webId()).not.toBe(before);
    await h.waitUntil("web healthy again", async () => (await h.docker("inspect", "-f", "{{.State.Health.Status}}", await h.webId())) === "healthy" || undefined, 30_000);
    change.end();
    await h.marker();
    expect(h.sentSince(mark, (m) => /web/.test(m.text))).toEqual([]);
    // The change's grace period for trailing events (5 s) must be over before the next test kills web.
    const registry = h.health!.expected as unknown as { isTargetChanging(target: string): boolean };
    await h.waitUntil("the expected change's grace period over", () => (registry.isTargetChanging("prod") ? undefined : true), 10_000);
    expect(h.health!.alerts.openIncidents()).toEqual([]);
    await h.settled();
  });

  it("restart while an incident is open: no duplicate message, and the recovery still comes", async () => {
    const mark = h.telegram.messages.length;
    await h.docker("kill", await h.webId());
    await h.next((m) => /🔴 prod: web exited/.test(m.text), 3_000);
    await h.health!.stop();
    const [row] = await h.database.db.select().from(incidents).where(eq(incidents.state, "open"));
    expect(row?.messages).toHaveLength(1); // the message id survives in the DB
    await h.startMonitoring({ remindEveryMs: 2_000 });
    await h.sleep(1_500);
    await h.compose("up", "-d");
    await h.next((m) => /🟢 prod: web recovered/.test(m.text), 20_000);
    // This instance reminds every 2 s, so "⏰ … still down" messages may come; the alert itself is not repeated.
    const alerts = h.sentSince(mark, (m) => /^🔴 prod: web exited/.test(m.text));
    expect(alerts).toHaveLength(1);
    // The recovery edited the original message (same message id), not a copy.
    const original = alerts[0]!;
    await h.waitUntil("the original edited to resolved", () => (/resolved after/.test(original.text) ? true : undefined), 5_000);
    expect(original.messageId).toBe(row?.messages[0]?.messageId);
    // Everything queued was delivered, nothing given up.
    const repo = new AlertOutboxRepo(h.database.db);
    await h.waitUntil("an empty outbox", async () => ((await repo.pending(10)).length === 0 ? true : undefined), 15_000);
    expect((await repo.all()).filter((o) => o.givenUpAt !== null)).toEqual([]);
    await h.settled();
  });

  it("Ack stops reminders (and is audited); Mute keeps the key silent until it ends", async () => {
    // This instance reminds every 2 s (started by the restart test).
    const id = await h.webId();
    await h.docker("exec", id, "rm", "/www/health");
    const alert = await h.next((m) => /HTTP check web: status 404/.test(m.text) && !m.text.startsWith("⏰"), 10_000);
    await h.next((m) => m.text.startsWith("⏰") && /HTTP check web/.test(m.text), 6_000);

    const answer = await h.press(alert, "Ack");
    expect(answer.text).toMatch(/^Acknowledged/);
    const [ackRow] = await h.database.db.select().from(auditEvents).where(eq(auditEvents.action, "alerts.ack"));
    expect(ackRow).toMatchObject({ userId: h.ALICE.id, username: "alice", target: "prod", outcome: "confirmed" });
    await h.waitUntil("the alert shows the ack", () => (/acked by @alice/.test(alert.text) ? true : undefined), 5_000);
    const afterAck = h.telegram.messages.length;
    // Marker: an unacked incident opened after the ack gets its reminder; the acked one, older, would have had its own by then.
    await h.docker("kill", await h.compose("ps", "-q", "worker"));
    await h.waitUntil("a reminder of worker", () => h.sentSince(afterAck, (m) => m.text.startsWith("⏰") && /worker/.test(m.text))[0], 15_000);
    await h.compose("up", "-d", "worker");
    await h.waitUntil("worker recovered", () => h.sentSince(afterAck, (m) => /🟢 prod: worker recovered/.test(m.text))[0], 20_000);
    expect(h.sentSince(afterAck, (m) => m.text.startsWith("⏰") && /HTTP check web/.test(m.text))).toEqual([]);

    const muted = await h.press(alert, "Mute 1h");
    expect(muted.text).toBe("Muted for 1 h.");
    await h.waitUntil("the alert shows the mute", () => (/muted until/.test(alert.text) ? true : undefined), 5_000);
    const afterMute = h.telegram.messages.length;
    await h.docker("exec", id, "sh", "-c", "echo ok > /www/health");
    await h.waitUntil("the HTTP incident resolved", () =>
      h.health!.alerts.openIncidents().some((i) => i.key.subject === "web") ? undefined : true,
    );
    await h.docker("exec", id, "rm", "/www/health");
    await h.waitUntil("the HTTP incident reopened (muted)", () =>
      h.health!.alerts.openIncidents().find((i) => i.key.subject === "web" && i.state === "muted"),
    );
    await h.marker();
    // Neither the recovery nor the new failure of the muted key reached the chat.
    expect(h.sentSince(afterMute, (m) => /HTTP check web/.test(m.text))).toEqual([]);
    const [muteAudit] = await h.database.db.select().from(auditEvents).where(eq(auditEvents.action, "alerts.mute"));
    expect(muteAudit).toMatchObject({ userId: h.ALICE.id, args: { minutes: 60 } });
    await h.docker("exec", id, "sh", "-c", "echo ok > /www/health");
    await h.settled();
  });

  it("disk, backup age, payouts reminder and reachability against the real target and database", async () => {
    // A second instance on its own database and chat, so its alerts do not mix with the ones above.
    const AUX_CHAT = -1005678;
    const aux = await openDatabase({ url: createTestDatabase("health_aux"), dataDir: "/unused" });
    await migrate(aux);
    const deadPort = await freePort();
    const parsed = fileSchema.parse({
      targets: {
        aux: {
          host: `ssh://${h.sandbox.ssh.username}@127.0.0.1:${h.sandbox.ssh.port}`,
          ssh: { privateKeyPath: h.sandbox.ssh.privateKeyPath, knownHostsPath: h.sandbox.ssh.knownHostsPath },
          appDir: h.sandbox.appDir,
          compose: { command: "docker-compose", project: "nosuchproject" },
          // reminderMinutes 0: aux's incidents are never reminded (gone's, every 1.2 s, show reminders do run).
          health: { disk: { path: "/", warnPercent: 1, intervalSeconds: 5 }, backupMaxAgeHours: 1, payoutsPausedReminderMinutes: 0.02, reminderMinutes: 0 },
        },
        gone: {
          host: `ssh://${h.sandbox.ssh.username}@127.0.0.1:${deadPort}`,
          ssh: { privateKeyPath: h.sandbox.ssh.privateKeyPath, knownHostsPath: h.sandbox.ssh.knownHostsPath, connectTimeoutSeconds: 2 },
          appDir: h.sandbox.appDir,
          compose: { command: "docker-compose", project: "gone" },
          health: { reachabilityIntervalSeconds: 5, reminderMinutes: 0.02 },
        },
      },
    }).targets;
    const auxConn = createTargetConnections("aux", parsed.aux!, h.log);
    const goneConn = createTargetConnections("gone", parsed.gone!, h.log);
    // A backup older than the window: alerts at once (with none at all, the window counts from today).
    await aux.db.insert(backups).values({ target: "aux", status: "succeeded", path: "/backups/old.dump", createdAt: new Date(Date.now() - 2 * 3_600_000) });
    await aux.db.insert(payoutsState).values({ target: "aux", paused: true, byName: "alice", reason: "fraud check", since: new Date(Date.now() - 3_600_000) });
    const second = await startHealth({
      ...h.healthPorts(aux.db),
      notifier: new TelegramNotifier(new Api(h.telegram.token, { apiRoot: h.telegram.apiRoot }), { log: h.log, perChatIntervalMs: 200 }),
      targets: {
        aux: { shell: auxConn.shell, docker: auxConn.docker, project: auxConn.project, config: parsed.aux!.health },
        gone: { shell: goneConn.shell, docker: goneConn.docker, project: goneConn.project, config: parsed.gone!.health },
      },
      alertChatIds: [AUX_CHAT],
      log: h.log,
      tuning: { coalesceMs: 200, backupCheckIntervalMs: 500, payoutsCheckIntervalMs: 500, tickMs: 200, outboxPollMs: 500 },
    });
    const inAux = (re: RegExp) => (m: BotMessage) => m.chatId === AUX_CHAT && re.test(m.history[0]?.text ?? m.text);
    // Alerts that open together share one message (coalesced), so look without consuming.
    const seen = (re: RegExp, timeoutMs = 10_000) => h.waitUntil(`a message matching ${re}`, () => h.telegram.messages.find(inAux(re)), timeoutMs);
    try {
      await seen(/🔴 aux: disk \/ is \d+% full \(warning at 1%\)/);
      await seen(/🔴 aux: no successful backup since .* UTC \(max age 1 h\)/);
      await seen(/🔴 aux: payouts paused since .* by @alice: fraud check/);
      // The payouts reminder repeats at its interval while paused.
      await h.waitUntil("two payouts reminders", () => (h.telegram.messages.filter(inAux(/^⏰ aux: payouts paused since/)).length >= 2 ? true : undefined));
      await seen(/🔴 gone: not answering over SSH/, 20_000);
      // Marker: two reminders of gone's incident (opened after aux's disk alert) have come; aux's disk alert, older, got none.
      await h.waitUntil("two reminders of gone", () => (h.telegram.messages.filter(inAux(/⏰ gone: still down/)).length >= 2 ? true : undefined), 15_000);
      expect(h.telegram.messages.filter(inAux(/⏰ aux: still down/))).toEqual([]);

      await aux.db.insert(backups).values({ target: "aux", status: "succeeded", path: "/backups/aux.dump", createdAt: new Date() });
      await seen(/^🟢 aux: backups are fresh again after/);
      await aux.db.update(payoutsState).set({ paused: false }).where(eq(payoutsState.target, "aux"));
      await seen(/^🟢 aux: payouts resumed/);
      const reminders = h.telegram.messages.filter(inAux(/^⏰ aux: payouts/)).length;
      await h.sleep(2_000);
      expect(h.telegram.messages.filter(inAux(/^⏰ aux: payouts/)).length).toBe(reminders); // resolved: no more
    } finally {
      await second.stop();
      await auxConn.close();
      await goneConn.close();
      await aux.close();
    }
  });
});
