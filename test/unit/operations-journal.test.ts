import { describe, expect, it } from "vitest";
import { OperationJournal } from "../../src/operations/journal.js";
import { silentLogger } from "../../src/operations/model.js";
import { JumpClock, MemoryAudit, alice, bob, memoryRepos } from "./operations-fakes.js";

async function confirmed() {
  const repos = memoryRepos();
  const audit = new MemoryAudit();
  const op = await repos.operations.insert({ id: "op-1", kind: "backup", target: "prod", status: "confirmed", args: {}, chatId: -100, requestedBy: alice.userId, requestedByName: "alice", createdAt: new Date(0) });
  const journal = new OperationJournal({ repos, audit, clock: new JumpClock(), log: silentLogger }, bob);
  return { repos, audit, op, journal };
}

describe("OperationJournal: each transition with its audit row", () => {
  it("begin moves to running and writes `started` with who confirmed; end writes the final status and row", async () => {
    const { repos, audit, op, journal } = await confirmed();
    const begun = await journal.begin(op, new Date(0));
    expect(begun.op?.status).toBe("running");
    expect(audit.events.at(-1)).toMatchObject({ outcome: "started", username: "bob", operationId: "op-1", detail: { confirmedBy: "bob" } });
    const final = await journal.end(begun.op!, { outcome: { status: "failed", summary: ["failed at ", { code: "dump" }] }, steps: [], failure: null, durationMs: 1200 }, (t) => t);
    expect(final).toMatchObject({ status: "failed", error: "failed at dump" });
    expect(audit.events.at(-1)).toMatchObject({ outcome: "failed", detail: { durationMs: 1200, summary: "failed at dump" } });
    expect((await repos.operations.get("op-1"))?.status).toBe("failed");
  });

  it("no audit, no action: when `started` cannot be written the operation ends failed and must not run", async () => {
    const { repos, audit, op, journal } = await confirmed();
    audit.append = async () => {
      throw new Error("audit down");
    };
    expect(await journal.begin(op, new Date(0))).toEqual({ op: null, auditFailed: true });
    expect(await repos.operations.get("op-1")).toMatchObject({ status: "failed", error: "audit log unavailable" });
  });

  it("a row that moved on (already running elsewhere) is not begun twice", async () => {
    const { op, journal } = await confirmed();
    expect((await journal.begin(op, new Date(0))).op).not.toBeNull();
    expect(await journal.begin(op, new Date(0))).toEqual({ op: null, auditFailed: false });
  });

  it("end survives a database that went away: logged, the row stays running for restart recovery", async () => {
    const { repos, op, journal } = await confirmed();
    const running = (await journal.begin(op, new Date(0))).op!;
    repos.operations.transition = async () => {
      throw new Error("connection lost");
    };
    expect(await journal.end(running, { outcome: { status: "succeeded", summary: ["ok"] }, steps: [], failure: null, durationMs: 1 }, (t) => t)).toBeNull();
  });
});
