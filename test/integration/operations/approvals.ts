import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INJECTION_PAYLOADS, MARKER } from "../../support/injection-corpus.js";
import { alice, bob, chatOf } from "../../unit/operations-fakes.js";
import { OffsetClock, audit, buildConfig, config, head, log, makeOps, repos, running, runningReplicas, sandbox, shell } from "../operations-env.js";

export function approvalsTests(): void {
  describe("approvals and recovery, against real Postgres", () => {
    it("expired, cancelled, and four eyes: nothing runs", async () => {
      const clock = new OffsetClock();
      const { ops, notifier } = makeOps({ clock, config: buildConfig({ fourEyes: true }) });
      const before = head();

      const expiring = await chatOf(ops).scale(alice, ["worker", "2"]);
      if (expiring.status !== "planned") throw new Error(JSON.stringify(expiring));
      clock.offsetMs = 61_000;
      expect(await ops.engine.expireDue()).toBe(1);
      expect(notifier.last(expiring.message!.messageId)).toContain("Expired");
      expect(await ops.service.confirm(bob, expiring.operationId, expiring.message)).toMatchObject({ status: "refused" });
      clock.offsetMs = 0;

      const cancelled = await chatOf(ops).scale(alice, ["worker", "2"]);
      if (cancelled.status !== "planned") throw new Error(JSON.stringify(cancelled));
      expect((await ops.service.cancel(bob, cancelled.operationId, cancelled.message)).status).toBe("cancelled");
      expect(await ops.service.confirm(bob, cancelled.operationId, cancelled.message)).toMatchObject({ status: "refused" });

      const own = await chatOf(ops).scale(alice, ["worker", "2"]);
      if (own.status !== "planned") throw new Error(JSON.stringify(own));
      expect(await ops.service.confirm(alice, own.operationId, own.message)).toMatchObject({ status: "refused", text: expect.stringContaining("Four eyes") });
      expect((await repos.operations.get(own.operationId))?.status).toBe("awaiting_confirmation");
      expect((await ops.service.cancel(bob, own.operationId, own.message)).status).toBe("cancelled");

      expect((await repos.operations.get(expiring.operationId))?.status).toBe("expired");
      expect(await runningReplicas("worker")).toBe(1);
      expect(head()).toBe(before);
      const outcomes = (await audit.recent(30)).map((e) => `${e.operationId}:${e.outcome}`);
      expect(outcomes).toContain(`${expiring.operationId}:expired`);
      expect(outcomes).toContain(`${cancelled.operationId}:cancelled`);
      expect(outcomes).toContain(`${own.operationId}:denied`);
    });

    it("/lock freezes mutating commands until /unlock, and says who froze it and why", async () => {
      const { ops } = makeOps();
      expect(await chatOf(ops).lock(alice, ["prod", "hand", "migration"])).toMatchObject({ status: "ok" });
      expect(await chatOf(ops).scale(bob, ["worker", "2"])).toMatchObject({ status: "refused", reason: expect.stringMatching(/prod is frozen by @alice since .*: hand migration/) });
      expect(await chatOf(ops).backup(bob, [])).toMatchObject({ status: "refused" });
      expect(await chatOf(ops).lock(bob, [])).toMatchObject({ status: "refused" });
      expect(await chatOf(ops).unlock(bob, [])).toMatchObject({ status: "ok", text: "🔓 prod is unlocked." });
      expect(await repos.locks.get("prod")).toBeNull();
    });

    it("restart recovery: a running deploy becomes interrupted, the chat is told what is live, the target stays frozen until /unlock", async () => {
      const id = "recoverytest0001";
      await repos.operations.insert({ id, kind: "deploy", target: "prod", status: "running", args: { ref: "main" }, chatId: -100, requestedBy: 1, requestedByName: "alice", createdAt: new Date() });
      await repos.deployments.insert({ operationId: id, target: "prod", kind: "deploy", ref: "main", sha: sandbox.versions.v1, previousSha: head(), status: "running", requestedBy: 1, requestedByName: "alice", startedAt: new Date() });
      await repos.locks.insertIfFree({ target: "prod", kind: "operation", operationId: id, holderUserId: 1, holderName: "alice", reason: "deploy main", since: new Date(), heartbeatAt: new Date() });
      const { ops, notifier } = makeOps();
      expect(await chatOf(ops).scale(bob, ["worker", "2"])).toMatchObject({ status: "refused", reason: expect.stringContaining("busy") });
      const recovered = await ops.start();
      expect(recovered).toEqual([expect.objectContaining({ operationId: id, lock: "frozen", state: expect.objectContaining({ ok: true, headSha: head() }) })]);
      expect((await repos.operations.get(id))?.status).toBe("interrupted");
      expect((await repos.deployments.byOperation(id))?.status).toBe("interrupted");
      expect(await repos.locks.get("prod")).toMatchObject({ kind: "freeze" });
      expect(notifier.messages.at(-1)!.texts[0]).toMatch(/Interrupted[\s\S]*web 1\/1 · worker 1\/1[\s\S]*stays frozen/);
      expect(await chatOf(ops).unlock(bob, [])).toMatchObject({ status: "ok", text: "🔓 prod is unlocked." });
      expect(await repos.locks.get("prod")).toBeNull();
      const events = (await audit.recent(10)).filter((e) => e.operationId === id).map((e) => e.outcome);
      expect(events).toContain("interrupted");
    });

    it("injection corpus through deploy, scale and logs: every payload refused, no marker, nothing ran, nothing awaits confirmation", async () => {
      const { ops, notifier } = makeOps();
      const before = shell.calls.length;
      const awaitingBefore = (await repos.operations.listByStatus(["awaiting_confirmation"])).length;
      for (const { name, value } of INJECTION_PAYLOADS) {
        for (const attempt of [
          () => chatOf(ops).deploy(alice, [value]),
          () => chatOf(ops).scale(alice, [value, "2"]),
          () => chatOf(ops).scale(alice, ["worker", value]),
          () => chatOf(ops).logs(alice, [value]),
        ]) {
          const result = await attempt();
          expect(result.status, name).toBe("refused");
        }
      }
      // Only /logs lists containers (Docker API, no shell); no command reached the target's shell.
      expect(shell.calls.length).toBe(before);
      expect(notifier.messages).toHaveLength(0);
      expect((await repos.operations.listByStatus(["awaiting_confirmation"])).length).toBe(awaitingBefore);
      for (const dir of [sandbox.appDir, homedir(), process.cwd(), "/"]) expect(existsSync(join(dir, MARKER)), dir).toBe(false);
    });
  });
}
