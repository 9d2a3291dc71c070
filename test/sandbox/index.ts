import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDebianPackages } from "../support/packages.js";
import { freePort } from "../support/ports.js";
import { createAppRepository, startApp, stopApp, type AppVersions } from "./app.js";
import { createAppDatabase, PG_BIN_DIR, type AppDatabase } from "./database.js";
import { importBaseImage, mountsUnder, startEngine, stopEngine, unmountUnder, type SandboxEngine } from "./docker.js";
import { hasExited } from "./processes.js";
import { startRedis, stopRedis, type SandboxRedis } from "./redis.js";
import { startSshd, stopSshd, verifySsh, type SandboxSsh, type SandboxSshd } from "./sshd.js";

export { BASE_IMAGE } from "./docker.js";
export { pinnedSshArgs } from "./sshd.js";
export type { AppVersions } from "./app.js";
export type { SandboxSsh } from "./sshd.js";

/**
 * A real "VPS" on loopback for integration tests and benchmarks: its own dockerd running a compose
 * app from a git checkout, an sshd with a pinned host key whose sessions reach that dockerd, the
 * app's Postgres database and a Redis. Everything lives in `dir` and on free 127.0.0.1 ports; no
 * global state, so one sandbox can be shared (globalSetup) or several run side by side.
 */
export interface Sandbox {
  /** The run's temp dir; removed by stop(). */
  dir: string;
  /** Unix socket of the sandbox dockerd. */
  dockerSocket: string;
  /** `unix://<dockerSocket>`. */
  dockerHost: string;
  /** Debian ships compose v1 only. */
  composeCommand: "docker-compose";
  ssh: SandboxSsh;
  /** Git checkout of the app (remote `origin` = originDir), running under compose. */
  appDir: string;
  /** Unique per run; also in appDir/.env, so compose finds it without -p. */
  composeProject: string;
  /** Bare repo: branches main (= v1), release/v2, broken; tags v1.0.0, v2.0.0. */
  originDir: string;
  versions: AppVersions;
  /** web serves http://127.0.0.1:<webPort>/health ("ok") and /version ("v1" | "v2" | "broken"). */
  webPort: number;
  /** The app's database (a `payouts` table with 1000 rows), for pg_dump backups. */
  appPostgresUrl: string;
  pgBinDir: string;
  redis: { port: number; cliArgs: string[] };
  /** An empty dir for backups. */
  backupDir: string;
  /** Makes local docker / docker-compose CLIs reach the sandbox engine (for `host: local` targets). */
  env: Record<string, string>;
  /** Stops and removes everything; idempotent. Throws SandboxStopError if something was left behind. */
  stop(): Promise<void>;
}

/** The plain-data part of a Sandbox: JSON-safe, so a globalSetup can `provide` it to test files. */
export type SandboxInfo = Omit<Sandbox, "stop">;

/** Everything but stop(), e.g. `project.provide("sandbox", sandboxInfo(sandbox))` in a globalSetup. */
export function sandboxInfo(sandbox: Sandbox): SandboxInfo {
  const { stop: _stop, ...info } = sandbox;
  return structuredClone(info);
}

export interface SandboxOptions {
  /** A cluster to create the app database in; without it the sandbox starts its own cluster. */
  postgresUrl?: string;
}

/** startSandbox failed; whatever it had started is already stopped (see cleanupProblems). */
export class SandboxStartError extends Error {
  override name = "SandboxStartError";
  constructor(
    /** The run dir it used (removed unless cleanupProblems says otherwise). */
    readonly dir: string,
    readonly failures: unknown[],
    readonly cleanupProblems: string[],
  ) {
    super(
      `sandbox in ${dir} failed to start: ${failures.map((f) => (f instanceof Error ? f.message : String(f))).join("\n---\n")}` +
        (cleanupProblems.length > 0 ? `\ncleanup problems: ${cleanupProblems.join("; ")}` : ""),
      { cause: failures[0] },
    );
  }
}

/** stop() finished every step but something could not be removed; `problems` says what. */
export class SandboxStopError extends Error {
  override name = "SandboxStopError";
  constructor(
    readonly dir: string,
    readonly problems: string[],
  ) {
    super(`sandbox ${dir} was not fully cleaned up: ${problems.join("; ")}`);
  }
}

/** What is running so far; teardown copes with any subset (a start can fail at any step). */
interface Started {
  dir: string;
  engine?: SandboxEngine;
  appDir?: string;
  sshd?: SandboxSshd;
  redis?: SandboxRedis;
  database?: AppDatabase;
  env: NodeJS.ProcessEnv;
}

const PACKAGE_PROBES: Record<string, string> = {
  "docker.io": "/usr/sbin/dockerd",
  "docker-compose": "/usr/bin/docker-compose",
  "openssh-server": "/usr/sbin/sshd",
  "openssh-client": "/usr/bin/ssh-keygen",
  "redis-server": "/usr/bin/redis-server",
  "redis-tools": "/usr/bin/redis-cli",
  // The dynamic `busybox` package also ships /bin/busybox; only the static one runs in a scratch image.
  "busybox-static": "/var/lib/dpkg/info/busybox-static.list",
  postgresql: `${PG_BIN_DIR}/pg_dump`,
  git: "/usr/bin/git",
};

/**
 * Starts a sandbox and returns once the app is healthy, ssh reaches docker, Postgres has rows and
 * Redis answers. Installs missing Debian packages first. On failure it stops what it started and
 * throws SandboxStartError.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  ensureDebianPackages(PACKAGE_PROBES);
  const taken = new Set<number>();
  const webPort = await distinctFreePort(taken);
  const sshPort = await distinctFreePort(taken);
  const redisPort = await distinctFreePort(taken);

  const dir = mkdtempSync(join(shortTmpdir(), "opsgram-sbx-"));
  const id = randomBytes(4).toString("hex");
  const composeProject = `sbx${id}`;
  const appDir = join(dir, "app");
  const originDir = join(dir, "origin.git");
  const backupDir = join(dir, "backups");
  try {
    mkdirSync(join(dir, "logs"));
    mkdirSync(backupDir);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const dockerSocket = join(dir, "docker.sock");
  const dockerHost = `unix://${dockerSocket}`;
  const env: Record<string, string> = { DOCKER_HOST: dockerHost, COMPOSE_PROJECT_NAME: composeProject };
  const started: Started = { dir, env: { ...process.env, ...env } };
  const emergencyStop = () => emergencyKill(started);
  process.once("exit", emergencyStop);

  // Independent pieces start side by side; the app needs engine + repo, ssh verification needs the engine.
  const engineReady = (async () => {
    started.engine = await startEngine(dir, id);
    await importBaseImage(started.engine, dir);
  })();
  const repositoryReady = createAppRepository({ dir, originDir, appDir, composeProject, webPort });
  const appReady = (async () => {
    const versions = await repositoryReady;
    await engineReady;
    started.appDir = appDir;
    await startApp(appDir, started.env, webPort);
    return versions;
  })();
  const sshReady = (async () => {
    started.sshd = await startSshd({ dir, port: sshPort, dockerHost });
    await engineReady;
    await verifySsh(started.sshd);
    return started.sshd.ssh;
  })();
  const redisReady = (async () => (started.redis = await startRedis({ dir, port: redisPort })))();
  const databaseReady = (async () => (started.database = await createAppDatabase(options.postgresUrl)))();

  // Wait for every branch, failed or not, so teardown never races a step still writing into dir.
  const results = await Promise.allSettled([appReady, sshReady, redisReady, databaseReady, engineReady, repositoryReady]);
  const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
  if (failures.length > 0 || !started.redis || !started.database) {
    const problems = await teardown(started);
    process.removeListener("exit", emergencyStop);
    throw new SandboxStartError(dir, failedOnce(failures), problems);
  }
  const [versions, ssh] = [await appReady, await sshReady];
  const redis = started.redis;
  const database = started.database;

  let stopping: Promise<void> | undefined;
  return {
    dir,
    dockerSocket,
    dockerHost,
    composeCommand: "docker-compose",
    ssh,
    appDir,
    composeProject,
    originDir,
    versions,
    webPort,
    appPostgresUrl: database.url,
    pgBinDir: PG_BIN_DIR,
    redis: { port: redis.port, cliArgs: redis.cliArgs },
    backupDir,
    env,
    stop() {
      stopping ??= (async () => {
        const problems = await teardown(started);
        process.removeListener("exit", emergencyStop);
        if (problems.length > 0) throw new SandboxStopError(dir, problems);
      })();
      return stopping;
    },
  };
}

/** A failed engine (or repository) fails the steps that wait for it too; report each error once. */
function failedOnce(failures: unknown[]): unknown[] {
  return [...new Set(failures)];
}

/**
 * Unix socket paths max out at 107 bytes and dockerd's containerd socket sits four levels below the
 * run dir; a long TMPDIR would make the engine fail to start, so fall back to /tmp then.
 */
function shortTmpdir(): string {
  const base = tmpdir();
  return base.length <= 40 ? base : "/tmp";
}

/** freePort() can hand out the same port twice in a row; the sandbox needs distinct ones. */
async function distinctFreePort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
}

/**
 * Stops in dependency order: the compose app (needs the engine), sshd with its sessions, Redis,
 * the engine with everything it left, the database; then removes the dir unless a mount is left
 * (never rm -rf across a mount point). Never throws; returns what could not be cleaned up.
 */
async function teardown(started: Started): Promise<string[]> {
  const problems: string[] = [];
  const step = async (what: string, action: () => Promise<string[]>) => {
    try {
      problems.push(...(await action()));
    } catch (error) {
      problems.push(`${what}: ${(error as Error).message}`);
    }
  };
  if (started.engine && started.appDir && !hasExited(started.engine.child)) {
    const { appDir } = started;
    await step("compose down", () => stopApp(appDir, started.env));
  }
  await Promise.all([
    started.sshd ? step("sshd", () => stopSshd(started.sshd!)) : undefined,
    started.redis ? step("redis", () => stopRedis(started.redis!)) : undefined,
    started.database ? step("database", () => started.database!.drop()) : undefined,
  ]);
  if (started.engine) await step("dockerd", () => stopEngine(started.engine!, started.dir));
  await step("mounts", async () => unmountUnder(started.dir));
  if (mountsUnder(started.dir).length === 0) {
    await step("remove dir", async () => {
      rmSync(started.dir, { recursive: true, force: true, maxRetries: 3 });
      return existsSync(started.dir) ? [`${started.dir} still exists`] : [];
    });
  }
  return problems;
}

/** Last resort when Node exits without stop(): daemons must not outlive the run. */
function emergencyKill(started: Started): void {
  for (const child of [started.sshd?.child, started.redis?.child, started.engine?.child]) {
    if (child && !hasExited(child)) child.kill("SIGTERM");
  }
}
