import { describe, expect, it } from "vitest";
import { createOperations } from "../../src/operations/index.js";
import { alice, bob, chatOf, makeDeps } from "./operations-fakes.js";

describe("/lock, /unlock and /backups through the chat layer", () => {
  it("freezes with a reason, refuses a second freeze naming who froze it, lifts on /unlock, and says when nothing is locked", async () => {
    const env = makeDeps();
    const chat = chatOf(createOperations(env.deps));
    expect(await chat.lock(alice, ["prod", "hand", "migration"])).toEqual({ status: "ok", text: "🧊 prod is frozen: hand migration. Mutating commands are refused until /unlock." });
    expect(await chat.lock(bob, [])).toMatchObject({ status: "refused", reason: expect.stringMatching(/^prod is frozen by @alice since \d\d:\d\d:\d\d UTC \(.* ago\): hand migration\. \/unlock lifts it\.$/) });
    expect(env.audit.events.at(-1)).toMatchObject({ action: "lock", outcome: "denied", detail: { reason: "busy", lock: { kind: "freeze", holder: "alice" } } });
    expect(await chat.unlock(bob, [])).toEqual({ status: "ok", text: "🔓 prod is unlocked." });
    expect(await chat.unlock(bob, [])).toEqual({ status: "ok", text: "prod is not locked." });
  });

  it("/unlock leaves a live operation's lock alone and says why", async () => {
    const env = makeDeps();
    const chat = chatOf(createOperations(env.deps));
    await env.repos.operations.insert({ id: "op-live", kind: "deploy", target: "prod", status: "running", args: {}, chatId: -100, requestedBy: 1, requestedByName: "alice", createdAt: env.clock.now() });
    await env.repos.locks.insertIfFree({ target: "prod", kind: "operation", operationId: "op-live", holderUserId: 1, holderName: "alice", reason: "deploy main", since: env.clock.now(), heartbeatAt: env.clock.now() });
    expect(await chat.unlock(bob, [])).toMatchObject({
      status: "refused",
      reason: expect.stringMatching(/^prod is busy: @alice is running deploy main since .* Its operation is alive; wait for it to finish\.$/),
    });
    expect(await env.repos.locks.get("prod")).not.toBeNull();
  });

  it("a word that is not a target is refused before operations see it, and audited", async () => {
    const env = makeDeps();
    const chat = chatOf(createOperations(env.deps));
    expect(await chat.backups(alice, ["staging"])).toEqual({ status: "refused", reason: 'Unknown target "staging". Known targets: prod.' });
    expect(env.audit.events.at(-1)).toMatchObject({ action: "backups", outcome: "denied", args: { words: ["staging"] } });
  });
});
