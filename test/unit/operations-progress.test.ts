import { describe, expect, it } from "vitest";
import { containersProbe, httpProbeFromTarget, judgeContainers, waitUntilHealthy } from "../../src/operations/health-gate.js";
import { lastHttpStatus } from "../../src/commands/http-probe.js";
import { silentLogger } from "../../src/operations/model.js";
import { ProgressMessage } from "../../src/bot/operations/progress-message.js";
import { renderSteps } from "../../src/bot/operations/chat-reporter.js";
import { formatBytes, lastLines } from "../../src/shared/format.js";
import { FakeDocker, FakeShell, JumpClock, ManualClock, RecordingNotifier, container } from "./operations-fakes.js";

describe("ProgressMessage", () => {
  it("coalesces a burst of updates into at most one edit per second, latest text wins", async () => {
    const clock = new ManualClock();
    const notifier = new RecordingNotifier();
    const sent = await notifier.send(1, "plan");
    const progress = new ProgressMessage(notifier, sent, clock, silentLogger, 1000);
    for (let i = 1; i <= 50; i++) progress.update(`step ${i}`);
    await clock.advance(0);
    expect(notifier.edits).toBe(1);
    expect(notifier.last(sent.messageId)).toBe("step 1");
    for (let i = 51; i <= 100; i++) progress.update(`step ${i}`);
    await clock.advance(500);
    expect(notifier.edits).toBe(1);
    await clock.advance(600);
    expect(notifier.edits).toBe(2);
    expect(notifier.last(sent.messageId)).toBe("step 100");
    // 10 s of constant updates → about 10 edits.
    for (let t = 0; t < 100; t++) {
      progress.update(`tick ${t}`);
      await clock.advance(100);
    }
    expect(notifier.edits).toBeLessThanOrEqual(13);
    await progress.finish("✅ done");
    expect(notifier.last(sent.messageId)).toBe("✅ done");
    progress.update("late");
    await clock.advance(5000);
    expect(notifier.last(sent.messageId)).toBe("✅ done");
  });

  it("finish is immediate even inside the rate window, and removes the buttons", async () => {
    const clock = new ManualClock();
    const notifier = new RecordingNotifier();
    const sent = await notifier.send(1, "plan");
    const progress = new ProgressMessage(notifier, sent, clock, silentLogger, 1000);
    progress.update("a");
    await clock.advance(0);
    progress.update("b");
    await progress.finish("final");
    expect(notifier.messages[0]!.texts).toEqual(["plan", "a", "final"]);
    expect(notifier.messages[0]!.options.at(-1)?.buttons).toEqual([]);
    // It paces itself: no edit waits a second gap in the notifier, least of all the final one.
    expect(notifier.messages[0]!.options.slice(1).every((o) => o?.unpaced === true)).toBe(true);
  });

  it("a failing edit never reaches the operation", async () => {
    const clock = new ManualClock();
    const notifier = new RecordingNotifier();
    notifier.edit = async () => {
      throw new Error("429");
    };
    const progress = new ProgressMessage(notifier, { chatId: 1, messageId: 1 }, clock, silentLogger);
    progress.update("x");
    await clock.advance(0);
    // It never throws; it says the final edit was not delivered, so the reporter takes the durable path.
    await expect(progress.finish("y")).resolves.toBe(false);
  });

  it("renders steps compactly and helpers format output", () => {
    expect(
      renderSteps([
        { title: "fetch", state: "done", summary: "fetched" },
        { title: "backup", state: "done", summary: "backup 12.3 MB" },
        { title: "build", state: "running" },
        { title: "up", state: "pending" },
      ]),
    ).toBe("✓ fetched · ✓ backup 12.3 MB · ⏳ build · ○ up");
    expect(formatBytes(12.3 * 1024 * 1024)).toBe("12.3 MB");
    expect(formatBytes(512)).toBe("512 B");
    expect(lastLines(Array.from({ length: 30 }, (_, i) => `line ${i}`).join("\n") + "\n\n", 2)).toBe("line 28\nline 29");
  });
});

describe("health gate", () => {
  it("polls until healthy and reports how long it took", async () => {
    const clock = new JumpClock();
    let calls = 0;
    const result = await waitUntilHealthy(async () => ({ healthy: ++calls >= 4, detail: calls >= 4 ? "HTTP 200" : "HTTP 502" }), { timeoutMs: 60_000, intervalMs: 1000, clock });
    expect(result).toMatchObject({ status: "healthy", attempts: 4, elapsedMs: 3000, detail: "HTTP 200" });
  });

  it("gives up at the deadline with the last thing seen; a throwing probe counts as unhealthy", async () => {
    const clock = new JumpClock();
    const seen: string[] = [];
    const result = await waitUntilHealthy(
      async () => {
        throw new Error("connection refused");
      },
      { timeoutMs: 5_000, intervalMs: 1000, clock, onAttempt: (r) => seen.push(r.detail) },
    );
    expect(result).toMatchObject({ status: "unhealthy", detail: "connection refused" });
    expect(result.attempts).toBe(6);
    expect(result.elapsedMs).toBe(5000);
    expect(seen).toHaveLength(6);
  });

  it("asks the URL on the target with the one probe builder, and says so when wget is missing", async () => {
    const answers = [{ code: 0, stderr: "  HTTP/1.1 302 Found\n  HTTP/1.1 200 OK\n" }, { code: 8, stderr: "  HTTP/1.1 503 Service Unavailable\n" }, { code: 4, stderr: "wget: can't connect" }, { code: 127, stderr: "sh: wget: not found" }];
    const shell = new FakeShell(() => answers.shift()!);
    const probe = httpProbeFromTarget(shell, "http://127.0.0.1:8080/health", 200);
    expect(await probe(2_000)).toEqual({ healthy: true, detail: "HTTP 200" });
    expect(await probe(2_000)).toEqual({ healthy: false, detail: "HTTP 503" });
    expect(await probe(2_000)).toEqual({ healthy: false, detail: "no HTTP answer (wget exit 4)" });
    expect(await probe(2_000)).toEqual({ healthy: false, detail: "wget is not installed on the target" });
    expect(shell.calls[0]!.argv).toEqual(["wget", "-S", "-O", "/dev/null", "--tries=1", "-T", "2", "http://127.0.0.1:8080/health"]);
  });

  it("reads the status from wget -S output", () => {
    expect(lastHttpStatus("  HTTP/1.1 301 Moved\n  HTTP/1.1 200 OK\n")).toBe(200);
    expect(lastHttpStatus("wget: server returned error: HTTP/1.0 500 Internal Server Error")).toBe(500);
    expect(lastHttpStatus("wget: can't connect to remote host")).toBeNull();
  });

  it("judges containers per service and needs two identical looks before passing", async () => {
    expect(judgeContainers([container("web", 1), container("worker", 1, { state: "exited" })])).toEqual({ healthy: false, detail: "web 1/1 · worker 0/1 (exited)" });
    expect(judgeContainers([container("web", 1, { health: "starting" })]).healthy).toBe(false);
    const docker = new FakeDocker();
    docker.containers = [container("web", 1, { health: "healthy" })];
    const probe = containersProbe(docker, "app");
    expect((await probe(1000)).healthy).toBe(false);
    expect((await probe(1000)).healthy).toBe(true);
    docker.containers = [container("web", 1, { health: "healthy", startedAt: new Date(5) })];
    expect((await probe(1000)).healthy).toBe(false);
  });
});
