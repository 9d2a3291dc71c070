import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents } from "../../src/infra/db/schema/index.js";
import * as h from "../support/health-harness.js";

/**
 * One incident per failing thing, against the sandbox (see test/support/health-harness.ts): the
 * container and the HTTP check of web on one message, mutes that cover the service, /mute and
 * /unmute, flapping, a new signal on an acknowledged incident, and inhibition while sshd is down.
 */

h.useHealthHarness("health_incidents");

describe("one incident per failing thing (sandbox + Postgres + emulator)", () => {
  it("docker kill web with both monitors: one message naming both signals, one recovery with the outage duration", async () => {
    const mark = h.telegram.messages.length;
    const id = await h.webId();
    const killedAt = Date.now();
    await h.docker("kill", id);
    const alert = await h.next((m) => /🔴 prod: web exited \(code 137\)/.test(m.text), 2_000);
    expect(alert.sentAt.getTime() - killedAt).toBeLessThan(2_000);
    expect(alert.replyMarkup?.inline_keyboard.flat().map((b) => b.text)).toEqual(["Ack", "Mute 1h", "Mute 24h"]);
    // The HTTP check fails twice, one second apart: it joins the same message, edited in place.
    await h.waitUntil("both signals on the alert", () => (/web — 2 of 2 signals failing/.test(alert.text) ? true : undefined), 10_000);
    expect(alert.text).toMatch(/• web exited \(code 137\)\n• HTTP check web: /);

    await h.compose("up", "-d");
    const recovery = await h.next((m) => /^🟢 prod: web recovered after \d/.test(m.text), 20_000);
    const seconds = Number(/after ([\d.]+) s/.exec(recovery.text)?.[1] ?? NaN);
    expect(seconds).toBeGreaterThanOrEqual(2);
    await h.waitUntil("the alert edited to resolved", () => (/resolved after/.test(alert.text) ? true : undefined), 5_000);
    expect(alert.replyMarkup?.inline_keyboard ?? []).toEqual([]);
    await h.marker();
    // One alert, edited, never re-sent; one recovery; nothing about web's HTTP check on its own.
    expect(h.sentSince(mark, (m) => /prod: web/.test(m.text) && !/^🟢/.test(m.text))).toHaveLength(1);
    expect(h.sentSince(mark, (m) => /^🟢 prod: web recovered/.test(m.text))).toHaveLength(1);
    expect(h.sentSince(mark, (m) => /HTTP check web/.test(m.text) && m.messageId !== alert.messageId)).toEqual([]);
    await h.settled();
  });

  it("[Mute 1h], then kill web again: nothing posted; /unmute web, then kill again: an alert", async () => {
    await h.docker("kill", await h.webId());
    const alert = await h.next((m) => /🔴 prod: web exited/.test(m.text), 3_000);
    expect((await h.press(alert, "Mute 1h")).text).toBe("Muted for 1 h.");
    await h.compose("up", "-d");
    await h.settled();

    const afterMute = h.telegram.messages.length;
    await h.docker("kill", await h.webId());
    // Both signals recorded under the mute (the container at once, the HTTP check after two failures).
    await h.waitUntil("web's muted incident with both signals", () =>
      h.health!.alerts.openIncidents().find((i) => i.key.subject === "web" && i.state === "muted" && i.signals.length === 2),
    );
    await h.compose("up", "-d");
    await h.settled();
    await h.marker();
    expect(h.sentSince(afterMute, (m) => /prod: web/.test(m.text))).toEqual([]);
    
    expect((await h.say("/unmute web")).text).toBe("🔔 Unmuted web on prod. Alerts about it are sent again.");
    const [unmuteAudit] = await h.database.db.select().from(auditEvents).where(eq(auditEvents.action, "alerts.unmute"));
    expect(unmuteAudit).toMatchObject({ userId: h.ALICE.id, outcome: "confirmed", args: { name: "web" } });
    await h.docker("kill", await h.webId());
    await h.next((m) => /🔴 prod: web exited/.test(m.text) && m.index >= afterMute, 3_000);
    await h.compose("up", "-d");
    await h.settled();
  });

  it("/mute web 30m reason is listed by /alerts with who, until when and why", async () => {
    const muted = await h.say("/mute web 30m load test");
    expect(muted.text).toMatch(/^🔕 Muted web on prod for 30 min \(until .* UTC\): load test\.$/);
    const mark = h.telegram.messages.length;
    await h.bot.handleUpdate(h.telegram.sendCommand({ id: h.CHAT, type: "supergroup" }, h.ALICE, "/alerts"));
    const list = await h.waitUntil("the /alerts reply", () => h.telegram.messages.slice(mark).find((m) => m.chatId === h.CHAT && /mute/.test(m.text)), 5_000);
    expect(list.text).toMatch(/🔕 web on prod until .* UTC, by @alice: load test/);
    await h.say("/unmute web");
  });

  it("five kill/start cycles of web within a minute: one flapping incident, not a stream of pairs", async () => {
    await h.health!.stop();
    await h.startMonitoring({}, { flappingOpensPerHour: 4 });
    const mark = h.telegram.messages.length;
    for (let i = 0; i < 5; i++) {
      await h.docker("kill", await h.webId());
      await h.waitUntil("web down seen", () => h.health!.alerts.openIncidents().find((x) => x.key.subject === "web"), 5_000);
      await h.compose("up", "-d");
      if (i < 4) await h.waitUntil("web recovered", () => (h.health!.alerts.openIncidents().some((x) => x.key.subject === "web") ? undefined : true), 20_000);
    }
    const flapping = await h.next((m) => m.index >= mark && /web is flapping \(5 outages within 1 h\)/.test(m.text), 10_000);
    // The fifth outage's recovery does not resolve it: it resolves after a quiet spell (4 s here).
    await h.next((m) => m.index > flapping.index && /^🟢 prod: web recovered/.test(m.text), 30_000);
    expect(h.sentSince(mark, (m) => /flapping/.test(m.text))).toHaveLength(1);
    expect(h.sentSince(mark, (m) => /^🟢 prod: web recovered/.test(m.text))).toHaveLength(5);
    await h.settled();
    await h.health!.stop();
    await h.startMonitoring();
  });

  it("a new signal joining an acknowledged incident posts it once more", async () => {
    const id = await h.webId();
    await h.docker("exec", id, "rm", "/www/health");
    const alert = await h.next((m) => /🔴 prod: HTTP check web: status 404/.test(m.text), 10_000);
    expect((await h.press(alert, "Ack")).text).toMatch(/^Acknowledged/);
    await h.docker("kill", id); // the container signal joins the acked incident
    const again = await h.next((m) => m.messageId !== alert.messageId && /🔴 prod: web — 2 of 2 signals failing/.test(m.text), 5_000);
    expect(again.text).toMatch(/acked by @alice/);
    await h.compose("up", "-d");
    await h.docker("exec", await h.webId(), "sh", "-c", "echo ok > /www/health");
    await h.next((m) => /^🟢 prod: web recovered/.test(m.text), 30_000);
    await h.marker();
    expect(h.sentSince(h.testMark, (m) => /^🔴 prod: (web|HTTP check web)/.test(m.text)).map((m) => m.messageId)).toEqual([alert.messageId, again.messageId]);
    await h.settled();
  });

  it("sshd stops: one unreachable incident, no Docker or HTTP alerts; back while web is down: web's incident appears", async () => {
    await h.health!.stop();
    await h.startMonitoring({}, { reachabilityIntervalSeconds: 5 });
    await h.say("/unmute web"); // the test before muted it for an hour
    const mark = h.telegram.messages.length;
    const listener = await h.sshdPid();
    // Freeze the listener (new connections hang before the SSH banner) and end the open sessions.
    process.kill(listener, "SIGSTOP");
    try {
      for (const child of await h.childPids(listener)) process.kill(child, "SIGKILL");
      await h.docker("kill", await h.webId());
      const down = await h.next((m) => m.index >= mark && /🔴 prod: not answering over SSH/.test(m.text), 60_000);
      expect(down.text).toMatch(/its Docker, HTTP and disk alerts are held back until it answers/);
      expect(h.sentSince(mark, (m) => /prod: web|HTTP check/.test(m.text))).toEqual([]);
    } finally {
      process.kill(listener, "SIGCONT");
    }
    // Back: the recovery of the target, and web (still down) is alerted now, once.
    await h.next((m) => m.index >= mark && /^🟢 prod: SSH reachability recovered/.test(m.text), 60_000);
    const web = await h.next((m) => m.index >= mark && /🔴 prod: (web|HTTP check web)/.test(m.text), 30_000);
    expect(h.sentSince(mark, (m) => /^🔴 prod: not answering over SSH/.test(m.text))).toHaveLength(1);
    expect(h.sentSince(mark, (m) => /^🔴 prod: (web|HTTP check web)/.test(m.text))).toEqual([web]);
    await h.compose("up", "-d");
    await h.settled();
    await h.health!.stop();
    await h.startMonitoring();
  });
});
