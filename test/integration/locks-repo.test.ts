import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { DrizzleLocksRepo } from "../../src/infra/db/repos/locks.js";
import type { LockRecord } from "../../src/operations/model.js";
import { createTestDatabase } from "../support/db.js";

/**
 * The locks table decides who may change a target. Its guarantees rest on single conditional
 * statements (INSERT … ON CONFLICT DO NOTHING, UPDATE … WHERE the lock is still the one judged
 * dead), so they are only proven by racing them on a real Postgres over many connections.
 */

/** Independent pools: each acquirer gets its own backend connection, so the statements truly overlap. */
const POOLS = 3;
const PER_POOL = 10;
const ACQUIRERS = POOLS * PER_POOL;

let handles: DatabaseHandle[] = [];
let repos: DrizzleLocksRepo[] = [];

beforeAll(async () => {
  const url = createTestDatabase("locks");
  handles = await Promise.all(Array.from({ length: POOLS }, () => openDatabase({ url, dataDir: "/unused-with-a-url" })));
  await migrate(handles[0]!);
  // Open every pooled connection now, so the races below are not serialised by connection setup.
  await Promise.all(handles.flatMap((h) => Array.from({ length: PER_POOL }, () => h.db.execute(sql`select pg_sleep(0.05)`))));
  repos = handles.map((h) => new DrizzleLocksRepo(h.db));
}, 60_000);

afterAll(async () => {
  await Promise.all(handles.map((h) => h.close()));
});

/** Acquirer `i` talks through pool `i % POOLS`. */
function repoFor(i: number): DrizzleLocksRepo {
  return repos[i % POOLS]!;
}

function operationLock(target: string, operationId: string, since: Date): LockRecord {
  return { target, kind: "operation", operationId, holderUserId: 42, holderName: operationId, reason: "deploy main", since, heartbeatAt: since };
}

async function rowsFor(target: string): Promise<number> {
  const result = await handles[0]!.db.execute<{ n: number }>(sql`select count(*)::int as n from locks where target = ${target}`);
  return (result as unknown as { n: number }[])[0]!.n;
}

describe("DrizzleLocksRepo on a real Postgres, raced", () => {
  it("many concurrent acquirers of a free target: exactly one holds it, the row is the winner's", async () => {
    for (let round = 0; round < 15; round++) {
      const target = `free-${round}`;
      const since = new Date();
      const results = await Promise.all(
        Array.from({ length: ACQUIRERS }, (_, i) => repoFor(i).insertIfFree(operationLock(target, `op-${round}-${i}`, since))),
      );
      const winners = results.flatMap((won, i) => (won ? [i] : []));
      expect(winners, `round ${round}`).toHaveLength(1);
      expect((await repos[0]!.get(target))?.operationId).toBe(`op-${round}-${winners[0]}`);
      expect(await rowsFor(target)).toBe(1);
    }
  });

  it("taking over a stale lock: of many concurrent takers exactly one wins, the rest see it held", async () => {
    for (let round = 0; round < 15; round++) {
      const target = `stale-${round}`;
      const dead = operationLock(target, `dead-${round}`, new Date(Date.now() - 3_600_000));
      expect(await repos[0]!.insertIfFree(dead)).toBe(true);
      const now = new Date();
      const results = await Promise.all(
        Array.from({ length: ACQUIRERS }, (_, i) => repoFor(i).replace(dead, operationLock(target, `taker-${round}-${i}`, now))),
      );
      const winners = results.flatMap((won, i) => (won ? [i] : []));
      expect(winners, `round ${round}`).toHaveLength(1);
      const holder = await repos[1]!.get(target);
      expect(holder?.operationId).toBe(`taker-${round}-${winners[0]}`);
      expect(await rowsFor(target)).toBe(1);
      // The dead lock is gone: a late taker still holding the old picture cannot win.
      expect(await repos[2]!.replace(dead, operationLock(target, "late", new Date()))).toBe(false);
      expect((await repos[0]!.get(target))?.operationId).toBe(holder?.operationId);
    }
  });

  it("a takeover only matches the exact lock judged dead (same operation, same since)", async () => {
    const since = new Date("2030-01-01T00:00:00.000Z");
    const lock = operationLock("exact", "op-a", since);
    await repos[0]!.insertIfFree(lock);
    const next = operationLock("exact", "op-b", new Date());
    expect(await repos[0]!.replace({ ...lock, since: new Date(since.getTime() + 1) }, next)).toBe(false);
    expect(await repos[0]!.replace({ ...lock, operationId: "op-other" }, next)).toBe(false);
    expect(await repos[0]!.replace({ ...lock, operationId: null }, next)).toBe(false);
    expect((await repos[0]!.get("exact"))?.operationId).toBe("op-a");
    expect(await repos[0]!.replace(lock, next)).toBe(true);
    expect((await repos[0]!.get("exact"))?.operationId).toBe("op-b");
  });

  it("a freeze (no operation) is taken over by one of many concurrent takers", async () => {
    const since = new Date(Date.now() - 1000);
    const freeze: LockRecord = { target: "frozen", kind: "freeze", operationId: null, holderUserId: 7, holderName: "bob", reason: "incident", since, heartbeatAt: null };
    await repos[0]!.insertIfFree(freeze);
    const results = await Promise.all(
      Array.from({ length: ACQUIRERS }, (_, i) => repoFor(i).replace(freeze, operationLock("frozen", `t-${i}`, new Date()))),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await repos[0]!.get("frozen"))?.kind).toBe("operation");
  });

  it("a release or heartbeat by anyone but the holder does nothing", async () => {
    const since = new Date(Date.now() - 5000);
    const lock = operationLock("held", "holder-op", since);
    await repos[0]!.insertIfFree(lock);

    const intruders = await Promise.all(Array.from({ length: ACQUIRERS }, (_, i) => repoFor(i).releaseOperation("held", `not-the-holder-${i}`)));
    expect(intruders.some(Boolean)).toBe(false);
    expect(await repos[1]!.releaseFreeze("held")).toBe(false); // an operation lock is not a freeze
    expect(await repos[1]!.releaseOperation("other-target", "holder-op")).toBe(false);
    expect(await repos[2]!.heartbeat("held", "not-the-holder", new Date())).toBe(false);
    expect(await repos[0]!.get("held")).toEqual(lock);

    const beat = new Date();
    expect(await repos[2]!.heartbeat("held", "holder-op", beat)).toBe(true);
    expect((await repos[0]!.get("held"))?.heartbeatAt).toEqual(beat);

    // The holder's release races its own duplicates: exactly one deletes the row.
    const releases = await Promise.all(Array.from({ length: ACQUIRERS }, (_, i) => repoFor(i).releaseOperation("held", "holder-op")));
    expect(releases.filter(Boolean)).toHaveLength(1);
    expect(await repos[0]!.get("held")).toBeNull();
    expect(await repos[0]!.heartbeat("held", "holder-op", new Date())).toBe(false);
  });

  it("release then acquire race: whoever wins afterwards, there is never more than one row", async () => {
    for (let round = 0; round < 10; round++) {
      const target = `churn-${round}`;
      const first = operationLock(target, `first-${round}`, new Date());
      await repos[0]!.insertIfFree(first);
      const results = await Promise.all([
        repos[0]!.releaseOperation(target, first.operationId!),
        ...Array.from({ length: ACQUIRERS - 1 }, (_, i) => repoFor(i + 1).insertIfFree(operationLock(target, `next-${round}-${i}`, new Date()))),
      ]);
      expect(results[0]).toBe(true);
      const holders = results.slice(1).filter(Boolean).length;
      expect(holders).toBeLessThanOrEqual(1);
      expect(await rowsFor(target)).toBe(holders);
    }
  });
});
