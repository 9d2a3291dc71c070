import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { DrizzleLocksRepo } from "../../src/infra/db/repos/locks.js";
import type { NewLock } from "../../src/operations/model.js";
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
/** The lease length the tests judge staleness by. */
const STALE_MS = 120_000;

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

function operationLock(target: string, operationId: string, since: Date): NewLock {
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
      const planted = await repos[0]!.insertIfFree(dead);
      expect(planted).toMatchObject({ version: 1 });
      const results = await Promise.all(
        Array.from({ length: ACQUIRERS }, (_, i) => repoFor(i).takeOverStale(planted!, { ...operationLock(target, `taker-${round}-${i}`, new Date()), since: undefined, heartbeatAt: undefined }, STALE_MS)),
      );
      const winners = results.flatMap((won, i) => (won ? [i] : []));
      expect(winners, `round ${round}`).toHaveLength(1);
      const holder = await repos[1]!.get(target);
      expect(holder?.operationId).toBe(`taker-${round}-${winners[0]}`);
      expect(holder?.version).toBe(2);
      // The winner's heartbeat is the database's now(): fresh.
      expect(holder!.ageMs).toBeLessThan(5_000);
      expect(await rowsFor(target)).toBe(1);
      // The dead lock is gone: a late taker still holding the old picture (version 1) cannot win,
      // and one with the new version cannot either: the winner's heartbeat is fresh.
      expect(await repos[2]!.takeOverStale(planted!, operationLock(target, "late", new Date()), STALE_MS)).toBeNull();
      expect(await repos[2]!.takeOverStale(holder!, operationLock(target, "late", new Date()), STALE_MS)).toBeNull();
      expect((await repos[0]!.get(target))?.operationId).toBe(holder?.operationId);
    }
  });

  it("a takeover only matches the version judged dead, and never a fresh heartbeat by the database's clock", async () => {
    const lock = await repos[0]!.insertIfFree(operationLock("exact", "op-a", new Date(Date.now() - 3_600_000)));
    const next = operationLock("exact", "op-b", new Date());
    expect(await repos[0]!.takeOverStale({ target: "exact", version: lock!.version + 1 }, next, STALE_MS)).toBeNull();
    expect((await repos[0]!.get("exact"))?.operationId).toBe("op-a");
    expect(await repos[0]!.takeOverStale(lock!, next, STALE_MS)).toMatchObject({ operationId: "op-b", version: 2 });
    // A planted heartbeat far in the bot's "future" is judged by the database: fresh, so never taken.
    const fresh = await repos[0]!.insertIfFree({ ...operationLock("fresh", "op-c", new Date()), since: undefined, heartbeatAt: undefined });
    expect(await repos[0]!.takeOverStale(fresh!, next, STALE_MS)).toBeNull();
    expect(await repos[0]!.releaseStale(fresh!, STALE_MS)).toBe(false);
  });

  it("a freeze is never taken over; only releaseFreeze (of its version) lifts it", async () => {
    const freeze: NewLock = { target: "frozen", kind: "freeze", operationId: null, holderUserId: 7, holderName: "bob", reason: "incident", since: new Date(Date.now() - 3_600_000) };
    const planted = await repos[0]!.insertIfFree(freeze);
    const results = await Promise.all(Array.from({ length: ACQUIRERS }, (_, i) => repoFor(i).takeOverStale(planted!, operationLock("frozen", `t-${i}`, new Date()), STALE_MS)));
    expect(results.filter(Boolean)).toHaveLength(0);
    expect(await repos[0]!.releaseFreeze("frozen", planted!.version + 1)).toBe(false);
    expect(await repos[0]!.releaseFreeze("frozen", planted!.version)).toBe(true);
  });

  it("renew: only the holder at its version, only while fresh; toFreeze bumps the version and ends the lease", async () => {
    const lock = await repos[0]!.insertIfFree({ ...operationLock("lease", "op-l", new Date()), since: undefined, heartbeatAt: undefined });
    expect(await repos[1]!.renew("lease", "op-l", lock!.version, STALE_MS)).toBe(true);
    expect(await repos[1]!.renew("lease", "op-l", lock!.version + 1, STALE_MS)).toBe(false);
    expect(await repos[1]!.renew("lease", "other", lock!.version, STALE_MS)).toBe(false);
    // Stale by the database's clock: a 1 ms window has passed by the next statement.
    await handles[0]!.db.execute(sql`update locks set heartbeat_at = now() - interval '10 minutes' where target = 'lease'`);
    expect(await repos[1]!.renew("lease", "op-l", lock!.version, STALE_MS)).toBe(false);
    const frozen = await repos[2]!.toFreeze(lock!, "interrupted deploy");
    expect(frozen).toMatchObject({ kind: "freeze", operationId: null, version: lock!.version + 1 });
    expect(await repos[2]!.toFreeze(lock!, "again")).toBeNull();
    expect(await repos[1]!.renew("lease", "op-l", lock!.version, STALE_MS)).toBe(false);
  });

  it("a release or heartbeat by anyone but the holder does nothing", async () => {
    const since = new Date(Date.now() - 5000);
    const lock = operationLock("held", "holder-op", since);
    await repos[0]!.insertIfFree(lock);

    const intruders = await Promise.all(Array.from({ length: ACQUIRERS }, (_, i) => repoFor(i).releaseOperation("held", `not-the-holder-${i}`)));
    expect(intruders.some(Boolean)).toBe(false);
    expect(await repos[1]!.releaseFreeze("held")).toBe(false); // an operation lock is not a freeze
    expect(await repos[1]!.releaseOperation("other-target", "holder-op")).toBe(false);
    expect(await repos[2]!.renew("held", "not-the-holder", 1, STALE_MS)).toBe(false);
    expect(await repos[0]!.get("held")).toMatchObject({ ...lock, version: 1 });

    expect(await repos[2]!.renew("held", "holder-op", 1, STALE_MS)).toBe(true);
    expect((await repos[0]!.get("held"))!.heartbeatAt!.getTime()).toBeGreaterThan(since.getTime());

    // The holder's release races its own duplicates: exactly one deletes the row.
    const releases = await Promise.all(Array.from({ length: ACQUIRERS }, (_, i) => repoFor(i).releaseOperation("held", "holder-op")));
    expect(releases.filter(Boolean)).toHaveLength(1);
    expect(await repos[0]!.get("held")).toBeNull();
    expect(await repos[0]!.renew("held", "holder-op", 1, STALE_MS)).toBe(false);
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
