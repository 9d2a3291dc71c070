import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkFilePermissions, ensurePrivateDir } from "../../src/config/file-permissions.js";

const dir = mkdtempSync(join(tmpdir(), "opsgram-perm-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, mode: number): string {
  const path = join(dir, name);
  writeFileSync(path, "secret\n");
  chmodSync(path, mode);
  return path;
}

describe("checkFilePermissions", () => {
  it("refuses a file group or others can access, naming it and the chmod that fixes it", () => {
    const key = file("id_ed25519", 0o644);
    expect(checkFilePermissions([key])).toEqual([`${key} is accessible by group or others (mode 0644): run chmod 600 ${key}`]);
    expect(checkFilePermissions([file("group-writable.yml", 0o620)])).toHaveLength(1);
    expect(checkFilePermissions([file("world.env", 0o604)])).toHaveLength(1);
  });

  it("accepts 0600 and 0400, and skips missing files", () => {
    expect(checkFilePermissions([file("ok", 0o600), file("ro", 0o400), join(dir, "missing")])).toEqual([]);
  });

  it("quotes a path with spaces so the chmod can be pasted", () => {
    const odd = file("my key", 0o640);
    expect(checkFilePermissions([odd])[0]).toMatch(/run chmod 600 '.*\/my key'$/);
  });
});

describe("ensurePrivateDir", () => {
  it("creates the data directory 0700, and tightens an existing looser one", () => {
    const fresh = join(dir, "data", "nested");
    ensurePrivateDir(fresh);
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
    const loose = join(dir, "loose");
    mkdirSync(loose, { mode: 0o755 });
    chmodSync(loose, 0o755);
    ensurePrivateDir(loose);
    expect(statSync(loose).mode & 0o777).toBe(0o700);
  });
});
