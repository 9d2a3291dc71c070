import { describe, expect, it } from "vitest";
import { describePayouts, renderBackups, renderLogs } from "../../src/bot/operations/render-status.js";
import type { BackupRecord } from "../../src/operations/model.js";

const now = new Date("2026-11-22T05:00:00Z");

describe("/status, /logs and /backups rendering", () => {
  it("payouts: running, or paused by whom, how long ago and why", () => {
    expect(describePayouts(null, now)).toBe("payouts running");
    expect(describePayouts({ target: "prod", paused: true, byUserId: 1, byName: "alice", reason: "fraud", since: new Date("2026-11-22T03:00:00Z") }, now)).toBe("payouts PAUSED by @alice 2 h 0 min ago: fraud");
    expect(describePayouts({ target: "prod", paused: true, byUserId: 7, byName: null, reason: null, since: now }, now)).toBe("payouts PAUSED by user 7 0.0 s ago");
  });

  it("logs: escaped in a <pre> when it fits, as a file when it would pass 4096 characters", () => {
    const base = { target: "prod", services: ["web"], since: null, grep: null, errors: [] };
    const one = renderLogs({ ...base, lines: 5, replicas: [{ name: "web-1", state: "running" }], entries: [{ replica: "web-1", at: 1, text: "<ok>" }] });
    expect(one).toEqual({ status: "ok", html: "web on prod: last 5 lines\n<pre>&lt;ok&gt;</pre>" });
    const long = renderLogs({ ...base, lines: 500, replicas: [{ name: "web-1", state: "running" }], entries: [{ replica: "web-1", at: 1, text: "x".repeat(5000) }] });
    expect(long).toMatchObject({ status: "document", filename: "prod-web-500.log", caption: "web on prod: last 500 lines" });
    const two = renderLogs({
      ...base,
      services: ["web", "worker"],
      lines: 5,
      since: "15m",
      grep: "err",
      replicas: [{ name: "web-1", state: "running" }, { name: "worker-1", state: "running" }, { name: "worker-2", state: "exited" }],
      entries: [{ replica: "worker-1", at: 1, text: "err a" }, { replica: "web-1", at: 2, text: "err b" }],
      errors: [{ replica: "worker-2", error: "gone" }],
    });
    expect(two).toEqual({
      status: "ok",
      html: "web, worker on prod: last 5 lines since 15m, matching /err/i of 3 replicas\n<pre>(worker-2: could not read: gone)\nworker-1 | err a\nweb-1 | err b</pre>",
    });
    expect(renderLogs({ ...base, lines: 5, replicas: [], entries: [] })).toEqual({ status: "ok", html: "web has no containers on prod." });
  });

  it("backups: newest first, failed and pruned ones marked", () => {
    const base = { target: "prod", operationId: null, prunedAt: null, error: null, verified: true, verification: "closing line", deploymentId: null, drilledAt: null, copyError: null } as const;
    const list: BackupRecord[] = [
      { ...base, id: 4, path: "/b/prod-4.dump", sizeBytes: 1024, durationMs: 1_000, status: "succeeded", createdAt: new Date("2026-11-22T04:30:00Z"), verified: false, deploymentId: 12 },
      { ...base, id: 3, path: "/b/prod-3.dump", sizeBytes: 1024, durationMs: 1_000, status: "succeeded", createdAt: new Date("2026-11-22T04:10:00Z"), drilledAt: new Date("2026-11-22T04:20:00Z") },
      { ...base, id: 2, path: "/b/prod-2.dump", sizeBytes: 12.3 * 1024 * 1024, durationMs: 4_000, status: "succeeded", createdAt: new Date("2026-11-22T04:00:00Z") },
      { ...base, id: 1, path: null, sizeBytes: null, durationMs: null, status: "failed", createdAt: new Date("2026-11-22T03:00:00Z"), error: "the dump is empty" },
    ];
    expect(renderBackups("prod", list, now)).toBe(
      "Backups of prod, newest first:\n⚠ unverified 2026-11-22 04:30 UTC (30 min ago) · 1.0 KB in 1.0 s · taken before deploy #12\n   /b/prod-4.dump\n🧪 drilled 2026-11-22 04:10 UTC (50 min ago) · 1.0 KB in 1.0 s\n   /b/prod-3.dump\n✓ verified 2026-11-22 04:00 UTC (1 h 0 min ago) · 12.3 MB in 4.0 s\n   /b/prod-2.dump\n✗ 2026-11-22 03:00 UTC (2 h 0 min ago) — failed: the dump is empty",
    );
    expect(renderBackups("prod", [], now)).toBe("No backups recorded for prod yet. /backup takes one.");
  });
});
