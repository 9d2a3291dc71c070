import { spawn } from "node:child_process";
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { EmbeddedDatabaseLockedError } from "../../src/infra/db/embedded-postgres.js";
import { lockHolder, isAlive } from "../../src/infra/db/embedded-setup.js";
import { migrate } from "../../src/infra/db/migrate.js";

/**
 * The embedded default: a real Postgres server the bot starts under DATA_DIR. What matters beyond
 * "it opens": one owner per data directory, no server left behind by a killed bot, data kept
 * across restarts, and none of the bot's secrets in the server's environment.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const TSX = join(ROOT, "node_modules/tsx/dist/esm/index.mjs");
const dirs: string[] = [];
const handles: DatabaseHandle[] = [];

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "opsgram-embedded-"));
  dirs.push(dir);
  return dir;
}

async function open(dir: string): Promise<DatabaseHandle> {
  const handle = await openDatabase({ dataDir: dir });
  handles.push(handle);
  return handle;
}

afterAll(async () => {
  await Promise.allSettled(handles.map((h) => h.close()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("embedded Postgres", () => {
  it("keeps its data across a stop and a start, and stops its server on close", async () => {
    const dir = dataDir();
    const first = await open(dir);
    await migrate(first);
    await first.db.execute(sql`insert into processed_updates (update_id) values (4242)`);
    const pid = lockHolder(join(dir, "postgres"))!;
    await first.close();
    expect(isAlive(pid)).toBe(false);

    const second = await open(dir);
    const rows = (await second.db.execute(sql`select update_id from processed_updates`)) as unknown as { update_id: string }[];
    expect(rows.map((r) => Number(r.update_id))).toEqual([4242]);
    await second.close();
  });

  it("refuses a second opener of the same data directory with a clear error", async () => {
    const dir = dataDir();
    const owner = await open(dir);
    const err = await openDatabase({ dataDir: dir }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EmbeddedDatabaseLockedError);
    expect((err as Error).message).toMatch(/in use by another process .*another opsgram running with this DATA_DIR/);
    // The owner is unharmed.
    await owner.db.execute(sql`select 1`);
    await owner.close();
  });

  it.runIf(process.getuid?.() === 0)("as root under a folder the server user cannot enter: data goes to /var/lib/opsgram, linked from DATA_DIR", async () => {
    const parent = dataDir(); // mkdtemp: mode 0700, like /root
    const dir = join(parent, "data");
    mkdirSync(dir);
    const handle = await open(dir);
    const link = join(dir, "postgres");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    const real = realpathSync(link);
    dirs.push(real);
    expect(real).toMatch(/^\/var\/lib\/opsgram\/postgres-[0-9a-f]{12}$/);
    expect(statSync(parent).mode & 0o777).toBe(0o700); // folders above DATA_DIR are left alone
    await handle.db.execute(sql`select 1`);
    await handle.close();
    const again = await open(dir); // found again through the link
    expect(lockHolder(real)).toBeDefined();
    await again.close();
  });

  it("a bot killed with SIGKILL leaves no server behind: the next start opens the same data", async () => {
    const dir = dataDir();
    const script = join(dir, "holder.mts");
    writeFileSync(
      script,
      `import { openDatabase } from ${JSON.stringify(join(ROOT, "src/infra/db/client.ts"))};
       process.env.TELEGRAM_BOT_TOKEN = "123:secret-token-that-must-not-leak";
       const h = await openDatabase({ dataDir: ${JSON.stringify(dir)} });
       await h.db.execute("select 1");
       process.stdout.write("open\\n");
       setInterval(() => {}, 1000);`,
    );
    const child = spawn(process.execPath, ["--import", TSX, script], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { PATH: process.env.PATH, TELEGRAM_BOT_TOKEN: "123:secret-token-that-must-not-leak" },
    });
    await new Promise<void>((r, reject) => {
      child.stdout!.on("data", (c: Buffer) => c.toString().includes("open") && r());
      child.once("exit", (code) => reject(new Error(`holder exited early (${code})`)));
    });
    const serverPid = lockHolder(join(dir, "postgres"))!;
    // The server sees none of the bot's environment.
    const environ = readFileSync(`/proc/${serverPid}/environ`, "utf8");
    expect(environ).not.toContain("secret-token");
    expect(environ.split("\0").filter(Boolean).map((kv) => kv.split("=")[0]).sort()).toEqual(["LC_ALL", "PATH", "TZ"]);

    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    const next = await open(dir); // waits for the orphan to finish its shutdown, if it has not yet
    await next.db.execute(sql`select 1`);
    expect(isAlive(serverPid)).toBe(false);
    await next.close();
  });
});
