import { describe, expect, it } from "vitest";
import { describeLock } from "../../src/bot/operations/render-lock.js";
import { TargetLocks, type HeldLock } from "../../src/operations/lock.js";
import { silentLogger } from "../../src/operations/model.js";
import { JumpClock, alice, bob, memoryRepos } from "./operations-fakes.js";

function setup() {
  const clock = new JumpClock();
  const repos = memoryRepos(() => clock.now());
  const locks = new TargetLocks({ repo: repos.locks, clock, log: silentLogger, staleAfterMs: 120_000 });
  return { repos, clock, locks };
}

async function runningOp(repos: ReturnType<typeof memoryRepos>, id: string) {
  await repos.operations.insert({ id, kind: "deploy", target: "prod", status: "running", args: {}, chatId: 1, requestedBy: 1, requestedByName: "alice", createdAt: new Date() });
}

const request = (operationId: string) => ({ target: "prod", operationId, holderUserId: 1, holderName: "alice", reason: "deploy v2" });

/**
 * Enters withLock as `operationId` and stays inside until `leave()` (a holder that dies never
 * leaves). Resolves once it is inside, or with the holder that kept it out.
 */
async function hold(locks: TargetLocks, operationId: string, patch: Partial<ReturnType<typeof request>> = {}) {
  let leave!: () => void;
  const gate = new Promise<void>((resolve) => (leave = resolve));
  let inside!: (held: HeldLock) => void;
  const entered = new Promise<HeldLock>((resolve) => (inside = resolve));
  const done = locks.withLock({ ...request(operationId), ...patch }, async (held) => {
    inside(held);
    await gate;
    return operationId;
  });
  const first = await Promise.race([entered, done]);
  if ("status" in first) return { status: first.status, lock: first.status === "held" ? first.lock : null, leave, done, held: null };
  return { status: "acquired" as const, lock: first.lock, leave, done, held: first };
}

describe("TargetLocks", () => {
  it("gives a free target to the first taker and tells the second who holds it, doing what, since when", async () => {
    const { repos, locks, clock } = setup();
    await runningOp(repos, "op-a");
    expect((await hold(locks, "op-a")).status).toBe("acquired");
    clock.t += 90_000;
    const second = await locks.withLock({ ...request("op-b"), holderName: "bob" }, async () => "ran");
    expect(second.status).toBe("held");
    if (second.status !== "held") return;
    expect(second.lock.operationId).toBe("op-a");
    const text = describeLock(second.lock, clock.now());
    expect(text).toContain("@alice");
    expect(text).toContain("deploy v2");
    expect(text).toContain("03:00:00 UTC");
    expect(text).toContain("1 min ago");
  });

  it("never takes over a lock whose heartbeat is fresh by the database's clock, even if its row says finished", async () => {
    const { repos, locks, clock } = setup();
    await runningOp(repos, "op-a");
    await hold(locks, "op-a");
    await repos.operations.transition("op-a", ["running"], "failed");
    expect((await hold(locks, "op-b")).status).toBe("held");
    clock.t += 121_000;
    const taken = await hold(locks, "op-b");
    expect(taken.status).toBe("acquired");
    expect((await repos.locks.get("prod"))?.operationId).toBe("op-b");
    expect(taken.lock?.version).toBe(2);
  });

  it("a holder whose heartbeat went stale loses its lease: the check throws, even before anyone takes the lock", async () => {
    const { repos, locks, clock } = setup();
    await runningOp(repos, "op-a");
    const a = await hold(locks, "op-a");
    await a.held!.check();
    clock.t += 121_000;
    await expect(a.held!.check()).rejects.toMatchObject({ name: "LeaseLostError", why: expect.stringMatching(/heartbeat went stale \(121 s/) });
    expect(await a.held!.beat()).toBe(false);
  });

  it("fencing: once another operation took the lock over, the old holder can neither renew nor freeze it", async () => {
    const { repos, locks, clock } = setup();
    await runningOp(repos, "op-a");
    const a = await hold(locks, "op-a");
    clock.t += 121_000;
    const b = await hold(locks, "op-b", { holderName: "bob", reason: "deploy v3" });
    expect(b.status).toBe("acquired");
    await expect(a.held!.check()).rejects.toMatchObject({ why: expect.stringContaining("taken over by @bob (deploy v3)") });
    expect(await a.held!.freeze("stale holder")).toBeNull();
    expect(await b.held!.beat()).toBe(true);
    expect((await repos.locks.get("prod"))?.operationId).toBe("op-b");
  });

  it("a holder freezes its own lock; the freeze outlives the release, and only that freeze's version lifts it", async () => {
    const { repos, locks } = setup();
    await runningOp(repos, "op-a");
    const a = await hold(locks, "op-a");
    const frozen = await a.held!.freeze("rollback failed");
    expect(frozen).toMatchObject({ kind: "freeze", operationId: null, reason: "rollback failed", version: 2 });
    a.leave();
    await a.done;
    expect(await repos.locks.get("prod")).toMatchObject({ kind: "freeze" });
    expect((await locks.unfreeze("prod", 1)).status).toBe("held");
    expect((await locks.unfreeze("prod", 2)).status).toBe("lifted");
  });

  it("takes over a lock whose heartbeat went stale, but not one that keeps beating", async () => {
    const { repos, locks, clock } = setup();
    await runningOp(repos, "op-a");
    const a = await hold(locks, "op-a");
    clock.t += 100_000;
    expect(await a.held!.beat()).toBe(true);
    clock.t += 100_000;
    expect((await hold(locks, "op-b")).status).toBe("held");
    clock.t += 30_000;
    expect((await hold(locks, "op-b")).status).toBe("acquired");
  });

  it("withLock releases after success and after failure, and rethrows the original error", async () => {
    const { repos, locks } = setup();
    await runningOp(repos, "op-a");
    expect(await locks.withLock(request("op-a"), async () => 42)).toEqual({ status: "done", value: 42 });
    expect(await repos.locks.get("prod")).toBeNull();

    const original = new Error("build failed");
    repos.locks.releaseOperation = async () => {
      throw new Error("database gone");
    };
    await expect(locks.withLock(request("op-a"), async () => {
      throw original;
    })).rejects.toBe(original);
  });

  it("withLock answers busy with the holder, and never runs the work", async () => {
    const { repos, locks } = setup();
    await runningOp(repos, "op-a");
    const a = await hold(locks, "op-a");
    let ran = false;
    const busy = await locks.withLock(request("op-b"), async () => {
      ran = true;
    });
    expect(busy).toMatchObject({ status: "held", lock: { holderName: "alice", operationId: "op-a" } });
    expect(ran).toBe(false);
    a.leave();
    expect(await a.done).toEqual({ status: "done", value: "op-a" });
    expect(await repos.locks.get("prod")).toBeNull();
  });

  it("withLock surfaces a failed release when the work itself succeeded", async () => {
    const { repos, locks } = setup();
    await runningOp(repos, "op-a");
    repos.locks.releaseOperation = async () => {
      throw new Error("database gone");
    };
    await expect(locks.withLock(request("op-a"), async () => 1)).rejects.toThrow("database gone");
  });

  it("a freeze blocks operations until /unlock, and never goes stale", async () => {
    const { repos, locks, clock } = setup();
    expect((await locks.freeze("prod", bob, "db migration by hand")).status).toBe("acquired");
    clock.t += 10 * 3600_000;
    const held = await hold(locks, "op-a");
    expect(held.status).toBe("held");
    expect(describeLock(held.lock!, clock.now())).toMatch(/frozen by @bob .*: db migration by hand/);
    expect((await locks.unfreeze("prod")).status).toBe("lifted");
    expect((await hold(locks, "op-a")).status).toBe("acquired");
    void repos;
  });

  it("/unlock never lifts an operation's lock while its heartbeat is fresh, but clears a stale one", async () => {
    const { repos, locks, clock } = setup();
    await runningOp(repos, "op-a");
    await hold(locks, "op-a");
    expect((await locks.unfreeze("prod")).status).toBe("held");
    await repos.operations.transition("op-a", ["running"], "interrupted");
    expect((await locks.unfreeze("prod")).status).toBe("held");
    clock.t += 121_000;
    expect((await locks.unfreeze("prod")).status).toBe("lifted");
    expect(await locks.current("prod")).toBeNull();
    void alice;
  });
});
