import { describe, expect, it } from "vitest";
import { parseUnlockData } from "../../src/bot/operations/unlock-buttons.js";
import { createOperations } from "../../src/operations/index.js";
import { alice, bob, chatOf, makeDeps, opsConfig } from "./operations-fakes.js";

/** `fourEyes: [unlock]`: /unlock asks, and only someone else's Confirm lifts the freeze. */
describe("four eyes for /unlock", () => {
  function setup(fourEyes: string[]) {
    const env = makeDeps({ config: opsConfig({}, { fourEyes }) });
    return { env, ops: createOperations(env.deps) };
  }

  it("the asker's own Confirm is refused and audited; another person's lifts the freeze", async () => {
    const { env, ops } = setup(["unlock"]);
    await chatOf(ops).lock(alice, ["incident"]);
    const asked = await chatOf(ops).unlock(alice, []);
    expect(asked).toMatchObject({ status: "ok", text: expect.stringContaining("someone else must confirm") });
    expect(await env.repos.locks.get("prod")).toMatchObject({ kind: "freeze" });
    const confirm = asked.status === "ok" ? asked.buttons?.[0]?.[0]?.data : undefined;
    expect(parseUnlockData(confirm!)).toMatchObject({ action: "confirm", target: "prod", askedBy: alice.userId });

    expect(await chatOf(ops).pressUnlock(alice, confirm!)).toMatchObject({ status: "refused", text: expect.stringContaining("Four eyes") });
    expect(await env.repos.locks.get("prod")).toMatchObject({ kind: "freeze" });
    expect(env.audit.events.some((r) => r.action === "unlock" && r.outcome === "denied" && r.userId === alice.userId)).toBe(true);

    expect(await chatOf(ops).pressUnlock(bob, confirm!)).toMatchObject({ status: "done", text: expect.stringContaining("unlocked") });
    expect(await env.repos.locks.get("prod")).toBeNull();
  });

  it("without four eyes for unlock, /unlock lifts at once", async () => {
    const { env, ops } = setup(["deploy"]);
    await chatOf(ops).lock(alice, ["incident"]);
    expect(await chatOf(ops).unlock(alice, [])).toMatchObject({ status: "ok", text: expect.stringContaining("unlocked") });
    expect(await env.repos.locks.get("prod")).toBeNull();
  });
});
