import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { composeLogs, composeUp } from "../../src/commands/compose.js";
import { gitHead, gitRevParse, parseGitHead, refCandidates } from "../../src/commands/git.js";
import { toCommandLine } from "../../src/commands/quote.js";
import { fileSchema } from "../../src/config/file.js";
import { DockerodeApi } from "../../src/infra/docker/api.js";
import { LocalShell } from "../../src/infra/local/shell.js";
import { createLogger } from "../../src/infra/logger.js";
import { SshDisconnectedError, HostKeyMismatchError, HostKeyUnknownError, SshConnectError } from "../../src/infra/ssh/errors.js";
import { fingerprintSha256 } from "../../src/infra/ssh/known-hosts.js";
import { SshShell } from "../../src/infra/ssh/shell.js";
import { createTargetConnections } from "../../src/infra/targets.js";
import type { DockerEvent, ExecOptions } from "../../src/shared/ports.js";
import { startSandbox, type Sandbox } from "../sandbox/index.js";
import { INJECTION_PAYLOADS, MARKER } from "../support/injection-corpus.js";
import { freePort } from "../support/ports.js";

let sandbox: Sandbox;
let scratch: string;
const shells: SshShell[] = [];
const log = createLogger({ level: "silent" });

/** A shell to the sandbox; options override (known_hosts, port …). */
function sshShell(overrides: Partial<ConstructorParameters<typeof SshShell>[0]> = {}): SshShell {
  const shell = new SshShell({
    host: sandbox.ssh.host,
    port: sandbox.ssh.port,
    username: sandbox.ssh.username,
    privateKeyPath: sandbox.ssh.privateKeyPath,
    knownHostsPath: sandbox.ssh.knownHostsPath,
    connectTimeoutMs: 5_000,
    keepaliveIntervalMs: 5_000,
    ...overrides,
  });
  shells.push(shell);
  return shell;
}

const T: ExecOptions = { timeoutMs: 20_000 };

/** Whether a process whose command line contains `pattern` exists (checked over a second exec). */
async function remoteProcessExists(shell: SshShell, pattern: string): Promise<boolean> {
  // `[s]leep` so the pattern does not match the checking shell's own command line.
  const bracketed = `[${pattern[0]}]${pattern.slice(1)}`;
  const r = await shell.exec(["pgrep", "-f", bracketed], T);
  return r.code === 0;
}

/**
 * A TCP relay in front of sshd, so a test can cut the network under a live connection the way a
 * flaky link would (the SSH client only sees its socket close).
 */
class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async start(targetPort: number): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(targetPort, "127.0.0.1");
      this.sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const address = this.server?.address();
    this.port = typeof address === "object" && address ? address.port : 0;
  }

  /** Cuts every connection through the relay. */
  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  get connections(): number {
    return this.sockets.size / 2;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function knownHostsFor(port: number, name = `kh-${port}`): string {
  const path = join(scratch, name);
  writeFileSync(path, `[127.0.0.1]:${port} ${sandbox.ssh.hostKeyPublic}\n`);
  return path;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  sandbox = await startSandbox({ postgresUrl: inject("postgresUrl") });
  scratch = mkdtempSync(join(tmpdir(), "opsgram-remote-"));
}, 180_000);

afterAll(async () => {
  await Promise.all(shells.map((s) => s.close()));
  rmSync(scratch, { recursive: true, force: true });
  await sandbox?.stop();
});

describe("SshShell over the pinned connection", () => {
  it("runs argv commands with exit code, stdout and stderr, env and cwd", async () => {
    const shell = sshShell();
    const r = await shell.exec(["sh", "-c", 'printf "%s|%s" "$1" "$GREETING"; printf oops >&2; exit 7', "sh", "a b'c"], {
      ...T,
      env: { GREETING: "hello there" },
    });
    expect(r).toMatchObject({ code: 7, stdout: "a b'c|hello there", stderr: "oops", timedOut: false, truncated: false });
    const pwd = await shell.exec(["pwd"], { ...T, cwd: sandbox.appDir });
    expect(pwd.stdout.trim()).toBe(sandbox.appDir);
    // Git builders run as they would in a deploy.
    const head = parseGitHead((await shell.exec(gitHead(), { ...T, cwd: sandbox.appDir })).stdout);
    expect(head?.sha).toBe(sandbox.versions.v1);
    expect(shell.connection.connectCount).toBe(1);
  });

  it("resolves a branch and a tag through the candidate refs", async () => {
    const shell = sshShell();
    const resolve = async (ref: string) => {
      for (const candidate of refCandidates("origin", ref)) {
        const r = await shell.exec(gitRevParse(candidate), { ...T, cwd: sandbox.appDir });
        if (r.code === 0) return r.stdout.trim();
      }
      return null;
    };
    expect(await resolve("release/v2")).toBe(sandbox.versions.v2);
    expect(await resolve("v2.0.0")).toBe(sandbox.versions.v2);
    expect(await resolve("does-not-exist")).toBeNull();
  });

  it("runs a trusted operator line as written", async () => {
    const r = await sshShell().execTrusted("echo $((6*7)) | tr 4 X; test -d /proc", T);
    expect(r).toMatchObject({ code: 0, stdout: "X2\n" });
  });

  it("does not run the command when cwd is missing", async () => {
    const marker = join(scratch, "cwd-marker");
    const r = await sshShell().execTrusted(`touch ${marker}; touch ${marker}`, { ...T, cwd: join(scratch, "nope") });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/can't cd|No such file/);
    expect(existsSync(marker)).toBe(false);
  });

  it("reuses one connection; a burst shares one connect and at most 8 channels", async () => {
    const shell = sshShell();
    let peak = 0;
    let queuedSeen = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, shell.connection.channelsInUse);
      queuedSeen = Math.max(queuedSeen, shell.connection.channelsQueued);
    }, 5);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => shell.exec(["sh", "-c", `sleep 0.3; echo ${i}`], T)),
    );
    clearInterval(sampler);
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(shell.connection.connectCount).toBe(1);
    expect(peak).toBe(8);
    expect(queuedSeen).toBeGreaterThan(0);
  });

  it("streams output and caps it to the tail", async () => {
    const seen: string[] = [];
    const r = await sshShell().exec(["seq", "1", "50000"], { ...T, maxOutputBytes: 12, onOutput: (c) => seen.push(c) });
    expect(r.truncated).toBe(true);
    expect(r.stdout).toBe("49999\n50000\n");
    expect(seen.join("").length).toBeGreaterThan(200_000);
  });

  it("kills a hanging command at its timeout, background children included", async () => {
    const shell = sshShell();
    const tag = `${process.pid}.${Date.now() % 100000}`;
    const started = Date.now();
    const r = await shell.execTrusted(`sleep 2000${tag} & sleep 1000${tag}`, { timeoutMs: 1000 });
    const elapsed = Date.now() - started;
    expect(r.timedOut).toBe(true);
    expect(r.code).toBeNull();
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    // Worst case by design: deadline + 1.5 s for the channel to close + 2 s for the close to confirm.
    expect(elapsed).toBeLessThan(5000);
    // Gone right away: the TERM went over the channel to `timeout`, which signalled the group.
    expect(await remoteProcessExists(shell, `sleep 1000${tag}`)).toBe(false);
    expect(await remoteProcessExists(shell, `sleep 2000${tag}`)).toBe(false);
  });

  it("reconnects transparently when the connection drops between two commands", async () => {
    const relay = new Relay();
    await relay.start(sandbox.ssh.port);
    try {
      const shell = sshShell({ port: relay.port, knownHostsPath: knownHostsFor(relay.port) });
      expect((await shell.exec(["echo", "one"], T)).stdout).toBe("one\n");
      relay.cut();
      // No pause: the next command may find the dead connection before or after its close event.
      expect((await shell.exec(["echo", "two"], T)).stdout).toBe("two\n");
      expect(shell.connection.connectCount).toBe(2);
      relay.cut();
      await new Promise((r) => setTimeout(r, 200));
      expect((await shell.exec(["echo", "three"], T)).stdout).toBe("three\n");
      expect(shell.connection.connectCount).toBe(3);
    } finally {
      await relay.stop();
    }
  });

  it("reconnects when the server kills the session", async () => {
    const shell = sshShell();
    // Walk up from the command to the per-connection sshd processes (they outlive the command).
    const ancestry = await shell.execTrusted(
      `pid=$$; while [ "$pid" -gt 1 ]; do printf '%s %s\\n' "$pid" "$(tr '\\0' ' ' < /proc/$pid/cmdline)"; pid=$(awk '/^PPid:/{print $2}' /proc/$pid/status); done`,
      T,
    );
    const chain = ancestry.stdout
      .split("\n")
      // The per-connection processes, not the listener (whose title also starts with "sshd: ").
      .map((line) => /^(\d+) sshd: (?!.*\[listener\])/.exec(line))
      .flatMap((m) => (m?.[1] ? [Number(m[1])] : []));
    expect(chain.length).toBeGreaterThan(0);
    for (const pid of chain) process.kill(pid, "SIGKILL");
    expect((await shell.exec(["echo", "back"], T)).stdout).toBe("back\n");
    expect(shell.connection.connectCount).toBe(2);
  });

  it("reports a connection lost during a command instead of retrying it", async () => {
    const relay = new Relay();
    await relay.start(sandbox.ssh.port);
    try {
      const shell = sshShell({ port: relay.port, knownHostsPath: knownHostsFor(relay.port) });
      const running = shell.exec(["sleep", "5"], T);
      await waitFor("the command to start", () => (shell.connection.channelsInUse === 1 && relay.connections === 1 ? true : undefined));
      await new Promise((r) => setTimeout(r, 300));
      relay.cut();
      await expect(running).rejects.toBeInstanceOf(SshDisconnectedError);
    } finally {
      await relay.stop();
    }
  });
});

describe("host key pinning and connect failures", () => {
  it("refuses a server whose key does not match, and runs nothing", async () => {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(scratch, "impostor")]);
    const impostor = readFileSync(join(scratch, "impostor.pub"), "utf8").split(" ").slice(0, 2).join(" ");
    const knownHostsPath = join(scratch, "kh-wrong");
    writeFileSync(knownHostsPath, `[127.0.0.1]:${sandbox.ssh.port} ${impostor}\n`);
    const marker = join(scratch, "mismatch-marker");
    const shell = sshShell({ knownHostsPath });
    const error = await shell.exec(["touch", marker], T).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostKeyMismatchError);
    const mismatch = error as HostKeyMismatchError;
    const serverKey = Buffer.from(sandbox.ssh.hostKeyPublic.split(" ")[1] ?? "", "base64");
    expect(mismatch.fingerprint).toBe(fingerprintSha256(serverKey));
    expect(mismatch.expected).toEqual([fingerprintSha256(Buffer.from(impostor.split(" ")[1] ?? "", "base64"))]);
    expect(mismatch.message).toContain(`127.0.0.1:${sandbox.ssh.port}`);
    expect(mismatch.message).toContain(mismatch.fingerprint);
    expect(existsSync(marker)).toBe(false);
  });

  it("refuses a host missing from known_hosts (no trust on first use)", async () => {
    const otherPort = join(scratch, "kh-other-port");
    writeFileSync(otherPort, `[127.0.0.1]:1 ${sandbox.ssh.hostKeyPublic}\n127.0.0.1 ${sandbox.ssh.hostKeyPublic}\n`);
    const marker = join(scratch, "unknown-marker");
    for (const knownHostsPath of [otherPort, join(scratch, "no-such-file")]) {
      const error = await sshShell({ knownHostsPath }).exec(["touch", marker], T).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HostKeyUnknownError);
      expect((error as HostKeyUnknownError).message).toMatch(/SHA256:[A-Za-z0-9+/]{43}/);
    }
    expect(existsSync(marker)).toBe(false);
  });

  it("fails fast with SshConnectError when nothing listens", async () => {
    const port = await freePort();
    const started = Date.now();
    const error = await sshShell({ port, connectTimeoutMs: 3_000 }).exec(["true"], T).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as SshConnectError).message).toContain(`127.0.0.1:${port}`);
    expect((error as SshConnectError).cause.message).toMatch(/ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("gives up at the connect timeout when the server never speaks", async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      const error = await sshShell({ port, connectTimeoutMs: 1_500 }).exec(["true"], T).catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(error).toBeInstanceOf(SshConnectError);
      expect(elapsed).toBeGreaterThanOrEqual(1_400);
      expect(elapsed).toBeLessThan(3_000);
    } finally {
      silent.close();
    }
  });
});

describe("injection over real SSH", () => {
  it("hands every payload to the remote program as one byte-identical argument and runs nothing", async () => {
    const shell = sshShell();
    const cwd = mkdtempSync(join(scratch, "inj-"));
    const payloads = INJECTION_PAYLOADS.filter((p) => !p.value.includes("\0"));
    // All payloads as arguments of one command (one exec keeps this fast): each must come back
    // whole, NUL-separated, after passing the quoting and the remote login shell.
    const echoed = await shell.exec(["sh", "-c", 'for a; do printf "%s\\0" "$a"; done', "sh", ...payloads.map((p) => p.value)], {
      ...T,
      cwd,
    });
    expect(echoed.code).toBe(0);
    const back = echoed.stdout.split("\0").slice(0, -1);
    payloads.forEach((p, i) => expect(back[i], p.name).toBe(p.value));

    // Through the git builder (as if validation had been bypassed): git says "no", nothing runs.
    const lines = payloads.flatMap((p) => {
      try {
        return [`${toCommandLine(gitRevParse(`refs/tags/${p.value}`))}; echo "rc=$?"`];
      } catch {
        return [];
      }
    });
    expect(lines.length).toBeGreaterThan(30);
    const git = await shell.execTrusted(lines.join("\n"), { ...T, cwd: sandbox.appDir });
    const codes = git.stdout.split("\n").filter((l) => l.startsWith("rc="));
    expect(codes).toHaveLength(lines.length);
    expect(codes.every((c) => c !== "rc=0")).toBe(true);
    for (const p of payloads) {
      expect(() => composeLogs({ command: "docker-compose", files: [] }, p.value, 10), p.name).toThrow(TypeError);
    }
    expect(readdirSync(cwd)).toEqual([]);
    expect(existsSync(join(sandbox.appDir, MARKER))).toBe(false);
  });
});

describe("DockerApi", () => {
  it("lists the project's containers with health over the forwarded socket, on the same connection", async () => {
    const shell = sshShell();
    const docker = new DockerodeApi({ socketPath: sandbox.dockerSocket, dial: () => shell.forwardUnixSocket(sandbox.dockerSocket) });
    try {
      const containers = await waitFor("web to be healthy", async () => {
        const list = await docker.listContainers(sandbox.composeProject);
        return list.find((c) => c.service === "web")?.health === "healthy" ? list : undefined;
      });
      expect(containers.map((c) => [c.service, c.number, c.state])).toEqual([
        ["web", 1, "running"],
        ["worker", 1, "running"],
      ]);
      const web = containers[0];
      expect(web?.health).toBe("healthy");
      expect(containers[1]?.health).toBe("none");
      expect(web?.startedAt).toBeInstanceOf(Date);
      expect(web?.exitCode).toBeNull();
      expect(web?.oomKilled).toBe(false);
      expect(web?.name).toContain(sandbox.composeProject);
      expect((await docker.inspect(web?.id ?? "")).id).toBe(web?.id);
      expect(await docker.listContainers("no-such-project")).toEqual([]);
      // Everything went over the one pinned connection.
      expect(shell.connection.connectCount).toBe(1);
    } finally {
      await docker.close();
    }
  });

  it("returns log lines (demultiplexed) for a container", async () => {
    const shell = sshShell();
    const docker = new DockerodeApi({ socketPath: sandbox.dockerSocket, dial: () => shell.forwardUnixSocket(sandbox.dockerSocket) });
    try {
      const [web] = await docker.listContainers(sandbox.composeProject);
      // busybox httpd logs nothing by default; write something the container itself prints.
      await shell.exec(["docker", "exec", web?.id ?? "", "sh", "-c", "echo hello-from-web > /proc/1/fd/1; echo to-stderr > /proc/1/fd/2"], T);
      const text = await waitFor("log lines", async () => {
        const logs = await docker.logs(web?.id ?? "", 10);
        return logs.includes("to-stderr") ? logs : undefined;
      });
      expect(text).toContain("hello-from-web\n");
      expect(text).not.toMatch(/[\u0000-\u0008]/);
    } finally {
      await docker.close();
    }
  });

  it("the same DockerApi and shell work for host: local", async () => {
    const target = fileSchema.parse({
      targets: {
        box: { host: "local", appDir: sandbox.appDir, dockerSocket: sandbox.dockerSocket, compose: { command: "docker-compose", project: sandbox.composeProject } },
      },
    }).targets.box;
    if (!target) throw new Error("no target");
    const conn = createTargetConnections("box", target, log);
    try {
      expect(conn.project).toBe(sandbox.composeProject);
      const list = await conn.docker.listContainers(conn.project);
      expect(list.map((c) => c.service)).toEqual(["web", "worker"]);
      // The shell's commands reach the same engine (DOCKER_HOST from dockerSocket).
      const ps = await conn.shell.exec(["docker", "ps", "-q", "--filter", `label=com.docker.compose.project=${conn.project}`], T);
      expect(ps.code).toBe(0);
      expect(ps.stdout.trim().split("\n").sort()).toEqual(list.map((c) => c.id.slice(0, 12)).sort());
    } finally {
      await conn.close();
    }
  });

  it("createTargetConnections over ssh: shell and docker share the pinned connection", async () => {
    const target = fileSchema.parse({
      targets: {
        vps: {
          host: `ssh://${sandbox.ssh.username}@127.0.0.1:${sandbox.ssh.port}`,
          ssh: { privateKeyPath: sandbox.ssh.privateKeyPath, knownHostsPath: sandbox.ssh.knownHostsPath },
          appDir: sandbox.appDir,
          dockerSocket: sandbox.dockerSocket,
          compose: { command: "docker-compose", project: sandbox.composeProject },
        },
      },
    }).targets.vps;
    if (!target) throw new Error("no target");
    const conn = createTargetConnections("vps", target, log);
    try {
      const [list, r] = await Promise.all([conn.docker.listContainers(conn.project), conn.shell.exec(["echo", "ok"], T)]);
      expect(list.map((c) => c.service)).toEqual(["web", "worker"]);
      expect(r.stdout).toBe("ok\n");
      expect((conn.shell as SshShell).connection.connectCount).toBe(1);
    } finally {
      await conn.close();
    }
  });

  it("follows events across a dropped connection, and sees a kill of web within 2 s (restarted after)", async () => {
    const relay = new Relay();
    await relay.start(sandbox.ssh.port);
    const shell = sshShell({ port: relay.port, knownHostsPath: knownHostsFor(relay.port, "kh-events") });
    const docker = new DockerodeApi({
      socketPath: sandbox.dockerSocket,
      dial: () => shell.forwardUnixSocket(sandbox.dockerSocket),
      reconnectMinMs: 100,
    });
    // The test pokes containers through the local socket: fast, so the 2 s budget measures the stream.
    const poke = new DockerodeApi({ socketPath: sandbox.dockerSocket }).docker;
    const events: DockerEvent[] = [];
    const errors: Error[] = [];
    const stream = docker.events(sandbox.composeProject, (e) => events.push(e), (e) => errors.push(e));
    try {
      const [web, worker] = await docker.listContainers(sandbox.composeProject);
      if (!web || !worker) throw new Error("sandbox app is not running");
      await new Promise((r) => setTimeout(r, 500));

      // An event from a container of the project arrives.
      await poke.getContainer(worker.id).pause();
      await poke.getContainer(worker.id).unpause();
      await waitFor("pause/unpause", () => (events.some((e) => e.action === "unpause") ? true : undefined), 5_000);

      // Cut the link: the stream errors, reconnects through a fresh SSH connection, and keeps going.
      relay.cut();
      await waitFor("the stream to notice", () => (errors.length > 0 ? true : undefined), 5_000);
      await waitFor("the reconnect", async () => ((await shell.exec(["true"], T)).code === 0 && shell.connection.connectCount >= 2 ? true : undefined));
      await new Promise((r) => setTimeout(r, 500));

      const killedAt = Date.now();
      await poke.getContainer(web.id).kill();
      const die = await waitFor(
        "die of web",
        () => events.find((e) => e.action === "die" && e.containerId === web.id),
        2_000,
      );
      expect(Date.now() - killedAt).toBeLessThan(2_000);
      expect(events.some((e) => e.action === "kill" && e.containerId === web.id)).toBe(true);
      expect(die).toMatchObject({ service: "web", project: sandbox.composeProject, exitCode: 137 });
      expect(die.time.getTime()).toBeGreaterThan(killedAt - 5_000);
      // No duplicates from the `since` replay after the reconnect.
      const keys = events.map((e) => `${e.time.getTime()}:${e.containerId}:${e.action}`);
      expect(new Set(keys).size).toBe(keys.length);
    } finally {
      stream.stop();
      // Put the app back for whoever comes next.
      await shell.exec(composeUp({ command: "docker-compose", files: [] }), { ...T, timeoutMs: 60_000, cwd: sandbox.appDir });
      await waitFor("web healthy again", async () => {
        const list = await docker.listContainers(sandbox.composeProject);
        return list.find((c) => c.service === "web")?.health === "healthy" ? true : undefined;
      }, 30_000);
      await docker.close();
      await relay.stop();
    }
  });
});
