import { describe, expect, it } from "vitest";
import { IncidentEngine } from "../../src/health/engine.js";
import { recoveryLine, renderAlertMessage } from "../../src/bot/alerts/render.js";
import type { AlertPolicy, IncidentKey, Signal } from "../../src/health/types.js";
import { FakeClock } from "./health-fakes.js";

const http: IncidentKey = { target: "prod", source: "http", subject: "api" };
const web: IncidentKey = { target: "prod", source: "docker", subject: "web" };
const twoTwo: AlertPolicy = { failuresBeforeAlert: 2, successesBeforeRecovery: 2, remindEveryMs: null };
const event: AlertPolicy = { failuresBeforeAlert: 1, successesBeforeRecovery: 1, remindEveryMs: null };
const alice = { chatId: -100, userId: 7, username: "alice" };

function fail(key: IncidentKey, at: Date, error = "HTTP check api: status 500 (expected 200)", policy = twoTwo): Signal {
  return { key, at, ok: false, error, policy };
}
function ok(key: IncidentKey, at: Date, policy = twoTwo): Signal {
  return { key, at, ok: true, policy };
}

describe("IncidentEngine thresholds", () => {
  it("opens after failuresBeforeAlert consecutive failures and resolves after successesBeforeRecovery successes", () => {
    const clock = new FakeClock();
    const engine = new IncidentEngine({ incidents: [], mutes: [] });
    const start = clock.now();
    expect(engine.observe(fail(http, clock.now()))).toEqual([]);
    clock.advance(15_000);
    const opened = engine.observe(fail(http, clock.now()));
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ type: "open", notify: true });
    // The outage started at the first failure, not when the threshold was reached.
    expect(opened[0]?.incident.openedAt).toEqual(start);

    clock.advance(15_000);
    expect(engine.observe(fail(http, clock.now()))).toEqual([]); // same error: no edit, no new message
    clock.advance(15_000);
    const recoveredAt = clock.now();
    expect(engine.observe(ok(http, clock.now()))).toEqual([]);
    clock.advance(15_000);
    const resolved = engine.observe(ok(http, clock.now()));
    expect(resolved).toHaveLength(1);
    expect(resolved[0]).toMatchObject({ type: "resolve", notify: true, durationMs: recoveredAt.getTime() - start.getTime() });
    expect(engine.openIncidents()).toEqual([]);
  });

  it("does not open for a flapping check (failures never consecutive)", () => {
    const clock = new FakeClock();
    const engine = new IncidentEngine({ incidents: [], mutes: [] });
    const effects = [];
    for (let i = 0; i < 20; i++) {
      effects.push(...engine.observe(i % 2 === 0 ? fail(http, clock.now()) : ok(http, clock.now())));
      clock.advance(15_000);
    }
    expect(effects).toEqual([]);
  });

  it("does not resolve while flapping once open (successes never consecutive)", () => {
    const clock = new FakeClock();
    const engine = new IncidentEngine({ incidents: [], mutes: [] });
    engine.observe(fail(http, clock.now()));
    engine.observe(fail(http, clock.now()));
    const effects = [];
    for (let i = 0; i < 20; i++) {
      clock.advance(15_000);
      effects.push(...engine.observe(i % 2 === 0 ? ok(http, clock.now()) : fail(http, clock.now())));
    }
    expect(effects).toEqual([]);
    expect(engine.openIncidents()).toHaveLength(1);
  });

  it("opens an event-driven incident at once and edits it when the error changes", () => {
    const clock = new FakeClock();
    const engine = new IncidentEngine({ incidents: [], mutes: [] });
    const [opened] = engine.observe(fail(web, clock.now(), "web exited (code 137, OOM)", event));
    expect(opened?.type).toBe("open");
    const [updated] = engine.observe(fail(web, clock.now(), "web is in a restart loop: 3 exits in 5 min 0 s", event));
    expect(updated?.type).toBe("update");
    expect(updated?.incident.lastError).toContain("restart loop");
  });
});

describe("IncidentEngine ack, mute and reminders", () => {
  const reminding: AlertPolicy = { failuresBeforeAlert: 1, successesBeforeRecovery: 1, remindEveryMs: 60_000 };

  it("reminds while open and unacked; Ack stops reminders; a second Ack is a no-op", () => {
    const clock = new FakeClock();
    const engine = new IncidentEngine({ incidents: [], mutes: [] });
    const [opened] = engine.observe(fail(web, clock.now(), "web exited (code 1)", reminding));
    opened!.incident.id = 1;
    clock.advance(30_000);
    expect(engine.tick(clock.now()).effects).toEqual([]);
    clock.advance(30_000);
    expect(engine.tick(clock.now()).effects.map((e) => e.type)).toEqual(["remind"]);
    clock.advance(10_000);
    expect(engine.tick(clock.now()).effects).toEqual([]); // not again until the next interval
    expect(engine.ack(1, alice, clock.now()).map((e) => e.type)).toEqual(["update"]);
    expect(engine.ack(1, alice, clock.now())).toEqual([]);
    clock.advance(10 * 60_000);
    expect(engine.tick(clock.now()).effects).toEqual([]);
    expect(engine.openIncidents()[0]).toMatchObject({ state: "acked", ackedByName: "alice" });
  });

  it("Mute silences the key: no new alert, no recovery message, and it survives resolution", () => {
    const clock = new FakeClock();
    const engine = new IncidentEngine({ incidents: [], mutes: [] });
    const [opened] = engine.observe(fail(web, clock.now(), "web exited (code 1)", reminding));
    opened!.incident.id = 1;
    const until = new Date(clock.now().getTime() + 3_600_000);
    const { mute, effects } = engine.mute("prod:docker:web", until, alice);
    expect(mute).toMatchObject({ key: "prod:docker:web", byName: "alice" });
    expect(effects.map((e) => e.type)).toEqual(["update"]); // the message shows it muted
    clock.advance(10 * 60_000);
    expect(engine.tick(clock.now()).effects).toEqual([]); // no reminders while muted
    const [resolved] = engine.observe(ok(web, clock.now(), reminding));
    expect(resolved).toMatchObject({ type: "resolve", notify: false });
    // Fails again under the same mute: recorded, not announced.
    const [again] = engine.observe(fail(web, clock.now(), "web exited (code 1)", reminding));
    expect(again).toMatchObject({ type: "open", notify: false });
    expect(again?.incident.state).toBe("muted");
    // Mute ends while still down: now the chats hear about it.
    clock.advance(3_600_000);
    const { effects: after, expiredMutes } = engine.tick(clock.now());
    expect(expiredMutes).toEqual(["prod:docker:web"]);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ type: "open", notify: true });
    expect(after[0]?.incident.state).toBe("open");
  });

  it("rebuilds from stored incidents: an open incident resolves after a restart without a new alert", () => {
    const clock = new FakeClock();
    const first = new IncidentEngine({ incidents: [], mutes: [] });
    const [opened] = first.observe(fail(web, clock.now(), "web exited (code 137)", event));
    const stored = { ...opened!.incident, id: 5, messages: [{ chatId: -100, messageId: 9 }] };
    clock.advance(192_000);
    const second = new IncidentEngine({ incidents: [stored], mutes: [] });
    expect(second.observe(fail(web, clock.now(), "web exited (code 137)", event))).toEqual([]);
    const [resolved] = second.observe(ok(web, clock.now(), event));
    expect(resolved).toMatchObject({ type: "resolve", notify: true, durationMs: 192_000 });
    expect(recoveryLine(resolved!.incident)).toBe("🟢 prod: web recovered after 3 min 12 s");
  });
});

describe("alert texts", () => {
  it("renders the alert, its state and the recovery with the outage duration", () => {
    const clock = new FakeClock();
    const engine = new IncidentEngine({ incidents: [], mutes: [] });
    const [opened] = engine.observe(fail(web, clock.now(), "web exited (code 137, OOM)", event));
    const incident = opened!.incident;
    incident.id = 3;
    expect(renderAlertMessage([incident])).toBe("🔴 prod: web exited (code 137, OOM)\nsince 12:00:00 UTC");
    engine.ack(3, alice, clock.now());
    expect(renderAlertMessage([incident])).toContain("acked by @alice");
    clock.advance(3 * 60_000 + 12_000);
    engine.observe(ok(web, clock.now(), event));
    expect(renderAlertMessage([incident])).toBe("🟢 prod: web exited (code 137, OOM)\nresolved after 3 min 12 s");
    expect(recoveryLine(incident)).toBe("🟢 prod: web recovered after 3 min 12 s");
  });

  it("keeps a burst within Telegram's 4096 characters", () => {
    const clock = new FakeClock();
    const engine = new IncidentEngine({ incidents: [], mutes: [] });
    const incidents = Array.from({ length: 200 }, (_, n) => {
      const [e] = engine.observe(fail({ target: "prod", source: "docker", subject: `svc${n}` }, clock.now(), `svc${n} exited (code 137) ${"x".repeat(80)}`, event));
      e!.incident.id = n + 1;
      return e!.incident;
    });
    const text = renderAlertMessage(incidents);
    expect(text.length).toBeLessThanOrEqual(4096);
    expect(text).toContain("🔴 200 of 200 problems open");
    expect(text).toContain("more");
  });
});
