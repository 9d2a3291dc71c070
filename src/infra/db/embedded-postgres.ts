import { spawn, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Logger } from "../logger.js";
import {
  clusterFolder,
  EMBEDDED_OS_USER,
  EMBEDDED_ROLE,
  findBinaries,
  initCluster,
  isAlive,
  isOrphan,
  letServerThrough,
  lockHolder,
  messageOf,
  serverUser,
  type RunAs,
} from "./embedded-setup.js";

/**
 * The embedded default database: a real Postgres server (binaries from the npm platform package)
 * that the bot starts as its child on a Unix socket under DATA_DIR, and stops with itself. Same
 * engine and driver (postgres.js) as production; chosen over PGlite by measurement, see
 * docs/BENCHMARKS.md.
 */
export interface EmbeddedServer {
  /** Folder holding the server's Unix socket (postgres.js `host`). */
  socketDir: string;
  port: number;
  user: string;
  database: string;
  /** Fast shutdown (SIGINT), then waits for the server to exit. */
  stop(): Promise<void>;
}

/** Another live process (a second opsgram, usually) runs the server of this data directory. */
export class EmbeddedDatabaseLockedError extends Error {
  override readonly name = "EmbeddedDatabaseLockedError";
  constructor(
    readonly pgdata: string,
    readonly pid: number,
  ) {
    super(
      `the embedded database in ${pgdata} is in use by another process (Postgres pid ${pid}): is another opsgram running with this DATA_DIR? Stop it, or give each bot its own DATA_DIR`,
    );
  }
}

/** Only the socket name uses the port: the server listens on no TCP address. */
const PORT = 5432;
/** Unix socket paths are limited to ~107 bytes; a deeper DATA_DIR puts the socket under /tmp. */
const MAX_SOCKET_PATH = 100;
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
/** How long an orphaned server from a killed bot may take to shut itself down before we give up. */
const ORPHAN_WAIT_MS = 15_000;

/**
 * Settings for a bot-sized server on a small VPS (defaults are sized for a database host): small
 * shared buffers, no parallel or replication workers, PG18's synchronous I/O instead of its three
 * I/O worker processes, no JIT. Durability settings (fsync, synchronous_commit) stay at their safe
 * defaults: the audit log relies on them.
 */
const SERVER_SETTINGS: Record<string, string> = {
  listen_addresses: "",
  unix_socket_permissions: "0700",
  shared_buffers: "16MB",
  max_connections: "20",
  io_method: "sync",
  max_worker_processes: "2",
  max_parallel_workers: "0",
  max_parallel_workers_per_gather: "0",
  max_logical_replication_workers: "0",
  autovacuum_worker_slots: "1",
  autovacuum_max_workers: "1",
  wal_level: "minimal",
  max_wal_senders: "0",
  wal_buffers: "512kB",
  jit: "off",
  huge_pages: "off",
  lc_messages: "C",
  // Statements can carry audit details: keep them out of the server's log lines.
  log_min_error_statement: "panic",
  log_checkpoints: "off",
};

export interface StartEmbeddedOptions {
  dataDir: string;
  log?: Logger;
}

/** Starts (and on the first start creates) the embedded server of `dataDir`. */
export async function startEmbeddedPostgres(options: StartEmbeddedOptions): Promise<EmbeddedServer> {
  const log = options.log?.child({ module: "embedded-postgres" });
  const dataDir = resolve(options.dataDir);
  const binaries = await findBinaries();
  const runAs = await serverUser();
  if (runAs?.created) log?.info({ user: EMBEDDED_OS_USER }, `running as root: created the system user ${EMBEDDED_OS_USER} for the embedded Postgres (it refuses to run as root)`);
  mkdirSync(dataDir, { recursive: true });
  if (letServerThrough(dataDir, runAs)) log?.info({ dataDir, user: EMBEDDED_OS_USER }, "DATA_DIR made passable (o+x) for the embedded Postgres user");
  const { pgdata, moved } = clusterFolder(dataDir, runAs);
  if (moved) log?.info({ pgdata, link: join(dataDir, "postgres") }, `the embedded Postgres user ${EMBEDDED_OS_USER} cannot enter the folders above DATA_DIR: its data lives in ${pgdata} (linked from DATA_DIR/postgres)`);
  // The server sees none of the bot's environment (token, DATABASE_URL…), only what it needs.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", TZ: "UTC" };
  if (!existsSync(join(pgdata, "PG_VERSION"))) {
    log?.info({ pgdata }, "first start: creating the embedded Postgres database (initdb, a few seconds)");
    const started = performance.now();
    await initCluster(binaries, pgdata, runAs, env);
    log?.info({ pgdata, ms: Math.round(performance.now() - started) }, "embedded Postgres database created");
  }
  const socketDir = socketFolder(pgdata, runAs);
  const started = performance.now();
  const child = await startServer(binaries.postgres, pgdata, socketDir, runAs, env, log);
  log?.info({ pgdata, pid: child.pid, ms: Math.round(performance.now() - started) }, "embedded Postgres started");
  return {
    socketDir,
    port: PORT,
    user: EMBEDDED_ROLE,
    database: "postgres",
    stop: () => stopServer(child),
  };
}

/** The socket goes next to the data (0700, the server's own folder) unless the path is too long. */
function socketFolder(pgdata: string, runAs: RunAs | undefined): string {
  if (join(pgdata, `.s.PGSQL.${PORT}`).length <= MAX_SOCKET_PATH) return pgdata;
  const dir = mkdtempSync(join(tmpdir(), "opsgram-pg-"));
  if (runAs) chownSync(dir, runAs.uid, runAs.gid);
  return dir;
}

async function startServer(
  postgresBin: string,
  pgdata: string,
  socketDir: string,
  runAs: RunAs | undefined,
  env: NodeJS.ProcessEnv,
  log: Logger | undefined,
): Promise<ChildProcess> {
  const deadline = Date.now() + ORPHAN_WAIT_MS;
  for (;;) {
    const holder = lockHolder(pgdata);
    if (holder !== undefined && isAlive(holder)) {
      // A server left running by a bot that was killed stops itself (parent-death signal, or
      // our SIGINT below); wait for it. A server another live bot owns is a hard error.
      if (!isOrphan(holder)) throw new EmbeddedDatabaseLockedError(pgdata, holder);
      if (Date.now() > deadline) throw new EmbeddedDatabaseLockedError(pgdata, holder);
      log?.warn({ pid: holder }, "an embedded Postgres left by a previous run is still stopping; waiting for it");
      process.kill(holder, "SIGINT");
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    return spawnServer(postgresBin, pgdata, socketDir, runAs, env, log);
  }
}

/** setpriv (util-linux) makes the kernel stop the server if the bot dies without stopping it. */
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));

function spawnServer(
  postgresBin: string,
  pgdata: string,
  socketDir: string,
  runAs: RunAs | undefined,
  env: NodeJS.ProcessEnv,
  log: Logger | undefined,
): Promise<ChildProcess> {
  const args = ["-D", pgdata, "-k", socketDir, "-p", String(PORT)];
  for (const [key, value] of Object.entries(SERVER_SETTINGS)) args.push("-c", `${key}=${value}`);
  const [command, argv] = SETPRIV ? [SETPRIV, ["--pdeathsig", "INT", "--", postgresBin, ...args]] : [postgresBin, args];
  const child = spawn(command, argv, {
    env,
    stdio: ["ignore", "ignore", "pipe"],
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  // Belt and braces where there is no parent-death signal: a plain process.exit stops it too.
  const onExit = () => child.kill("SIGINT");
  process.once("exit", onExit);
  child.once("exit", () => process.off("exit", onExit));

  return new Promise((resolveReady, reject) => {
    const recent: string[] = [];
    let ready = false;
    let partial = "";
    const timer = setTimeout(() => {
      child.kill("SIGQUIT");
      reject(new Error(`the embedded Postgres did not become ready within ${READY_TIMEOUT_MS / 1000} s: ${recent.join(" | ")}`));
    }, READY_TIMEOUT_MS);
    // The server's log must be read, or a full pipe would block it; lines go to our log.
    child.stderr!.on("data", (chunk: Buffer) => {
      partial += chunk.toString("utf8");
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.trim()) continue;
        recent.push(line);
        if (recent.length > 8) recent.shift();
        const severe = /\b(WARNING|ERROR|FATAL|PANIC):/.test(line);
        if (severe) log?.warn({ postgres: line }, "embedded Postgres");
        else log?.debug({ postgres: line }, "embedded Postgres");
        if (!ready && line.includes("database system is ready to accept connections")) {
          ready = true;
          clearTimeout(timer);
          resolveReady(child);
        }
      }
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start the embedded Postgres: ${messageOf(err)}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (ready) {
        if (!stopping.has(child)) log?.error({ code, signal }, "the embedded Postgres exited unexpectedly");
        return;
      }
      const holder = lockHolder(pgdata);
      if (recent.some((l) => l.includes("postmaster.pid")) && holder !== undefined && isAlive(holder)) {
        reject(new EmbeddedDatabaseLockedError(pgdata, holder));
      } else {
        reject(new Error(`the embedded Postgres exited during start (${signal ?? `code ${code}`}): ${recent.join(" | ")}`));
      }
    });
  });
}

const stopping = new WeakSet<ChildProcess>();

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  stopping.add(child);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGINT"); // fast shutdown: roll back open transactions, checkpoint, exit
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

