import { describe, expect, it } from "vitest";
import { createOperations } from "../../src/operations/index.js";
import { CONFIRM_PREFIX } from "../../src/bot/operations/callback-data.js";
import { JumpClock, alice, bob, makeDeps, opsConfig, chatOf } from "./operations-fakes.js";
import { SHA, fakeRepo } from "./operations-fake-repo.js";

const healthy = { deploy: { healthcheck: { url: "http://127.0.0.1:8080/health", timeoutSeconds: 5, intervalSeconds: 1 } } };

function setup(top: Record<string, unknown> = {}) {
  const { shell, state } = fakeRepo();
  const env = makeDeps({ shell, config: opsConfig(healthy, top), clock: new JumpClock() });
  const ops = createOperations(env.deps);
  return { ...env, ops, state };
}

describe("approval state machine", () => {
  it("a request becomes a plan under Confirm/Cancel buttons whose data fits in 64 bytes, with the requested audit row first", async () => {
    const { ops, notifier, repos, audit, shell } = setup();
    const planned = await chatOf(ops).deploy(alice, ["main"]);
    expect(planned.status).toBe("planned");
    if (planned.status !== "planned") return;
    const op = await repos.operations.get(planned.operationId);
    expect(op?.status).toBe("awaiting_confirmation");
    expect(op?.expiresAt?.getTime()).toBe(op!.createdAt.getTime() + 300_000);
    const message = notifier.messages[0]!;
    expect(message.texts[0]).toContain("Deploy main → prod");
    expect(message.texts[0]).toContain("1111111");
    expect(message.texts[0]).toContain("2222222");
    const buttons = message.options[0]?.buttons?.flat() ?? [];
    expect(buttons.map((b) => b.text)).toEqual(["✅ Confirm", "✖ Cancel"]);
    for (const b of buttons) expect(Buffer.byteLength(b.data)).toBeLessThanOrEqual(64);
    expect(audit.outcomes(planned.operationId)).toEqual(["requested", "info"]);
    // Planning only read: fetch, rev-parse, log.
    expect(shell.lines.every((l) => /^git (fetch|rev-parse|log)/.test(l))).toBe(true);
  });

  it("a double press runs once", async () => {
    const { ops, repos, shell, audit } = setup();
    const planned = await chatOf(ops).deploy(alice, ["main"]);
    if (planned.status !== "planned") throw new Error("not planned");
    const data = `${CONFIRM_PREFIX}${planned.operationId}`;
    const [a, b] = await Promise.all([chatOf(ops).press(bob, data, planned.message), chatOf(ops).press(bob, data, planned.message)]);
    const results = [a, b];
    expect(results.filter((r) => r.status === "confirmed")).toHaveLength(1);
    expect(results.filter((r) => r.status === "refused")).toHaveLength(1);
    await ops.engine.whenIdle();
    expect(repos.deployments.rows).toHaveLength(1);
    expect(shell.lines.filter((l) => l.includes("checkout"))).toHaveLength(1);
    expect(audit.outcomes(planned.operationId).filter((o) => o === "confirmed")).toHaveLength(1);
    expect((await repos.operations.get(planned.operationId))?.status).toBe("succeeded");
    // A third press, after it is done, changes nothing.
    const late = await chatOf(ops).press(bob, data, planned.message);
    expect(late).toMatchObject({ status: "refused", text: "Already done: succeeded." });
  });

  it("four eyes: the requester cannot confirm, someone else can", async () => {
    const { ops, repos, audit } = setup({ fourEyes: true });
    const planned = await chatOf(ops).deploy(alice, ["main"]);
    if (planned.status !== "planned") throw new Error("not planned");
    const own = await ops.service.confirm(alice, planned.operationId, planned.message);
    expect(own.status).toBe("refused");
    expect((await repos.operations.get(planned.operationId))?.status).toBe("awaiting_confirmation");
    expect(audit.outcomes(planned.operationId)).toContain("denied");
    const other = await ops.service.confirm(bob, planned.operationId, planned.message);
    expect(other.status).toBe("confirmed");
    await ops.engine.whenIdle();
    expect((await repos.operations.get(planned.operationId))?.confirmedBy).toBe(bob.userId);
  });

  it("buttons are bound to the plan's message: a press on another message or in another chat runs nothing and is audited", async () => {
    const { ops, repos, audit, shell } = setup();
    const planned = await chatOf(ops).deploy(alice, ["main"]);
    if (planned.status !== "planned" || !planned.message) throw new Error("not planned");
    const before = shell.calls.length;
    const { chatId, messageId } = planned.message;
    for (const pressedOn of [{ chatId, messageId: messageId + 1 }, { chatId: chatId - 1, messageId }, null]) {
      const press = await ops.service.confirm(bob, planned.operationId, pressedOn);
      expect(press).toEqual({ status: "refused", text: "This button does not belong to this message. Nothing ran." });
      expect(await ops.service.cancel(bob, planned.operationId, pressedOn)).toMatchObject({ status: "refused" });
    }
    expect((await repos.operations.get(planned.operationId))?.status).toBe("awaiting_confirmation");
    expect(audit.outcomes(planned.operationId).filter((o) => o === "denied")).toHaveLength(6);
    expect(shell.calls.length).toBe(before);
    // The claim itself is bound too: a repo-level claim from another message wins nothing.
    const createdAt = (await repos.operations.get(planned.operationId))!.createdAt;
    expect(await repos.operations.claim(planned.operationId, { userId: bob.userId, now: createdAt, excludeRequester: false, on: { chatId, messageId: messageId + 1 } })).toBeNull();
    expect((await ops.service.confirm(bob, planned.operationId, planned.message)).status).toBe("confirmed");
    await ops.engine.whenIdle();
  });

  it("an expired plan cannot be confirmed; the sweeper edits its message and audits it", async () => {
    const { ops, repos, notifier, clock, audit, shell } = setup();
    const planned = await chatOf(ops).deploy(alice, ["main"]);
    if (planned.status !== "planned") throw new Error("not planned");
    const before = shell.calls.length;
    (clock as JumpClock).t += 301_000;
    expect(await ops.engine.expireDue()).toBe(1);
    expect(notifier.last(planned.message!.messageId)).toContain("Expired");
    expect(notifier.messages[0]!.options.at(-1)?.buttons).toEqual([]);
    const press = await ops.service.confirm(bob, planned.operationId, planned.message);
    expect(press.status).toBe("refused");
    expect((await repos.operations.get(planned.operationId))?.status).toBe("expired");
    expect(audit.outcomes(planned.operationId)).toContain("expired");
    expect(shell.calls.length).toBe(before);
  });

  it("a press after the deadline but before the sweep also expires it, and nothing runs", async () => {
    const { ops, repos, clock, shell } = setup();
    const planned = await chatOf(ops).deploy(alice, ["main"]);
    if (planned.status !== "planned") throw new Error("not planned");
    const before = shell.calls.length;
    (clock as JumpClock).t += 300_000;
    const press = await ops.service.confirm(bob, planned.operationId, planned.message);
    expect(press).toMatchObject({ status: "refused" });
    expect((await repos.operations.get(planned.operationId))?.status).toBe("expired");
    expect(shell.calls.length).toBe(before);
  });

  it("cancel ends it as cancelled; a later confirm is refused", async () => {
    const { ops, repos, notifier, audit, shell } = setup();
    const planned = await chatOf(ops).deploy(alice, ["main"]);
    if (planned.status !== "planned") throw new Error("not planned");
    const before = shell.calls.length;
    expect((await ops.service.cancel(bob, planned.operationId, planned.message)).status).toBe("cancelled");
    expect(notifier.last(planned.message!.messageId)).toContain("Cancelled by @bob");
    expect((await ops.service.confirm(bob, planned.operationId, planned.message)).status).toBe("refused");
    expect((await repos.operations.get(planned.operationId))?.status).toBe("cancelled");
    expect(audit.outcomes(planned.operationId)).toEqual(["requested", "info", "cancelled"]);
    expect(shell.calls.length).toBe(before);
  });

  it("a second request on a busy target is refused with the holder; a second confirm waits for the lock", async () => {
    const { ops, repos } = setup();
    const first = await chatOf(ops).deploy(alice, ["main"]);
    const second = await chatOf(ops).deploy(bob, ["v1"]);
    if (first.status !== "planned" || second.status !== "planned") throw new Error("not planned");
    // Hold the lock by confirming the first but not letting it finish: fake a running holder.
    await repos.operations.transition(first.operationId, ["awaiting_confirmation"], "running");
    await repos.locks.insertIfFree({ target: "prod", kind: "operation", operationId: first.operationId, holderUserId: 1, holderName: "alice", reason: "deploy main", since: new Date(), heartbeatAt: new Date() });
    const third = await chatOf(ops).deploy(bob, ["v2"]);
    expect(third.status).toBe("refused");
    if (third.status === "refused") expect(third.reason).toMatch(/prod is busy: @alice is running deploy main since/);
    const busy = await ops.service.confirm(alice, second.operationId, second.message);
    expect(busy).toMatchObject({ status: "busy", lock: { operationId: first.operationId, holderName: "alice" } });
    const press = await chatOf(ops).press(alice, `${CONFIRM_PREFIX}${second.operationId}`, second.message);
    expect(press).toMatchObject({ status: "refused", text: expect.stringMatching(/^prod is busy: @alice is running deploy main since .* Press Confirm again once it is free\.$/) });
    // The second plan stays valid and runs once the lock is free.
    expect((await repos.operations.get(second.operationId))?.status).toBe("awaiting_confirmation");
    await repos.locks.releaseOperation("prod", first.operationId);
    expect((await ops.service.confirm(alice, second.operationId, second.message)).status).toBe("confirmed");
    await ops.engine.whenIdle();
    expect((await repos.operations.get(second.operationId))?.status).toBe("succeeded");
  });

  it("the run holds the target only inside withLock: held while it runs, free before the ✅ is sent", async () => {
    const { ops, repos, deps } = setup();
    const planned = await chatOf(ops).deploy(alice, ["main"]);
    if (planned.status !== "planned") throw new Error("not planned");
    const heldDuringSteps: (string | null)[] = [];
    const lockAtFinal: (string | null)[] = [];
    const progress = deps.reporter.progress.bind(deps.reporter);
    deps.reporter.progress = (op, snapshot) => {
      void repos.locks.get("prod").then((l) => heldDuringSteps.push(l?.operationId ?? null));
      progress(op, snapshot);
    };
    const finished = deps.reporter.finished.bind(deps.reporter);
    deps.reporter.finished = async (op, report) => {
      lockAtFinal.push((await repos.locks.get("prod"))?.operationId ?? null);
      return finished(op, report);
    };
    const pressed = await ops.service.confirm(bob, planned.operationId, planned.message);
    if (pressed.status !== "confirmed") throw new Error("not confirmed");
    expect((await pressed.done).status).toBe("succeeded");
    expect(heldDuringSteps.length).toBeGreaterThan(0);
    expect(heldDuringSteps.every((id) => id === planned.operationId)).toBe(true);
    expect(lockAtFinal).toEqual([null]);
  });

  it("a press that overtakes the write of the plan's message id still gets its progress and ✅ on that message", async () => {
    const { ops, repos, notifier } = setup();
    const planned = await chatOf(ops).deploy(alice, ["main"]);
    if (planned.status !== "planned" || !planned.message) throw new Error("not planned");
    // As if setMessage had not landed yet when the press arrived.
    repos.operations.rows.get(planned.operationId)!.messageId = null;
    const pressed = await chatOf(ops).press(bob, `${CONFIRM_PREFIX}${planned.operationId}`, planned.message);
    if (pressed.status !== "confirmed") throw new Error(JSON.stringify(pressed));
    expect((await pressed.done).status).toBe("succeeded");
    expect(notifier.last(planned.message.messageId)).toMatch(/✅ deployed <code>2222222<\/code> \(main\) in/);
    expect((await repos.operations.get(planned.operationId))?.messageId).toBe(planned.message.messageId);
  });

  it("an unknown ref is refused with a clear error and no buttons", async () => {
    const { ops, notifier, repos } = setup();
    const result = await chatOf(ops).deploy(alice, ["release/nope"]);
    expect(result.status).toBe("refused");
    if (result.status === "refused") expect(result.reason).toMatch(/ref "release\/nope" was not found on origin/);
    expect(notifier.messages).toHaveLength(0);
    expect([...repos.operations.rows.values()].map((r) => r.status)).toEqual(["failed"]);
  });

  it("the operation survives a chat that is down: the plan is stored even when the message fails", async () => {
    const { ops, notifier, repos } = setup();
    notifier.failSends = true;
    const planned = await chatOf(ops).deploy(alice, ["main"]);
    expect(planned).toMatchObject({ status: "planned", message: null });
    if (planned.status === "planned") expect((await repos.operations.get(planned.operationId))?.status).toBe("awaiting_confirmation");
  });

  it("no audit, no action: when the confirmed row cannot be written, nothing runs", async () => {
    const { ops, audit, shell, repos } = setup();
    const planned = await chatOf(ops).deploy(alice, ["main"]);
    if (planned.status !== "planned") throw new Error("not planned");
    const before = shell.calls.length;
    audit.append = async () => {
      throw new Error("audit down");
    };
    await expect(ops.service.confirm(bob, planned.operationId, planned.message)).rejects.toThrow("audit down");
    expect(shell.calls.length).toBe(before);
    expect((await repos.operations.get(planned.operationId))?.status).toBe("failed");
    expect(await repos.locks.get("prod")).toBeNull();
    void SHA;
  });
});
