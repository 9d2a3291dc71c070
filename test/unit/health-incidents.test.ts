import { describe, expect, it } from "vitest";
import { alertRenderer } from "../../src/bot/alerts/render.js";
import { parseMuteDuration } from "../../src/bot/alerts/duration.js";
import { backupAge } from "../../src/health/checks.js";
import { IncidentEngine, type EngineEffect } from "../../src/health/engine.js";
import type { AlertPolicy, IncidentKey, Signal } from "../../src/health/types.js";
import { FakeClock } from "./health-fakes.js";

/** One incident per failing thing: signals, mutes by scope, acks, inhibition, flapping. */

const web: IncidentKey = { target: "prod", source: "service", subject: "web" };
const ssh: IncidentKey = { target: "prod", source: "reachability", subject: "ssh" };
const disk: IncidentKey = { target: "prod", source: "disk", subject: "/" };
const event: AlertPolicy = { failuresBeforeAlert: 1, successesBeforeRecovery: 1, remindEveryMs: 60_000 };
const http2: AlertPolicy = { failuresBeforeAlert: 2, successesBeforeRecovery: 2, remindEveryMs: 60_000 };
const alice = { chatId: -100, userId: 7, username: "alice" };

function died(at: Date, error = "web exited (code 137)"): Signal {
  return { key: web, at, ok: false, error, policy: event, signal: "container", viaTarget: true };
}
function started(at: Date): Signal {
  return { key: web, at, ok: true, policy: event, signal: "container", viaTarget: true };
}
function httpFail(at: Date): Signal {
  return { key: web, at, ok: false, error: "HTTP check web: Connecting to 127.0.0.1:18180... failed", policy: http2, signal: "http:web", viaTarget: true };
}
function httpOk(at: Date): Signal {
  return { key: web, at, ok: true, policy: http2, signal: "http:web", viaTarget: true };
}
const types = (effects: EngineEffect[]) => effects.map((e) => e.type);

function setup(flapping = { maxOpens: 4, windowMs: 3_600_000, quietMs: 600_000 }) {
  const clock = new FakeClock();
  const engine = new IncidentEngine({ incidents: [], mutes: [], flapping });
  let nextId = 1;
  const feed = (s: Signal) => {
    const effects = engine.observe(s);
    for (const e of effects) if (e.incident.id === 0) e.incident.id = nextId++;
    return effects;
  };
  return { clock, engine, feed };
}

describe("one incident per service", () => {
  it("the container and the HTTP check of web share one incident, listed on one message; it recovers once, when both did", () => {
    const { clock, engine, feed } = setup();
    const start = clock.now();
    expect(types(feed(died(clock.now())))).toEqual(["open"]);
    clock.advance(1_000);
    expect(feed(httpFail(clock.now()))).toEqual([]); // below its threshold
    clock.advance(1_000);
    expect(types(feed(httpFail(clock.now())))).toEqual(["update"]); // joins: the message is edited
    const [incident] = engine.openIncidents();
    expect(engine.openIncidents()).toHaveLength(1);
    expect(incident?.signals.map((s) => s.name)).toEqual(["container", "http:web"]);
    const shown = alertRenderer.alertMessage([incident!], () => null).text;
    expect(shown).toContain("🔴 prod: web — 2 of 2 signals failing");
    expect(shown).toContain("• web exited (code 137)");
    expect(shown).toContain("• HTTP check web: Connecting to 127.0.0.1:18180... failed");

    clock.advance(5_000);
    expect(types(feed(started(clock.now())))).toEqual(["update"]); // one of two recovered
    expect(alertRenderer.alertMessage([incident!], () => null).text).toContain("✓ web exited (code 137) (recovered)");
    const recoveredAt = clock.now();
    expect(feed(httpOk(clock.now()))).toEqual([]);
    clock.advance(1_000);
    const resolved = feed(httpOk(clock.now()));
    expect(resolved).toMatchObject([{ type: "resolve", notify: true, durationMs: recoveredAt.getTime() - start.getTime() }]);
    expect(alertRenderer.recoveryLine(resolved[0]!.incident)).toMatch(/^🟢 prod: web recovered after 7(\.0)? s$/);
  });

  it("a mute on the service covers every signal, and outlives the incident; unmute gives it its voice back", () => {
    const { clock, engine, feed } = setup();
    feed(died(clock.now()));
    const { mute, effects } = engine.mute("prod:service:web", new Date(clock.now().getTime() + 3_600_000), alice, "deploy window");
    expect(mute).toMatchObject({ key: "prod:service:web", reason: "deploy window" });
    expect(types(effects)).toEqual(["update"]);
    clock.advance(1_000);
    expect(feed(started(clock.now()))).toMatchObject([{ type: "resolve", notify: false }]);
    // Killed again: the HTTP check fails first this time. Still the muted service: nothing said.
    feed(httpFail(clock.now()));
    expect(feed(httpFail(clock.now()))).toMatchObject([{ type: "open", notify: false }]);
    expect(engine.tick(new Date(clock.now().getTime() + 600_000)).effects).toEqual([]); // no reminder while muted
    expect(types(engine.unmute("prod:service:web", clock.now()) ?? [])).toEqual(["open"]);
    expect(engine.unmute("prod:service:web", clock.now())).toBeNull();
  });

  it("a mute on the target covers all its incidents", () => {
    const { clock, engine, feed } = setup();
    engine.mute("prod", new Date(clock.now().getTime() + 60_000), alice);
    expect(feed(died(clock.now()))).toMatchObject([{ type: "open", notify: false }]);
    expect(engine.isMuted(disk, clock.now())).toBe(true);
    expect(engine.isMuted({ ...disk, target: "staging" }, clock.now())).toBe(false);
  });
});

describe("acks and reminders", () => {
  it("an acked incident is not reminded; a new signal joining it posts once", () => {
    const { clock, engine, feed } = setup();
    const [opened] = feed(died(clock.now()));
    engine.ack(opened!.incident.id, alice, clock.now());
    clock.advance(10 * 60_000);
    expect(engine.tick(clock.now()).effects).toEqual([]);
    feed(httpFail(clock.now()));
    expect(types(feed(httpFail(clock.now())))).toEqual(["worse"]);
    expect(feed(httpFail(clock.now()))).toEqual([]); // the same signal again: nothing
    feed(died(clock.now(), "web exited (code 1)"));
    clock.advance(10 * 60_000);
    expect(engine.tick(clock.now()).effects).toEqual([]); // still acked: still quiet
  });

  it("reminderMinutes 0 (no reminder interval) never reminds", () => {
    const { clock, engine } = setup();
    engine.observe({ ...died(clock.now()), policy: { ...event, remindEveryMs: null } });
    for (let i = 0; i < 48; i++) {
      clock.advance(3_600_000);
      expect(engine.tick(clock.now()).effects).toEqual([]);
    }
  });

  it("an unacked incident is reminded every interval", () => {
    const { clock, engine, feed } = setup();
    feed(died(clock.now()));
    clock.advance(60_000);
    expect(types(engine.tick(clock.now()).effects)).toEqual(["remind"]);
    clock.advance(30_000);
    expect(engine.tick(clock.now()).effects).toEqual([]);
  });
});

describe("inhibition while the target is unreachable", () => {
  const sshDown = (at: Date): Signal => ({ key: ssh, at, ok: false, error: "not answering over SSH", policy: event });
  const sshUp = (at: Date): Signal => ({ key: ssh, at, ok: true, policy: event });

  it("holds back what is observed through the target; what still fails opens once it answers", () => {
    const { clock, engine, feed } = setup();
    expect(types(feed(sshDown(clock.now())))).toEqual(["open"]);
    expect(feed(died(clock.now()))).toEqual([]);
    expect(feed({ key: disk, at: clock.now(), ok: false, error: "disk / is 99% full", policy: event, viaTarget: true })).toEqual([]);
    clock.advance(1_000);
    feed({ key: disk, at: clock.now(), ok: true, policy: event, viaTarget: true }); // recovered meanwhile
    const back = feed(sshUp(clock.now()));
    expect(back.map((e) => [e.type, e.incident.key.source])).toEqual([
      ["resolve", "reachability"],
      ["open", "service"],
    ]);
    expect(engine.openIncidents().map((i) => i.key.subject)).toEqual(["web"]);
  });

  it("checks run from the bot are not held back", () => {
    const { clock, feed } = setup();
    feed(sshDown(clock.now()));
    expect(types(feed({ key: { target: "prod", source: "http", subject: "public" }, at: clock.now(), ok: false, error: "x", policy: event }))).toEqual(["open"]);
  });
});

describe("flapping", () => {
  it("more than N outages within the hour become one flapping incident, resolved after a quiet spell", () => {
    const { clock, engine, feed } = setup();
    const all: EngineEffect[] = [];
    for (let i = 0; i < 8; i++) {
      all.push(...feed(died(clock.now())));
      clock.advance(5_000);
      all.push(...feed(started(clock.now())));
      clock.advance(5_000);
    }
    // Four pairs, then one incident that stays open through the next outages.
    expect(types(all)).toEqual([...Array(4).fill(["open", "resolve"]).flat(), "open", "update", "update", "update", "update", "update", "update", "update"]);
    const [flapping] = engine.openIncidents();
    expect(flapping?.flaps).toBe(8);
    expect(alertRenderer.alertLine(flapping!)).toBe("🔴 prod: web is flapping (8 outages within 1 h) — web exited (code 137)");
    clock.advance(580_000);
    expect(engine.tick(clock.now()).effects).toEqual([]);
    clock.advance(10_000);
    expect(types(engine.tick(clock.now()).effects)).toEqual(["resolve"]);
  });
});

describe("backup age on day one", () => {
  it("counts from the first watch when no backup exists, then says 'no backup yet' without reminders", async () => {
    const clock = new FakeClock();
    const since = clock.now();
    const check = backupAge({ target: "prod", clock, isTargetChanging: () => false }, { lastSucceeded: async () => null, watchingSince: async () => since }, 24, 60_000, 3_600_000);
    expect(await check.run()).toEqual({ status: "ok" });
    clock.advance(25 * 3_600_000);
    expect(await check.run()).toEqual({ status: "failed", error: "no backup yet (watching since 2026-11-22 12:00 UTC, max age 24 h)" });
    expect(check.policy.remindEveryMs).toBeNull();
  });
});

describe("mute durations", () => {
  it("reads 30m, 4h, 2d; refuses more than 7 days and anything else", () => {
    expect(parseMuteDuration("30m")).toEqual({ minutes: 30 });
    expect(parseMuteDuration("4h")).toEqual({ minutes: 240 });
    expect(parseMuteDuration("2d")).toEqual({ minutes: 2880 });
    expect(parseMuteDuration("7d")).toEqual({ minutes: 10080 });
    for (const bad of ["8d", "169h", "0m", "4", "h", "-1h", "1.5h", "4h;rm", "1w"]) expect(parseMuteDuration(bad)).toHaveProperty("error");
  });
});
