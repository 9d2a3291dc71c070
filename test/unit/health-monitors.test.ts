import { describe, expect, it } from "vitest";
import { parseDfPercent, parseWgetResult, wgetArgv } from "../../src/health/checks.js";
import { ackData, muteData, parseAlertData } from "../../src/bot/alerts/callback-data.js";
import { DockerMonitor } from "../../src/health/docker-monitor.js";
import { ExpectedChangeRegistry } from "../../src/health/expected-changes.js";
import type { Signal } from "../../src/health/types.js";
import type { ContainerSummary, DockerApi, DockerEvent, ExecResult } from "../../src/shared/ports.js";
import { FakeClock, silentLog } from "./health-fakes.js";

class FakeDocker implements DockerApi {
  containers: ContainerSummary[] = [];
  onEvent: ((e: DockerEvent) => void) | null = null;
  lists = 0;
  async listContainers(): Promise<ContainerSummary[]> {
    this.lists++;
    return this.containers.map((c) => ({ ...c }));
  }
  async inspect(): Promise<ContainerSummary> {
    throw new Error("not used");
  }
  events(_project: string, onEvent: (e: DockerEvent) => void) {
    this.onEvent = onEvent;
    return { stop: () => (this.onEvent = null) };
  }
  async logs(): Promise<string> {
    return "";
  }
  async close(): Promise<void> {}
}

function container(service: string, n: number, state: ContainerSummary["state"] = "running", exitCode: number | null = null): ContainerSummary {
  return { id: `${service}${n}id`, name: `app_${service}_${n}`, service, number: n, state, health: "none", image: "x", startedAt: null, exitCode, oomKilled: false };
}

function ev(action: string, service: string, n = 1, exitCode?: number): DockerEvent {
  return { action, containerId: `${service}${n}id`, containerName: `app_${service}_${n}`, service, project: "app", exitCode, time: new Date() };
}

/** Moves the fake clock and lets the promise chains it released run (no real timer). */
async function pass(clock: FakeClock, ms: number): Promise<void> {
  clock.advance(ms);
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

function setup() {
  const clock = new FakeClock();
  const docker = new FakeDocker();
  const expected = new ExpectedChangeRegistry(clock, 5_000);
  const signals: Signal[] = [];
  const open = new Set<string>();
  const monitor = new DockerMonitor({
    target: "prod",
    project: "app",
    docker,
    expected,
    clock,
    log: silentLog,
    emit: (s) => {
      signals.push(s);
      if (s.ok) open.delete(s.key.subject);
      else open.add(s.key.subject);
    },
    openServices: () => [...open],
    restartLoopCount: 3,
    restartLoopWindowMs: 300_000,
    remindEveryMs: null,
    settleMs: 1,
    recheckMs: 60_000,
  });
  return { clock, docker, expected, signals, monitor };
}

describe("DockerMonitor", () => {
  it("a die is a failure at once, with exit code and OOM; start + healthy listing is the recovery", async () => {
    const { docker, signals, monitor, clock } = setup();
    docker.containers = [container("web", 1)];
    monitor.start();
    await pass(clock, 5);
    docker.containers = [container("web", 1, "exited", 137)];
    monitor.onEvent(ev("oom", "web"));
    monitor.onEvent(ev("die", "web", 1, 137));
    expect(signals).toMatchObject([{ ok: false, error: "web exited (code 137, OOM)", key: { target: "prod", source: "service", subject: "web" }, signal: "container", viaTarget: true }]);
    docker.containers = [container("web", 1)];
    monitor.onEvent(ev("start", "web"));
    await pass(clock, 20);
    expect(signals.at(-1)).toMatchObject({ ok: true });
    monitor.stop();
  });

  it("ignores healthcheck exec events, one-off containers, and deaths opsgram expects", async () => {
    const { expected, clock, signals, monitor } = setup();
    monitor.onEvent(ev("exec_die", "web"));
    monitor.onEvent({ ...ev("die", "web", 1, 0), containerName: "app_web_run_3f9a0c1b2d" });
    const change = expected.expect("prod", ["web"], clock.now().getTime() + 600_000);
    monitor.onEvent(ev("die", "web", 1, 137));
    monitor.onEvent(ev("die", "worker", 1, 137)); // not part of the change
    change.end();
    clock.advance(4_000);
    monitor.onEvent(ev("die", "web", 1, 143)); // late event, within the grace period
    clock.advance(2_000);
    monitor.onEvent(ev("die", "web", 1, 137)); // after it: a real death
    expect(signals.map((s) => (s.ok ? "ok" : s.error))).toEqual(["worker exited (code 137)", "web exited (code 137)"]);
  });

  it("one incident per service lists a burst of replicas", () => {
    const { signals, monitor } = setup();
    for (let n = 1; n <= 20; n++) monitor.onEvent(ev("die", "worker", n, 137));
    const last = signals.at(-1);
    expect(new Set(signals.map((s) => s.key.subject))).toEqual(new Set(["worker"]));
    expect(last).toMatchObject({ ok: false });
    expect(last && !last.ok && last.error).toMatch(/^worker: 20 containers down — 20 exited \(code 137\): app_worker_1, app_worker_2, .*\(\+12\)$/);
  });

  it("a restart loop is named and not recovered until a window passes without a death", async () => {
    const { docker, signals, monitor, clock } = setup();
    docker.containers = [container("web", 1)];
    for (let i = 0; i < 3; i++) {
      monitor.onEvent(ev("die", "web", 1, 1));
      monitor.onEvent(ev("start", "web"));
    }
    await pass(clock, 20);
    const last = signals.at(-1);
    expect(last && !last.ok && last.error).toBe("web is in a restart loop: 3 exits in 5 min 0 s (last exit code 1)");
    expect(signals.some((s) => s.ok)).toBe(false);
  });

  it("after a restart, an open incident is settled from the listing (recovered or refilled)", async () => {
    const { docker, signals, monitor, clock } = setup();
    docker.containers = [container("web", 1, "exited", 137)];
    const m = monitor as unknown as { o: { openServices: () => string[] } };
    m.o.openServices = () => ["web"];
    monitor.start();
    await pass(clock, 10);
    expect(signals).toMatchObject([{ ok: false, error: "web exited (code 137)" }]);
    monitor.stop();
  });

  it("lists containers only while something is down (a listing costs an inspect per container)", async () => {
    const { docker, monitor, clock } = setup();
    docker.containers = [container("web", 1)];
    monitor.start();
    await (monitor as unknown as { recheck(): Promise<void> }).recheck();
    monitor.onEvent(ev("start", "worker"));
    await pass(clock, 10);
    expect(docker.lists).toBe(0);
    monitor.stop();
  });
});

describe("check parsing", () => {
  const result = (over: Partial<ExecResult>): ExecResult => ({ code: 0, stdout: "", stderr: "", timedOut: false, truncated: false, durationMs: 5, ...over });

  it("builds wget argv with a single try and a timeout", () => {
    expect(wgetArgv("http://127.0.0.1:8000/health", 4.5)).toEqual(["wget", "-S", "-O", "/dev/null", "--tries=1", "-T", "5", "http://127.0.0.1:8000/health"]);
  });

  it("reads the last HTTP status of wget -S", () => {
    const ok = "--2026-11-22--  http://x/health\n  HTTP/1.1 301 Moved\n  Location: /h\n  HTTP/1.1 200 OK\n";
    expect(parseWgetResult(result({ stderr: ok }), 200, "api", 5)).toEqual({ status: "ok" });
    const notFound = "HTTP request sent, awaiting response... \n  HTTP/1.1 404 Not Found\n2026-11-22 12:55:35 ERROR 404: Not Found.\n";
    expect(parseWgetResult(result({ code: 8, stderr: notFound }), 200, "api", 5)).toEqual({ status: "failed", error: "HTTP check api: status 404 (expected 200)" });
    expect(parseWgetResult(result({ code: 8, stderr: notFound }), 404, "api", 5)).toEqual({ status: "ok" });
    const refused = "--2026-11-22 12:55:35--  http://127.0.0.1:18090/nope\nConnecting to 127.0.0.1:18090... failed: Connection refused.\n";
    expect(parseWgetResult(result({ code: 4, stderr: refused }), 200, "api", 5)).toEqual({ status: "failed", error: "HTTP check api: Connecting to 127.0.0.1:18090... failed: Connection refused." });
    expect(parseWgetResult(result({ code: null, timedOut: true }), 200, "api", 5)).toEqual({ status: "failed", error: "HTTP check api: no answer within 5 s" });
    expect(parseWgetResult(result({ code: 127, stderr: "sh: wget: not found" }), 200, "api", 5).status).toBe("unknown");
  });

  it("reads df -P capacity", () => {
    const out = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda         264212084 23429556  82961356      23% /\n";
    expect(parseDfPercent(out)).toBe(23);
    expect(parseDfPercent("Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/mapper/very-long-name\n 100 91 9 91% /srv\n")).toBe(91);
    expect(parseDfPercent("garbage")).toBeNull();
  });

  it("alert buttons' callback data stay within 64 bytes and parse back strictly", () => {
    const big = 999_999_999_999_999;
    for (const data of [ackData(big), muteData(big, 60)]) expect(Buffer.byteLength(data)).toBeLessThanOrEqual(64);
    expect(parseAlertData(ackData(12))).toEqual({ action: "ack", incidentId: 12 });
    expect(parseAlertData(muteData(12, 60))).toEqual({ action: "mute", incidentId: 12, minutes: 60 });
    expect(parseAlertData("alerts:mute:12:99999")).toBeNull(); // only offered lengths
    expect(parseAlertData("alerts:ack:12 ")).toBeNull();
    expect(parseAlertData("op:confirm:12")).toBeNull();
  });
});
