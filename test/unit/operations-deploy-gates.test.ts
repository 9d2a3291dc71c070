import { describe, expect, it } from "vitest";
import { createOperations } from "../../src/operations/index.js";
import { JumpClock, alice, bob, chatOf, makeDeps, opsConfig } from "./operations-fakes.js";
import { SHA, fakeRepo } from "./operations-fake-repo.js";

/** `deploy.healthcheck` as a list: the gate passes only when every check passes. */
function setup(botStatus: () => number) {
  const { shell, state } = fakeRepo();
  const config = opsConfig({
    deploy: {
      autoRollback: false,
      healthcheck: [
        { url: "http://127.0.0.1:8080/health", timeoutSeconds: 3, intervalSeconds: 1 },
        { url: "https://app.example.com/", from: "bot", timeoutSeconds: 5, intervalSeconds: 1 },
      ],
    },
  });
  const env = makeDeps({ shell, config, clock: new JumpClock() });
  const asked: string[] = [];
  env.deps.fetch = (async (url: string | URL | Request) => {
    asked.push(String(url));
    return new Response("ok", { status: botStatus() });
  }) as typeof fetch;
  return { ...env, ops: createOperations(env.deps), state, asked };
}

async function deploy(env: ReturnType<typeof setup>) {
  const planned = await chatOf(env.ops).deploy(alice, ["main"]);
  if (planned.status !== "planned") throw new Error(`not planned: ${JSON.stringify(planned)}`);
  const pressed = await env.ops.service.confirm(bob, planned.operationId);
  if (pressed.status !== "confirmed") throw new Error(`not confirmed: ${JSON.stringify(pressed)}`);
  return { planned, final: await pressed.done };
}

describe("deploy health gate with a list of checks", () => {
  it("names every check in the plan and succeeds when all pass", async () => {
    const env = setup(() => 200);
    const { planned, final } = await deploy(env);
    expect(final.status).toBe("succeeded");
    expect(env.notifier.last(planned.message!.messageId)).toContain("✅ deployed");
    expect(env.asked).toContain("https://app.example.com/");
    expect(env.shell.lines.some((l) => l.includes("wget") && l.includes("http://127.0.0.1:8080/health"))).toBe(true);
  });

  it("fails when one check of the list stays unhealthy, though the other passes", async () => {
    const env = setup(() => 503);
    const { final } = await deploy(env);
    expect(final.status).toBe("failed");
    expect(env.state.head).toBe(SHA.v2);
    expect(env.repos.deployments.rows[0]?.status).toBe("failed");
  });

  it("plans with both URLs", async () => {
    const env = setup(() => 200);
    const planned = await chatOf(env.ops).deploy(alice, ["main"]);
    if (planned.status !== "planned") throw new Error("not planned");
    expect(env.notifier.last(planned.message!.messageId)).toContain("health (http://127.0.0.1:8080/health → 200, https://app.example.com/ → 200, ≤ 5.0 s)");
  });
});
