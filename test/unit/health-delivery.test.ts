import { alertRenderer } from "../../src/bot/alerts/render.js";
import { describe, expect, it } from "vitest";
import { OutboxDispatcher } from "../../src/health/dispatcher.js";
import { HealthService } from "../../src/health/service.js";
import type { AlertPolicy, Signal } from "../../src/health/types.js";
import { TelegramSendError } from "../../src/infra/telegram/errors.js";
import { FakeClock, MemoryHealthStore, RecordingNotifier, silentLog } from "./health-fakes.js";

const CHAT = -1001;
const event: AlertPolicy = { failuresBeforeAlert: 1, successesBeforeRecovery: 1, remindEveryMs: null };

function died(service: string, at: Date, code = 137): Signal {
  return { key: { target: "prod", source: "docker", subject: service }, at, ok: false, error: `${service} exited (code ${code})`, policy: event };
}
function diedWith(service: string, at: Date, error: string): Signal {
  return { key: { target: "prod", source: "docker", subject: service }, at, ok: false, error, policy: event };
}
function healthy(service: string, at: Date): Signal {
  return { key: { target: "prod", source: "docker", subject: service }, at, ok: true, policy: event };
}

async function setup(store = new MemoryHealthStore(), clock = new FakeClock()) {
  const notifier = new RecordingNotifier();
  const dispatcher = new OutboxDispatcher({ outbox: store, incidents: store, mutes: store, render: alertRenderer, notifier, clock, log: silentLog, coalesceMs: 400 });
  const service = new HealthService({ store, mutes: store, render: alertRenderer, clock, log: silentLog, alertChatIds: [CHAT], onQueued: () => {} });
  await service.load();
  return { store, clock, notifier, dispatcher, service };
}

describe("coalescing", () => {
  it("a burst of 20 containers dying within the window makes ONE message listing them", async () => {
    const { clock, notifier, dispatcher, service } = await setup();
    for (let n = 1; n <= 20; n++) {
      await service.submit(died(`worker${n}`, clock.now()));
      clock.advance(15); // 20 deaths over 300 ms
    }
    // Still inside the window of the first: nothing sent yet, and the dispatcher says when to look again.
    const wait = await dispatcher.runOnce();
    expect(notifier.calls).toEqual([]);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(400);
    clock.advance(wait);
    await dispatcher.runOnce();
    expect(notifier.sends()).toHaveLength(1);
    const text = notifier.sends()[0]!.text;
    expect(text).toContain("🔴 20 of 20 problems open");
    for (let n = 1; n <= 20; n++) expect(text).toContain(`worker${n} exited (code 137)`);
    expect(notifier.sends()[0]!.options?.buttons?.[0]?.map((b) => b.text)).toEqual(["Ack", "Mute 1h", "Mute 24h"]);
  });

  it("recoveries of a burst coalesce too, and the original message is edited to resolved", async () => {
    const { clock, notifier, dispatcher, service, store } = await setup();
    for (const s of ["web", "worker"]) await service.submit(died(s, clock.now()));
    clock.advance(500);
    await dispatcher.runOnce();
    clock.advance(3 * 60_000 + 11_500);
    for (const s of ["web", "worker"]) await service.submit(healthy(s, clock.now()));
    await dispatcher.runOnce();
    const sends = notifier.sends();
    expect(sends).toHaveLength(2);
    expect(sends[1]!.text).toBe("🟢 2 recovered\n🟢 prod: web recovered after 3 min 12 s\n🟢 prod: worker recovered after 3 min 12 s");
    const edits = notifier.edits();
    expect(edits).toHaveLength(1); // two incidents on one message: one edit
    expect(edits[0]!.text).toContain("🟢 all 2 problems resolved");
    expect(edits[0]!.options?.buttons).toEqual([]); // buttons removed
    expect([...store.outbox].every((o) => o.deliveredAt)).toBe(true);
  });
});

describe("delivery", () => {
  it("while down, the one message is edited, not repeated", async () => {
    const { clock, notifier, dispatcher, service } = await setup();
    await service.submit(died("web", clock.now()));
    clock.advance(500);
    await dispatcher.runOnce();
    for (let i = 0; i < 5; i++) {
      clock.advance(10_000);
      await service.submit(died("web", clock.now())); // same text: nothing
    }
    await service.submit(diedWith("web", clock.now(), "web is in a restart loop: 3 exits in 5 min 0 s"));
    await dispatcher.runOnce();
    expect(notifier.sends()).toHaveLength(1);
    expect(notifier.edits()).toHaveLength(1);
    expect(notifier.edits()[0]).toMatchObject({ messageId: 100 });
    expect(notifier.edits()[0]!.text).toContain("restart loop");
  });

  it("a retry_after postpones the chat's queue: the recovery never overtakes its alert, nothing is duplicated", async () => {
    const { clock, notifier, dispatcher, service, store } = await setup();
    notifier.failures.push(new TelegramSendError("rate limited", "sendMessage", 429, 3_000, false, 4));
    await service.submit(died("web", clock.now()));
    clock.advance(500);
    await dispatcher.runOnce();
    expect(notifier.calls).toEqual([]);
    expect(store.outbox[0]).toMatchObject({ attempts: 1, lastError: "rate limited, retry after 3000 ms" });
    clock.advance(1_000);
    await service.submit(healthy("web", clock.now()));
    expect(await dispatcher.runOnce()).toBeGreaterThan(0); // head not due yet: nothing goes
    expect(notifier.calls).toEqual([]);
    clock.advance(2_000);
    await dispatcher.runOnce();
    expect(notifier.calls.map((c) => c.method)).toEqual(["send", "send", "edit"]);
    expect(notifier.calls[0]!.text).toContain("🟢 prod: web exited (code 137)"); // rendered from current state
    expect(notifier.calls[1]!.text).toBe("🟢 prod: web recovered after 1.5 s");
  });

  it("keeps retrying transient failures with a capped backoff, and gives up only on permanent refusals", async () => {
    const { clock, notifier, dispatcher, service, store } = await setup();
    for (let i = 0; i < 8; i++) notifier.failures.push(new TelegramSendError("502", "sendMessage", 502, null, false, 4));
    await service.submit(died("web", clock.now()));
    clock.advance(500);
    for (let i = 0; i < 8; i++) {
      await dispatcher.runOnce();
      clock.advance(60_000);
    }
    expect(store.outbox[0]!.attempts).toBe(8);
    await dispatcher.runOnce();
    expect(notifier.sends()).toHaveLength(1); // delivered once Telegram answered again

    notifier.failures.push(new TelegramSendError("403 bot was blocked", "sendMessage", 403, null, true, 1));
    await service.submit(died("worker", clock.now()));
    clock.advance(500);
    await dispatcher.runOnce();
    expect(store.outbox.at(-1)).toMatchObject({ givenUpAt: clock.now(), lastError: "403 bot was blocked" });
  });

  it("after a restart on the same store: no duplicate alert, and the recovery edits the original", async () => {
    const store = new MemoryHealthStore();
    const clock = new FakeClock();
    const a = await setup(store, clock);
    await a.service.submit(died("web", clock.now()));
    clock.advance(500);
    await a.dispatcher.runOnce();
    expect(a.notifier.sends()).toHaveLength(1);

    const b = await setup(store, clock); // "restarted" process
    clock.advance(59_500);
    await b.service.submit(died("web", clock.now())); // docker re-check after restart: still down
    await b.dispatcher.runOnce();
    expect(b.notifier.calls).toEqual([]);
    await b.service.submit(healthy("web", clock.now()));
    await b.dispatcher.runOnce();
    expect(b.notifier.sends().map((c) => c.text)).toEqual(["🟢 prod: web recovered after 1 min 0 s"]);
    expect(b.notifier.edits()).toMatchObject([{ messageId: 100 }]);
  });

  it("Ack and Mute through the service: audit-ready results, edits, and the mute keeps later alerts quiet", async () => {
    const { clock, notifier, dispatcher, service, store } = await setup();
    await service.submit(died("web", clock.now()));
    clock.advance(500);
    await dispatcher.runOnce();
    const incidentId = [...store.incidents.keys()][0]!;
    const message = { chatId: CHAT, messageId: 100 };
    const actor = { chatId: CHAT, userId: 7, username: "alice" };
    expect(await service.ack(incidentId, message, actor)).toMatchObject({ status: "done" });
    expect(await service.ack(incidentId, message, actor)).toEqual({ status: "nothing" });
    expect(await service.mute(incidentId, message, 60, actor)).toMatchObject({ status: "done" });
    await dispatcher.runOnce();
    expect(notifier.edits().at(-1)!.text).toMatch(/acked by @alice · muted until 13:00:00 UTC/);
    clock.advance(60_000);
    await service.submit(healthy("web", clock.now()));
    await service.submit(died("web", clock.now()));
    await service.submit(healthy("web", clock.now()));
    clock.advance(1_000);
    await dispatcher.runOnce();
    expect(notifier.sends()).toHaveLength(1); // only the original alert
    expect(store.mutes.get("prod:docker:web")?.until).toEqual(new Date(Date.UTC(2026, 10, 22, 13, 0, 0) + 500));
  });
});

describe("storage failures", () => {
  it("a monitor's signal never rejects when the store fails; the next change is persisted again", async () => {
    const { clock, service, store } = await setup();
    const save = store.saveIncident.bind(store);
    store.saveIncident = async () => {
      throw new Error("connection refused");
    };
    await expect(service.submit(died("web", clock.now()))).resolves.toBeUndefined();
    store.saveIncident = save;
    await service.submit({ ...healthy("web", clock.now()) });
    expect([...store.incidents.values()]).toMatchObject([{ state: "resolved" }]);
  });
});

describe("an incident raised while the database is down", () => {
  it("is stored and alerted once the database is back (the next tick retries), in order, with its recovery", async () => {
    const store = new MemoryHealthStore();
    const { clock, notifier, dispatcher, service } = await setup(store);
    const save = store.saveIncident.bind(store);
    let down = true;
    store.saveIncident = async (...args) => {
      if (down) throw new Error("connect ECONNREFUSED");
      return save(...args);
    };
    await service.submit(died("web", clock.now()));
    clock.advance(500);
    await dispatcher.runOnce();
    expect(notifier.sends()).toEqual([]);
    expect(store.outbox).toEqual([]);

    down = false;
    await service.tick();
    clock.advance(500);
    await dispatcher.runOnce();
    expect(notifier.sends().map((m) => m.text)).toEqual([expect.stringContaining("web exited (code 137)")]);
    await service.submit(healthy("web", clock.now()));
    await dispatcher.runOnce();
    expect(notifier.sends().at(-1)!.text).toMatch(/🟢 prod: web recovered/);
  });
});
