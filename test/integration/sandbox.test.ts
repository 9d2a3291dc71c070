import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "ssh2";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { pinnedSshArgs, SandboxStartError, startSandbox, type Sandbox } from "../sandbox/index.js";
import { isAlive, processesMentioning } from "../sandbox/processes.js";

const run = promisify(execFile);

/** Runs a command and returns exit code and output instead of throwing. */
async function attempt(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  try {
    const { stdout, stderr } = await run(cmd, args, { env: options.env ?? process.env, cwd: options.cwd, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .filter((line) => (line.split(" ")[1] ?? "").startsWith(dir));
}

describe("sandbox VPS", () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ postgresUrl: inject("postgresUrl") });
  });

  afterAll(async () => {
    await sandbox?.stop();
  });

  it("serves the v1 app on loopback, healthy", async () => {
    const version = await fetch(`http://127.0.0.1:${sandbox.webPort}/version`);
    expect(version.status).toBe(200);
    expect(await version.text()).toBe("v1");
    const health = await fetch(`http://127.0.0.1:${sandbox.webPort}/health`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("ok");
  });

  it("runs the app under compose in its own project, reachable with sandbox.env (host: local)", async () => {
    const env = { ...process.env, ...sandbox.env };
    const ps = await attempt("docker-compose", ["ps"], { env, cwd: sandbox.appDir });
    expect(ps.code, ps.stderr).toBe(0);
    expect(ps.stdout).toMatch(new RegExp(`${sandbox.composeProject}_web_1 .*Up \\(healthy\\)`));
    expect(ps.stdout).toContain(`${sandbox.composeProject}_worker_1`);
    // compose v1 + host networking: one-off jobs go through the `tools` service (see test/sandbox/app.ts).
    const job = await attempt("docker-compose", ["run", "--rm", "tools", "echo", "one-off ran"], { env, cwd: sandbox.appDir });
    expect(job.code, job.stderr).toBe(0);
    expect(job.stdout).toContain("one-off ran");
    // Our own engine, with its data inside the run dir, not some machine-wide one.
    const info = await attempt("docker", ["-H", sandbox.dockerHost, "info", "--format", "{{.DockerRootDir}}"]);
    expect(info.stdout.trim()).toBe(join(sandbox.dir, "docker-data"));
  });

  it("lets ssh with the pinned host key reach the sandbox engine", async () => {
    const result = await attempt("ssh", [...pinnedSshArgs(sandbox.ssh), "docker", "ps", "--format", "{{.Names}}"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split("\n")).toContain(`${sandbox.composeProject}_web_1`);
    expect(readFileSync(sandbox.ssh.knownHostsPath, "utf8")).toBe(`[127.0.0.1]:${sandbox.ssh.port} ${sandbox.ssh.hostKeyPublic}\n`);
  });

  it("lets ssh2 (what opsgram uses) verify the pinned key and forward the docker socket", async () => {
    const pinned = Buffer.from(sandbox.ssh.hostKeyPublic.split(" ")[1] ?? "", "base64");
    const client = new Client();
    let presented: Buffer | undefined;
    await new Promise<void>((resolve, reject) => {
      client.once("ready", () => resolve()).once("error", reject);
      client.connect({
        host: sandbox.ssh.host,
        port: sandbox.ssh.port,
        username: sandbox.ssh.username,
        privateKey: readFileSync(sandbox.ssh.privateKeyPath),
        hostVerifier: (key: Buffer) => {
          presented = key;
          return key.equals(pinned);
        },
      });
    });
    try {
      expect(presented?.equals(pinned)).toBe(true);
      const reply = await new Promise<string>((resolve, reject) => {
        client.openssh_forwardOutStreamLocal(sandbox.dockerSocket, (error, stream) => {
          if (error) return reject(error);
          let data = "";
          stream.on("data", (chunk: Buffer) => (data += chunk.toString()));
          stream.on("close", () => resolve(data));
          stream.end("GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
        });
      });
      expect(reply).toMatch(/^HTTP\/1\.1 200 OK/);
      expect(reply.endsWith("OK")).toBe(true);
    } finally {
      client.end();
    }
  });

  it("is refused by the OpenSSH client when known_hosts holds another key (the key really is pinned)", async () => {
    const otherKey = join(sandbox.dir, "other_host_key");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey]);
    const otherPublic = readFileSync(`${otherKey}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
    expect(otherPublic).not.toBe(sandbox.ssh.hostKeyPublic);
    const wrongKnownHosts = join(sandbox.dir, "wrong_known_hosts");
    writeFileSync(wrongKnownHosts, `[127.0.0.1]:${sandbox.ssh.port} ${otherPublic}\n`);

    const result = await attempt("ssh", [...pinnedSshArgs(sandbox.ssh, wrongKnownHosts), "touch", join(sandbox.dir, "ran")]);
    expect(result.code).toBe(255);
    expect(result.stderr).toContain("REMOTE HOST IDENTIFICATION HAS CHANGED");
    expect(result.stderr).toContain("Host key verification failed");
    expect(existsSync(join(sandbox.dir, "ran"))).toBe(false);
  });

  it("checks out v1 from a bare origin that holds v1, v2 and broken", async () => {
    const head = await run("git", ["-C", sandbox.appDir, "rev-parse", "HEAD"]);
    expect(head.stdout.trim()).toBe(sandbox.versions.v1);
    const remote = await run("git", ["-C", sandbox.appDir, "remote", "get-url", "origin"]);
    expect(remote.stdout.trim()).toBe(sandbox.originDir);

    const refs = await run("git", ["-C", sandbox.originDir, "rev-parse", "main", "v1.0.0^{commit}", "release/v2", "v2.0.0^{commit}", "broken"]);
    const { v1, v2, broken } = sandbox.versions;
    expect(refs.stdout.trim().split("\n")).toEqual([v1, v1, v2, v2, broken]);
    expect(new Set([v1, v2, broken]).size).toBe(3);

    const show = (rev: string, path: string) => attempt("git", ["-C", sandbox.originDir, "show", `${rev}:${path}`]);
    expect((await show(v2, "www/version")).stdout).toBe("v2");
    expect((await show(broken, "www/version")).stdout).toBe("broken");
    expect((await show(broken, "www/health")).code).not.toBe(0);
    // Per-run settings stay out of git, so checkouts never touch them.
    const status = await run("git", ["-C", sandbox.appDir, "status", "--porcelain", "--ignored"]);
    expect(status.stdout.trim()).toBe("!! .env");
  });

  it("has an app database that pg_dump -Fc backs up and pg_restore lists", async () => {
    const count = await run("psql", [sandbox.appPostgresUrl, "-XAtc", "SELECT count(*) FROM payouts"]);
    expect(count.stdout.trim()).toBe("1000");

    // Not backupDir: a shared sandbox hands that to the backup tests empty.
    const dumpFile = join(sandbox.dir, "sandbox-test.dump");
    await run(join(sandbox.pgBinDir, "pg_dump"), ["-Fc", "-f", dumpFile, sandbox.appPostgresUrl]);
    const listing = (await run(join(sandbox.pgBinDir, "pg_restore"), ["--list", dumpFile])).stdout;
    expect(listing).toMatch(/TABLE public payouts/);
    expect(listing).toMatch(/TABLE DATA public payouts/);
  });

  it("answers redis-cli PING", async () => {
    const result = await run("redis-cli", [...sandbox.redis.cliArgs, "PING"]);
    expect(result.stdout.trim()).toBe("PONG");
  });

  it("stop() leaves no process, mount, cgroup, port or dir behind", async () => {
    const { dir } = sandbox;
    const env = { ...process.env, ...sandbox.env };
    const containerIds = (await run("docker", ["ps", "-q"], { env })).stdout.trim().split("\n").filter(Boolean);
    expect(containerIds.length).toBeGreaterThanOrEqual(2);
    const inspected = await run("docker", ["inspect", "-f", "{{.State.Pid}}", ...containerIds], { env });
    const containerPid = inspected.stdout.trim().split("\n")[0]!;
    // e.g. "9:pids:/opsgram-1a2b3c4d/<container id>": the engine's own cgroup parent.
    const cgroupParent = `/${readFileSync(`/proc/${containerPid}/cgroup`, "utf8").split("\n")[0]!.split(":")[2]!.split("/")[1]}`;
    const cgroupDirs = () => readdirSync("/sys/fs/cgroup").map((h) => join("/sys/fs/cgroup", h, cgroupParent)).filter((d) => existsSync(d));
    expect(cgroupParent).toMatch(/^\/opsgram-/);
    expect(cgroupDirs().length).toBeGreaterThan(0);
    const redisInfo = await run("redis-cli", [...sandbox.redis.cliArgs, "INFO", "server"]);
    const pids = [
      Number(readFileSync(join(dir, "dockerd.pid"), "utf8")),
      Number(readFileSync(join(dir, "ssh", "sshd.pid"), "utf8")),
      Number(/process_id:(\d+)/.exec(redisInfo.stdout)?.[1]),
      ...inspected.stdout.trim().split("\n").map(Number),
      ...processesMentioning(`${dir}/`),
    ];
    expect(pids.every((pid) => Number.isInteger(pid) && pid > 0)).toBe(true);
    expect(pids.every(isAlive)).toBe(true);
    expect(mountsUnder(dir).length).toBeGreaterThan(0);

    await sandbox.stop();

    expect(pids.filter(isAlive)).toEqual([]);
    expect(processesMentioning(`${dir}/`)).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect(cgroupDirs()).toEqual([]);
    for (const port of [sandbox.webPort, sandbox.ssh.port, sandbox.redis.port]) {
      expect(await listening(port)).toBe(false);
    }
    const databases = await run("psql", [inject("postgresUrl"), "-XAtc", "SELECT datname FROM pg_database"]);
    expect(databases.stdout.split("\n")).not.toContain(new URL(sandbox.appPostgresUrl).pathname.slice(1));
    await sandbox.stop(); // idempotent
  });
});

describe("sandbox start failure", () => {
  it("stops everything it had started and removes its dir", async () => {
    // Nothing listens on port 1: the database step fails while dockerd, sshd and redis come up.
    const error = await startSandbox({ postgresUrl: "postgres://postgres@127.0.0.1:1/postgres" }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(SandboxStartError);
    const failure = error as SandboxStartError;
    expect(failure.message).toContain("psql");
    expect(failure.cleanupProblems).toEqual([]);
    expect(existsSync(failure.dir)).toBe(false);
    expect(processesMentioning(`${failure.dir}/`)).toEqual([]);
    expect(mountsUnder(failure.dir)).toEqual([]);
  });
});
