import type { ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { descendantsOf, hasExited, killAll, logTail, run, startDaemon, stopChild, waitFor, waitGone } from "./processes.js";

/** How a client reaches the sandbox sshd, with the host key pinned. */
export interface SandboxSsh {
  host: "127.0.0.1";
  port: number;
  username: string;
  privateKeyPath: string;
  /** One line: `[127.0.0.1]:PORT <host key>`. */
  knownHostsPath: string;
  /** The server's public host key, `ssh-ed25519 AAAA…` (no comment). */
  hostKeyPublic: string;
}

export interface SandboxSshd {
  ssh: SandboxSsh;
  child: ChildProcess;
  logPath: string;
}

/** ssh client options that use only our files: no user config, no agent, no TOFU. */
export function pinnedSshArgs(ssh: SandboxSsh, knownHostsPath = ssh.knownHostsPath): string[] {
  return [
    "-F", "/dev/null",
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", "IdentityAgent=none",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${knownHostsPath}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "ConnectTimeout=10",
    "-i", ssh.privateKeyPath,
    "-p", String(ssh.port),
    `${ssh.username}@${ssh.host}`,
  ];
}

/**
 * Starts a private sshd on 127.0.0.1:`port` with a host key and client key generated now (no
 * secrets in the repo). Its sessions get DOCKER_HOST pointing at the sandbox engine, so remote
 * `docker` / `docker-compose` reach it like they would reach a VPS's own engine.
 */
export async function startSshd(options: { dir: string; port: number; dockerHost: string }): Promise<SandboxSshd> {
  const sshDir = join(options.dir, "ssh");
  mkdirSync(sshDir, { mode: 0o700 });
  const hostKey = join(sshDir, "ssh_host_ed25519_key");
  const clientKey = join(sshDir, "id_ed25519");
  await Promise.all([
    run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "opsgram-sandbox-host", "-f", hostKey]),
    run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "opsgram-sandbox-client", "-f", clientKey]),
  ]);
  const hostKeyPublic = readFileSync(`${hostKey}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  const authorizedKeys = join(sshDir, "authorized_keys");
  writeFileSync(authorizedKeys, readFileSync(`${clientKey}.pub`, "utf8"), { mode: 0o600 });
  const knownHostsPath = join(sshDir, "known_hosts");
  writeFileSync(knownHostsPath, `[127.0.0.1]:${options.port} ${hostKeyPublic}\n`);

  const configPath = join(sshDir, "sshd_config");
  writeFileSync(
    configPath,
    [
      `ListenAddress 127.0.0.1`,
      `Port ${options.port}`,
      `AddressFamily inet`,
      `HostKey ${hostKey}`,
      `PidFile ${join(sshDir, "sshd.pid")}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `PubkeyAuthentication yes`,
      `PasswordAuthentication no`,
      `KbdInteractiveAuthentication no`,
      `PermitRootLogin prohibit-password`,
      `UsePAM no`,
      `StrictModes no`,
      `PrintMotd no`,
      `PrintLastLog no`,
      `AllowTcpForwarding yes`,
      `AllowStreamLocalForwarding yes`,
      `MaxSessions 20`,
      `MaxStartups 50:30:100`,
      `LogLevel INFO`,
      `SetEnv DOCKER_HOST=${options.dockerHost}`,
      `Subsystem sftp internal-sftp`,
      "",
    ].join("\n"),
  );
  // sshd insists on its privilege-separation dir.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  await run("/usr/sbin/sshd", ["-t", "-f", configPath]);

  const logPath = join(options.dir, "logs", "sshd.log");
  const child = startDaemon("/usr/sbin/sshd", ["-D", "-e", "-f", configPath], logPath);
  const ssh: SandboxSsh = { host: "127.0.0.1", port: options.port, username: "root", privateKeyPath: clientKey, knownHostsPath, hostKeyPublic };
  const sshd: SandboxSshd = { ssh, child, logPath };
  try {
    await waitFor(
      "sshd to send its banner",
      async () => {
        if (hasExited(child)) throw new Error(`sshd exited (${child.exitCode ?? child.signalCode})`);
        return (await readBanner(options.port)).startsWith("SSH-2.0-") ? true : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 50, describe: () => logTail(logPath) },
    );
  } catch (error) {
    await stopSshd(sshd);
    throw error;
  }
  return sshd;
}

function readBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => socket.destroy(new Error("no banner within 2 s")), 2_000);
    socket.once("data", (data) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data.toString("latin1"));
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Proves the whole path a remote target uses: OpenSSH client, pinned host key, key auth, and the
 * session's DOCKER_HOST reaching the sandbox engine.
 */
export async function verifySsh(sshd: SandboxSshd): Promise<void> {
  try {
    await run("ssh", [...pinnedSshArgs(sshd.ssh), "docker", "ps"], { timeoutMs: 30_000 });
  } catch (error) {
    throw new Error(`ssh … docker ps failed: ${(error as Error).message}\n${logTail(sshd.logPath)}`);
  }
}

/** Stops the master sshd and every session it spawned (those outlive the master otherwise). */
export async function stopSshd(sshd: SandboxSshd): Promise<string[]> {
  const sessions = sshd.child.pid === undefined ? [] : descendantsOf(sshd.child.pid);
  await stopChild(sshd.child, 3_000);
  killAll(sessions);
  const left = await waitGone(sessions, 3_000);
  return left.length > 0 ? [`ssh session processes still alive: ${left.join(", ")}`] : [];
}
