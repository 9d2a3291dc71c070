import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { containersProbe } from "../../../src/operations/health-gate.js";
import { alice, bob, chatOf } from "../../unit/operations-fakes.js";
import { audit, config, connections, head, log, makeOps, repos, running, runningReplicas, sandbox, shell } from "../operations-env.js";

export function scaleBackupPayoutsTests(): void {
  describe("scale, backup, payouts, against the sandbox VPS", () => {
    it("scales worker 1 → 3 → 1, verified through Docker; over max is refused and nothing runs", async () => {
      const { ops } = makeOps();
      expect(await runningReplicas("worker")).toBe(1);
      for (const n of [3, 1]) {
        const planned = await chatOf(ops).scale(alice, ["worker", String(n)]);
        if (planned.status !== "planned") throw new Error(JSON.stringify(planned));
        const pressed = await ops.service.confirm(bob, planned.operationId, planned.message);
        if (pressed.status !== "confirmed") throw new Error(JSON.stringify(pressed));
        expect((await pressed.done).status).toBe("succeeded");
        expect(await runningReplicas("worker")).toBe(n);
      }
      const before = shell.calls.length;
      const over = await chatOf(ops).scale(alice, ["worker", "4"]);
      expect(over).toMatchObject({ status: "refused", reason: expect.stringContaining("allowed 1 to 3") });
      expect(shell.calls.length).toBe(before);
      expect(await runningReplicas("worker")).toBe(1);
    });

    it("backs up on the target: the file is there, pg_restore --list passes, pruning keeps `keep`", async () => {
      const { ops } = makeOps();
      const paths: string[] = [];
      for (let i = 0; i < 2; i++) {
        const started = await chatOf(ops).backup(alice, []);
        if (started.status !== "started") throw new Error(JSON.stringify(started));
        const final = await started.done;
        expect(final.status).toBe("succeeded");
        paths.push((final.result as { path: string }).path);
        // File names carry the second; make the next one different.
        if (i === 0) await new Promise((r) => setTimeout(r, 1_100));
      }
      for (const path of paths) expect(path).toMatch(new RegExp(`^${sandbox.backupDir}/prod-\\d{8}T\\d{6}Z\\.dump$`));
      const files = readdirSync(sandbox.backupDir).sort();
      expect(files).toEqual(paths.slice(1).map((p) => p.slice(sandbox.backupDir.length + 1)).sort());
      const newest = paths[1]!;
      expect(statSync(newest).size).toBeGreaterThan(1000);
      const toc = execFileSync(`${sandbox.pgBinDir}/pg_restore`, ["--list", newest], { encoding: "utf8" });
      expect(toc).toMatch(/TABLE DATA public payouts/);
      const rows = await repos.backups.recent("prod", 10);
      expect(rows.map((r) => r.status)).toEqual(["succeeded", "pruned"]);
      expect(existsSync(paths[0]!)).toBe(false);
      expect(rows[0]).toMatchObject({ path: newest, sizeBytes: statSync(newest).size });
      const list = await chatOf(ops).backups(alice, []);
      expect(list.status === "ok" && list.text).toContain(newest);
    });

    it("pause and resume payouts flip the real Redis key; /status shows who paused and why", async () => {
      const { ops } = makeOps();
      const redisGet = () => execFileSync("redis-cli", [...sandbox.redis.cliArgs, "GET", "system:pause_payouts"], { encoding: "utf8" }).trim();
      expect(redisGet()).toBe("");
      const pause = await chatOf(ops).pausePayouts(alice, ["chargeback", "spike"]);
      if (pause.status !== "planned") throw new Error(JSON.stringify(pause));
      const p = await ops.service.confirm(alice, pause.operationId, pause.message);
      if (p.status !== "confirmed") throw new Error(JSON.stringify(p));
      expect((await p.done).status).toBe("succeeded");
      expect(redisGet()).toBe("1");
      const status = await chatOf(ops).statusOf(bob, []);
      expect(status.status === "ok" && status.html).toMatch(/payouts PAUSED by @alice .*ago: chargeback spike/);

      const resume = await chatOf(ops).resumePayouts(bob, []);
      if (resume.status !== "planned") throw new Error(JSON.stringify(resume));
      const r = await ops.service.confirm(bob, resume.operationId, resume.message);
      if (r.status !== "confirmed") throw new Error(JSON.stringify(r));
      expect((await r.done).status).toBe("succeeded");
      expect(redisGet()).toBe("");
      expect(await repos.payouts.get("prod")).toMatchObject({ paused: false });
    });

    it("/status shows the live commit, replicas and health, last deploy, lock and backup; /logs tails a service", async () => {
      const { ops } = makeOps();
      const started = Date.now();
      const status = await chatOf(ops).statusOf(alice, ["prod"]);
      expect(Date.now() - started).toBeLessThan(5_000);
      if (status.status !== "ok") throw new Error(JSON.stringify(status));
      expect(status.html).toContain(`<code>${head().slice(0, 7)}</code>`);
      expect(status.html).toMatch(/✓ web 1\/1 healthy · ✓ worker 1\/1/);
      expect(status.html).toMatch(/deploy: ✅ #\d+ rollback/);
      expect(status.html).toContain("lock: free");
      expect(status.html).toMatch(/backup: .*ago · [\d.]+ KB/);
      const logs = await chatOf(ops).logs(alice, ["web", "5"]);
      expect(logs.status).toBe("ok");
      expect(await chatOf(ops).logs(alice, ["nope"])).toMatchObject({ status: "refused", reason: expect.stringContaining("web, worker") });
      // The gate used when no health URL is configured, on the real engine: web healthy, worker running.
      const probe = containersProbe(connections.docker, sandbox.composeProject);
      expect((await probe(2_000)).healthy).toBe(false); // the first look only settles
      expect(await probe(2_000)).toEqual({ healthy: true, detail: "web 1/1 · worker 1/1" });
    });
  });
}
