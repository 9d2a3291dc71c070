import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireDataDirLock, DataDirLockedError, DATA_DIR_LOCK_FILE } from "../../src/infra/db/data-dir-lock.js";
import { instanceName, parseInstanceName } from "../../src/infra/instance.js";

describe("acquireDataDirLock", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "opsgram-datadir-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a second live process gets a clear error naming the holder; release frees the directory", () => {
    const first = acquireDataDirLock(dir, { pid: process.pid, host: "box" });
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(first.file, "utf8"))).toMatchObject({ pid: process.pid, host: "box" });
    const second = () => acquireDataDirLock(dir, { pid: process.pid + 1, host: "box" });
    expect(second).toThrow(DataDirLockedError);
    expect(second).toThrow(new RegExp(`^another opsgram uses DATA_DIR ${dir} \\(pid ${process.pid}, host box, since .+\\): stop it first$`));
    first.release();
    expect(existsSync(join(dir, DATA_DIR_LOCK_FILE))).toBe(false);
    acquireDataDirLock(dir, { pid: process.pid + 1, host: "box" }).release();
  });

  it("replaces a lock left by a dead process, or by our own pid from a previous life (container pid 1)", () => {
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    writeFileSync(join(dir, DATA_DIR_LOCK_FILE), JSON.stringify({ pid: dead, host: "box", since: "earlier" }));
    const lock = acquireDataDirLock(dir, { pid: 4242, host: "box" });
    expect(JSON.parse(readFileSync(lock.file, "utf8")).pid).toBe(4242);
    lock.release();
    writeFileSync(join(dir, DATA_DIR_LOCK_FILE), JSON.stringify({ pid: 1, host: "box", since: "before the restart" }));
    acquireDataDirLock(dir, { pid: 1, host: "box", isAlive: () => true }).release();
  });

  it("respects a lock from another host (its liveness cannot be checked) and says how to clear it", () => {
    writeFileSync(join(dir, DATA_DIR_LOCK_FILE), JSON.stringify({ pid: 77, host: "other-box", since: "x" }));
    expect(() => acquireDataDirLock(dir, { pid: 1, host: "box", isAlive: () => false })).toThrow(/host other-box.*or delete .*opsgram\.lock if that host no longer runs it/);
  });

  it("release leaves a lock alone that another process took over", () => {
    const lock = acquireDataDirLock(dir, { pid: 10, host: "box", isAlive: () => false });
    writeFileSync(lock.file, JSON.stringify({ pid: 11, host: "box", since: "later" }));
    lock.release();
    expect(existsSync(lock.file)).toBe(true);
  });
});

describe("instanceName", () => {
  it("round-trips pid and host and fits Postgres's 63-byte application_name", () => {
    expect(parseInstanceName(instanceName({ pid: 123, host: "ops-1" }))).toEqual({ pid: 123, host: "ops-1" });
    expect(instanceName({ pid: 1, host: "h".repeat(100) })).toHaveLength(63);
    expect(parseInstanceName("psql")).toBeNull();
  });
});
