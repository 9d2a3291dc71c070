import { describe, expect, it } from "vitest";
import { createOperations } from "../../src/operations/index.js";
import { INJECTION_PAYLOADS } from "../support/injection-corpus.js";
import { FakeDocker, FakeShell, JumpClock, ManualClock, alice, bob, chatOf, container, flush, makeDeps, opsConfig } from "./operations-fakes.js";
import { STATUS_PART_TIMEOUT_MS } from "../../src/operations/status.js";
import { SHA, fakeRepo } from "./operations-fake-repo.js";

describe("chat input is validated before anything runs", () => {
  it("every injection payload is refused as a ref, a service, a count, a rollback target, a log service or line count — nothing runs", async () => {
    const docker = new FakeDocker();
    docker.containers = [container("web", 1), container("worker", 1)];
    const env = makeDeps({ docker });
    const ops = createOperations(env.deps);
    for (const { name, value } of INJECTION_PAYLOADS) {
      const attempts = [
        chatOf(ops).deploy(alice, [value]),
        chatOf(ops).scale(alice, [value, "2"]),
        chatOf(ops).scale(alice, ["worker", value]),
        chatOf(ops).rollback(alice, [value]),
        chatOf(ops).logs(alice, [value]),
        chatOf(ops).logs(alice, ["web", value]),
      ];
      for (const [i, attempt] of attempts.entries()) {
        const result = await attempt;
        expect(result.status, `${name} (#${i})`).toBe("refused");
      }
    }
    expect(env.shell.calls).toHaveLength(0);
    expect(env.repos.operations.rows.size).toBe(0);
    expect(env.notifier.messages).toHaveLength(0);
    const denied = env.audit.events.filter((e) => e.outcome === "denied");
    expect(denied.length).toBe(INJECTION_PAYLOADS.length * 6);
    // Audit rows keep a bounded copy of the input.
    expect(Math.max(...denied.map((e) => JSON.stringify(e.args).length))).toBeLessThan(1000);
  });

  it("scale: an unknown service or a count outside [min, max] is refused with a clear reason", async () => {
    const env = makeDeps();
    const ops = createOperations(env.deps);
    expect(await chatOf(ops).scale(alice, ["web", "2"])).toMatchObject({ status: "refused", reason: expect.stringContaining("configured services: worker") });
    expect(await chatOf(ops).scale(alice, ["worker", "4"])).toMatchObject({ status: "refused", reason: expect.stringContaining("allowed 1 to 3") });
    expect(await chatOf(ops).scale(alice, ["worker", "0"])).toMatchObject({ status: "refused" });
    expect(await chatOf(ops).scale(alice, ["worker"])).toMatchObject({ status: "refused", reason: expect.stringContaining("Usage") });
    expect(await chatOf(ops).scale(alice, ["worker", "2", "staging"])).toMatchObject({ status: "refused", reason: expect.stringContaining("Unknown target") });
    expect(await chatOf(ops).scale(alice, ["worker", "2", "prod", "x"])).toMatchObject({ status: "refused", reason: expect.stringContaining("Too many") });
    expect(env.shell.calls).toHaveLength(0);
    expect(env.repos.operations.rows.size).toBe(0);
  });

  it("a button with data that is not ours is refused", async () => {
    const ops = createOperations(makeDeps().deps);
    expect(await chatOf(ops).press(alice, "op:c:../../etc", null)).toMatchObject({ status: "refused" });
    expect(await chatOf(ops).press(alice, `op:c:${"a".repeat(16)}`, null)).toMatchObject({ status: "refused", text: "This confirmation is unknown." });
  });
});

describe("scale (fakes)", () => {
  it("runs up --no-recreate --scale and waits until Docker shows n running", async () => {
    const docker = new FakeDocker();
    let scaled = false;
    let looksAfterScale = 0;
    docker.listContainers = async () => {
      if (!scaled) return [container("worker", 1)];
      // Compose starts the new replicas; the third reports healthy on the third look.
      looksAfterScale++;
      return [container("worker", 1), container("worker", 2), container("worker", 3, { health: looksAfterScale >= 3 ? "healthy" : "starting" })];
    };
    const shell = new FakeShell((cmd) => {
      if (Array.isArray(cmd) && cmd.includes("--scale")) scaled = true;
      return { code: 0 };
    });
    const env = makeDeps({ shell, docker, clock: new JumpClock() });
    const ops = createOperations(env.deps);
    const planned = await chatOf(ops).scale(alice, ["worker", "3"]);
    if (planned.status !== "planned") throw new Error(JSON.stringify(planned));
    expect(env.notifier.messages[0]!.texts[0]).toContain("worker: 1 → 3 running (allowed 1–3)");
    const pressed = await ops.service.confirm(bob, planned.operationId, planned.message);
    if (pressed.status !== "confirmed") throw new Error("not confirmed");
    const final = await pressed.done;
    expect(final.status).toBe("succeeded");
    expect(shell.lines).toEqual(["docker-compose -p app up -d --no-recreate --scale worker=3 worker"]);
    expect(looksAfterScale).toBe(3);
    expect(env.notifier.last(planned.message!.messageId)).toContain("✅ worker 3/3 running");
  });

  it("fails when the count never matches before the timeout", async () => {
    const docker = new FakeDocker();
    docker.containers = [container("worker", 1), container("worker", 2, { state: "restarting" })];
    const env = makeDeps({ docker, clock: new JumpClock() });
    const ops = createOperations(env.deps);
    const planned = await chatOf(ops).scale(alice, ["worker", "2"]);
    if (planned.status !== "planned") throw new Error("not planned");
    const pressed = await ops.service.confirm(bob, planned.operationId, planned.message);
    if (pressed.status !== "confirmed") throw new Error("not confirmed");
    expect((await pressed.done).status).toBe("failed");
    expect(env.notifier.last(planned.message!.messageId)).toMatch(/failed at verify: not 2 running after 2 min 0 s: worker 1\/2 running, 1 other \(restarting\)/);
  });
});

describe("payouts (fakes)", () => {
  it("pause runs the operator's command, verifies with status and stores who/why/since; /status shows it", async () => {
    let paused = false;
    const shell = new FakeShell((cmd) => {
      if (cmd === "redis-cli SET system:pause_payouts 1") paused = true;
      if (cmd === "redis-cli DEL system:pause_payouts") paused = false;
      if (cmd === "redis-cli GET system:pause_payouts") return { code: 0, stdout: paused ? "1\n" : "\n" };
      if (Array.isArray(cmd) && cmd.includes("log")) return { code: 0, stdout: `${SHA.v1}\t1111111\tv1\n` };
      return { code: 0 };
    });
    const config = opsConfig({ payouts: { pause: "redis-cli SET system:pause_payouts 1", resume: "redis-cli DEL system:pause_payouts", status: "redis-cli GET system:pause_payouts" } });
    const clock = new JumpClock();
    const env = makeDeps({ shell, config, clock });
    const ops = createOperations(env.deps);
    const planned = await chatOf(ops).pausePayouts(alice, ["fraud", "spike", "on", "\u202Ecard"]);
    if (planned.status !== "planned") throw new Error(JSON.stringify(planned));
    const pressed = await ops.service.confirm(alice, planned.operationId, planned.message);
    if (pressed.status !== "confirmed") throw new Error("not confirmed");
    expect((await pressed.done).status).toBe("succeeded");
    expect(paused).toBe(true);
    expect(await env.repos.payouts.get("prod")).toMatchObject({ paused: true, byName: "alice", reason: "fraud spike on card" });
    clock.t += 2 * 3600_000;
    const status = await chatOf(ops).statusOf(bob, []);
    expect(status.status === "ok" && status.html).toMatch(/⏸ payouts PAUSED by @alice 2 h( \d+ min)? ago: fraud spike on card/);

    const resume = await chatOf(ops).resumePayouts(bob, []);
    if (resume.status !== "planned") throw new Error("not planned");
    const r = await ops.service.confirm(bob, resume.operationId, resume.message);
    if (r.status !== "confirmed") throw new Error("not confirmed");
    expect((await r.done).status).toBe("succeeded");
    expect(paused).toBe(false);
    expect(await env.repos.payouts.get("prod")).toMatchObject({ paused: false, byName: "bob" });
  });

  it("a pause the status check does not confirm fails loudly", async () => {
    const shell = new FakeShell(() => ({ code: 0, stdout: "" }));
    const config = opsConfig({ payouts: { pause: "p", resume: "r", status: "s" } });
    const env = makeDeps({ shell, config });
    const ops = createOperations(env.deps);
    const planned = await chatOf(ops).pausePayouts(alice, []);
    if (planned.status !== "planned") throw new Error("not planned");
    const pressed = await ops.service.confirm(alice, planned.operationId, planned.message);
    if (pressed.status !== "confirmed") throw new Error("not confirmed");
    expect((await pressed.done).status).toBe("failed");
    expect(env.notifier.last(planned.message!.messageId)).toContain("payouts.status says payouts are NOT paused");
    expect(await env.repos.payouts.get("prod")).toBeNull();
  });
});

describe("restart recovery (fakes)", () => {
  it("running → interrupted, the chat is told what is live, and a deploy's lock becomes a freeze after the target was re-read", async () => {
    const { shell } = fakeRepo();
    const docker = new FakeDocker();
    docker.containers = [container("web", 1), container("worker", 1)];
    const env = makeDeps({ shell, docker });
    await env.repos.operations.insert({ id: "op-interrupted-1", kind: "deploy", target: "prod", status: "running", args: {}, chatId: -100, requestedBy: 1, requestedByName: "alice", createdAt: new Date() });
    await env.repos.operations.setMessage("op-interrupted-1", -100, 1);
    env.notifier.messages.push({ chatId: -100, messageId: 1, texts: ["progress"], options: [undefined] });
    await env.repos.deployments.insert({ operationId: "op-interrupted-1", target: "prod", kind: "deploy", ref: "main", sha: SHA.v2, previousSha: SHA.v1, status: "running", requestedBy: 1, requestedByName: "alice", startedAt: new Date() });
    await env.repos.locks.insertIfFree({ target: "prod", kind: "operation", operationId: "op-interrupted-1", holderUserId: 1, holderName: "alice", reason: "deploy main", since: new Date(), heartbeatAt: new Date() });
    const order: string[] = [];
    const toFreeze = env.repos.locks.toFreeze.bind(env.repos.locks);
    env.repos.locks.toFreeze = async (expected, reason) => {
      order.push("freeze");
      return toFreeze(expected, reason);
    };
    docker.listContainers = async () => {
      order.push("read containers");
      return docker.containers;
    };

    const ops = createOperations(env.deps);
    const recovered = await ops.start();
    await ops.stop();
    expect(recovered).toEqual([expect.objectContaining({ operationId: "op-interrupted-1", lock: "frozen", freezeVersion: 2, state: expect.objectContaining({ ok: true, headSha: SHA.v1 }) })]);
    expect(order).toEqual(["read containers", "freeze"]);
    expect((await env.repos.operations.get("op-interrupted-1"))?.status).toBe("interrupted");
    expect(env.repos.deployments.rows[0]?.status).toBe("interrupted");
    expect(env.audit.outcomes("op-interrupted-1")).toContain("interrupted");
    expect(env.notifier.last(1)).toContain("Interrupted");
    expect(env.notifier.messages.at(-1)!.texts[0]).toMatch(/Interrupted[\s\S]*1111111[\s\S]*web 1\/1 · worker 1\/1[\s\S]*stays frozen[\s\S]*\/rollback returns to/);
    expect(await env.repos.locks.get("prod")).toMatchObject({ kind: "freeze", version: 2, reason: expect.stringContaining("may still be running") });
  });

  it("an interrupted backup's lock is released once its heartbeat is stale by the database's clock", async () => {
    const env = makeDeps({ shell: fakeRepo().shell });
    await env.repos.operations.insert({ id: "op-interrupted-3", kind: "backup", target: "prod", status: "running", args: {}, chatId: -100, requestedBy: 1, requestedByName: "alice", createdAt: new Date() });
    const old = new Date(env.clock.now().getTime() - 130_000);
    await env.repos.locks.insertIfFree({ target: "prod", kind: "operation", operationId: "op-interrupted-3", holderUserId: 1, holderName: "alice", reason: "backup", since: old, heartbeatAt: old });
    const ops = createOperations(env.deps);
    const [recovered] = await ops.start();
    await ops.stop();
    expect(recovered?.lock).toBe("released");
    expect(await env.repos.locks.get("prod")).toBeNull();
  });

  it("when the target cannot be re-read, the lock becomes a freeze for a human to lift", async () => {
    const shell = new FakeShell(() => ({ code: 255, stderr: "ssh: connect to host: Connection refused" }));
    const env = makeDeps({ shell });
    await env.repos.operations.insert({ id: "op-interrupted-2", kind: "scale", target: "prod", status: "running", args: {}, chatId: -100, requestedBy: 1, requestedByName: "alice", createdAt: new Date() });
    await env.repos.locks.insertIfFree({ target: "prod", kind: "operation", operationId: "op-interrupted-2", holderUserId: 1, holderName: "alice", reason: "scale worker to 3", since: new Date(), heartbeatAt: new Date() });
    const ops = createOperations(env.deps);
    const [recovered] = await ops.start();
    await ops.stop();
    expect(recovered?.lock).toBe("frozen");
    expect(await env.repos.locks.get("prod")).toMatchObject({ kind: "freeze", operationId: null });
    expect(await chatOf(ops).scale(bob, ["worker", "2"])).toMatchObject({ status: "refused", reason: expect.stringContaining("frozen") });
    expect(await chatOf(ops).unlock(bob, [])).toMatchObject({ status: "ok" });
    expect(await env.repos.locks.get("prod")).toBeNull();
  });
});

describe("/status and /logs (fakes)", () => {
  it("is compact and never hangs when the target does not answer: each part gives up after its timeout on the Clock", async () => {
    const shell = new FakeShell(() => new Promise(() => {}));
    const docker = new FakeDocker();
    docker.listContainers = () => new Promise(() => {});
    const clock = new ManualClock();
    const env = makeDeps({ shell, docker, clock });
    const ops = createOperations(env.deps);
    let settled = false;
    const pending = chatOf(ops).statusOf(alice, []).finally(() => (settled = true));
    await flush();
    await clock.advance(STATUS_PART_TIMEOUT_MS - 1);
    await flush();
    expect(settled).toBe(false);
    await clock.advance(1);
    const reply = await pending;
    expect(reply.status === "ok" && reply.html).toMatch(/prod<\/b> · ⚠ unreachable: git did not answer/);
    expect(reply.status === "ok" && reply.html).toContain("lock: free");
  });

  it("shows live commit, replicas vs expected with health, and lists known services for an unknown one", async () => {
    const { shell } = fakeRepo();
    const docker = new FakeDocker();
    docker.containers = [container("web", 1, { health: "healthy" }), container("worker", 1), container("worker", 2, { state: "exited" })];
    const env = makeDeps({ shell, docker, clock: new ManualClock() });
    const ops = createOperations(env.deps);
    const reply = await chatOf(ops).statusOf(alice, ["prod"]);
    expect(reply.status).toBe("ok");
    if (reply.status !== "ok") return;
    expect(reply.html).toContain("<b>prod</b> · <code>1111111</code> — v1: first");
    expect(reply.html).toContain("✓ web 1/1 healthy · ⚠ worker 1/2 exited");
    expect(reply.html).toContain("deploy: none recorded");
    expect(await chatOf(ops).logs(alice, ["db"])).toMatchObject({ status: "refused", reason: expect.stringContaining("configured services: web, worker") });
    const logs = await chatOf(ops).logs(alice, ["worker", "5"]);
    expect(logs.status === "ok" && logs.html).toContain("logs of worker-1 (5)");
    docker.logs = async () => "x".repeat(5000);
    expect(await chatOf(ops).logs(alice, ["web", "500"])).toMatchObject({ status: "document", filename: "prod-web-500.log" });
    expect(await chatOf(ops).logs(alice, ["web", "501"])).toMatchObject({ status: "refused" });
  });
});
