import { describe, expect, it } from "vitest";
import { alice, bob, chatOf } from "../../unit/operations-fakes.js";
import { CONFIRM_PREFIX } from "../../../src/bot/operations/callback-data.js";
import { audit, config, database, head, log, makeOps, repos, running, sandbox, version } from "../operations-env.js";

export function deployTests(): void {
  describe("deploy, against the sandbox VPS", () => {
    it("v1 → v2: a double press runs once, web serves v2, the deployment row and the audit trail are written", async () => {
      const { ops, notifier } = makeOps();
      expect(await version()).toBe("v1");
      const planned = await chatOf(ops).deploy(alice, ["release/v2"]);
      expect(planned.status).toBe("planned");
      if (planned.status !== "planned") return;
      const plan = notifier.messages[0]!.texts[0]!;
      expect(plan).toContain(sandbox.versions.v1.slice(0, 7));
      expect(plan).toContain(sandbox.versions.v2.slice(0, 7));
      expect(plan).toContain("v2: second release");

      const started = Date.now();
      const presses = await Promise.all([ops.service.confirm(bob, planned.operationId, planned.message), ops.service.confirm(bob, planned.operationId, planned.message)]);
      expect(presses.map((p) => p.status).sort()).toEqual(["confirmed", "refused"]);
      const confirmed = presses.find((p) => p.status === "confirmed");
      if (confirmed?.status !== "confirmed") return;
      const final = await confirmed.done;
      const tookMs = Date.now() - started;
      console.log(`[timing] deploy v1→v2, confirm → ✅: ${tookMs} ms`);

      expect(final.status).toBe("succeeded");
      expect(await version()).toBe("v2");
      expect(head()).toBe(sandbox.versions.v2);
      const deployments = await repos.deployments.recent("prod", 10);
      expect(deployments).toHaveLength(1);
      expect(deployments[0]).toMatchObject({ kind: "deploy", ref: "release/v2", sha: sandbox.versions.v2, previousSha: sandbox.versions.v1, status: "succeeded", requestedByName: "alice" });
      expect(deployments[0]!.finishedAt).not.toBeNull();
      const text = notifier.last(planned.message!.messageId);
      expect(text).toMatch(/✓ fetched · ✓ checkout \w{7} · ✓ built · ✓ up · ✓ healthy in [\d.]+ s/);
      expect(text).toMatch(/✅ deployed .* in /);

      const events = (await audit.recent(50)).filter((e) => e.operationId === planned.operationId).reverse();
      expect(events.map((e) => e.outcome).filter((o) => o !== "info")).toEqual(["requested", "confirmed", "started", "succeeded"]);
      expect(events.filter((e) => e.action === "deploy.step")).toHaveLength(5);
      expect(await repos.locks.get("prod")).toBeNull();
    });

    it("two chats deploy at once: one runs, the other is told the target is busy; the broken version rolls back by itself", async () => {
      const { ops, notifier } = makeOps();
      const carol = { chatId: -200, userId: 3, username: "carol" };
      // Both ask for the same broken version, so whichever press wins, the outcome is the same.
      const [first, second] = await Promise.all([chatOf(ops).deploy(alice, ["broken"]), chatOf(ops).deploy(carol, ["broken"])]);
      if (first.status !== "planned" || second.status !== "planned") throw new Error(`not planned: ${JSON.stringify([first, second])}`);
      const [a, b] = await Promise.all([chatOf(ops).press(bob, `${CONFIRM_PREFIX}${first.operationId}`, first.message), chatOf(ops).press(carol, `${CONFIRM_PREFIX}${second.operationId}`, second.message)]);
      const [winner, loser] = a.status === "confirmed" ? [a, b] : [b, a];
      expect(winner.status).toBe("confirmed");
      expect(loser.status).toBe("refused");
      if (loser.status === "refused") expect(loser.text).toMatch(/prod is busy: @(alice|carol) is running deploy broken since/);
      // While it runs, a new request is refused up front, naming the holder.
      const third = await chatOf(ops).deploy(bob, ["main"]);
      expect(third.status).toBe("refused");
      if (third.status === "refused") expect(third.reason).toMatch(/busy: @(alice|carol) is running deploy broken since \d\d:\d\d:\d\d UTC/);
      if (winner.status !== "confirmed") return;
      const final = await winner.done;
      expect(final.status).toBe("rolled_back");
      expect(await version()).toBe("v2");
      expect(head()).toBe(sandbox.versions.v2);
      const won = winner.operationId === first.operationId ? first : second;
      const text = notifier.last(won.message!.messageId);
      expect(text).toMatch(/↩ rolled back to <code>\w{7}<\/code>/);
      expect(text).toContain("<pre>");
      expect(notifier.documents.some((d) => /attempt \d+: HTTP 404/.test(d.content))).toBe(true);
      expect((await repos.deployments.latest("prod"))?.status).toBe("rolled_back");
      expect(await repos.locks.get("prod")).toBeNull();
      // The other plan is still valid; withdraw it.
      const lost = winner.operationId === first.operationId ? second : first;
      expect((await ops.service.cancel(alice, lost.operationId, lost.message)).status).toBe("cancelled");
    });

    it("an unknown ref is a clear error and no confirmation is offered", async () => {
      const { ops, notifier } = makeOps();
      const result = await chatOf(ops).deploy(alice, ["release/v9"]);
      expect(result).toMatchObject({ status: "refused", reason: expect.stringContaining('ref "release/v9" was not found on origin') });
      expect(notifier.messages).toHaveLength(0);
    });

    it("/rollback with no argument returns to the commit before the last successful deployment", async () => {
      const { ops, notifier } = makeOps();
      const last = await repos.deployments.lastSucceeded("prod");
      const planned = await chatOf(ops).rollback(alice, []);
      if (planned.status !== "planned") throw new Error(JSON.stringify(planned));
      expect(notifier.messages[0]!.texts[0]).toContain("The database is NOT restored");
      const pressed = await ops.service.confirm(bob, planned.operationId, planned.message);
      if (pressed.status !== "confirmed") throw new Error(JSON.stringify(pressed));
      expect((await pressed.done).status).toBe("succeeded");
      expect(head()).toBe(last!.previousSha);
      expect(await version()).toBe(last!.previousSha === sandbox.versions.v1 ? "v1" : "v2");
      expect(await repos.deployments.latest("prod")).toMatchObject({ kind: "rollback", sha: last!.previousSha, previousSha: last!.sha, status: "succeeded" });
    });
  });
}
