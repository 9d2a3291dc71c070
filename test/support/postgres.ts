import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDebianPackages } from "./packages.js";
import { freePort } from "./ports.js";

const PG_BIN = "/usr/lib/postgresql/15/bin";

export interface TestPostgres {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): string;
  stop(): void;
}

function asPostgres(cmd: string, args: string[]): string {
  return execFileSync("runuser", ["-u", "postgres", "--", cmd, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * A throwaway Postgres 15 cluster in a temp dir on a free loopback port, trust auth.
 * Installs postgresql from Debian when missing. When TEST_DATABASE_URL is set, uses that server instead.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    return {
      url: external,
      port: Number(new URL(external).port || 5432),
      createDatabase(name) {
        spawnSync("psql", [external, "-qc", `DROP DATABASE IF EXISTS "${name}"`]);
        execFileSync("psql", [external, "-qc", `CREATE DATABASE "${name}"`]);
        const u = new URL(external);
        u.pathname = `/${name}`;
        return u.toString();
      },
      stop() {},
    };
  }
  ensureDebianPackages({ postgresql: `${PG_BIN}/initdb` });
  const dir = mkdtempSync(join(tmpdir(), "opsgram-pg-"));
  chownSync(dir, uidOf("postgres"), gidOf("postgres"));
  const data = join(dir, "data");
  asPostgres(`${PG_BIN}/initdb`, ["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "-D", data]);
  const port = await freePort();
  asPostgres(`${PG_BIN}/pg_ctl`, [
    "-D", data, "-l", join(dir, "server.log"), "-w", "-t", "60",
    "-o", `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`,
    "start",
  ]);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    createDatabase(name) {
      execFileSync("psql", [url, "-qc", `CREATE DATABASE "${name}"`]);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop() {
      spawnSync("runuser", ["-u", "postgres", "--", `${PG_BIN}/pg_ctl`, "-D", data, "-m", "immediate", "-w", "stop"], { stdio: "ignore" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function uidOf(user: string): number {
  return Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
}
function gidOf(user: string): number {
  return Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
}
