import { composeProjectName } from "../commands/compose.js";
import type { TargetConfig } from "../config/file.js";
import type { DockerApi, RemoteShell } from "../shared/ports.js";
import { DockerodeApi } from "./docker/api.js";
import { LocalShell } from "./local/shell.js";
import type { Logger } from "./logger.js";
import { SshShell } from "./ssh/shell.js";

/** Everything operations and monitors need to reach one target. */
export interface TargetConnections {
  shell: RemoteShell;
  docker: DockerApi;
  /** Compose project name: the `com.docker.compose.project` label of the target's containers. */
  project: string;
  /** Stops event streams and drops the SSH connection. */
  close(): Promise<void>;
}

/** `ssh://user@host[:port]` (already validated by the config schema). */
export function parseSshHost(url: string): { username: string; host: string; port: number } {
  const match = /^ssh:\/\/([^@]+)@([^:]+)(?::(\d{1,5}))?$/.exec(url);
  if (!match?.[1] || !match[2]) throw new TypeError(`not an ssh://user@host[:port] address: ${url}`);
  const port = match[3] ? Number(match[3]) : 22;
  if (port < 1 || port > 65535) throw new TypeError(`port out of range in ${url}`);
  return { username: match[1], host: match[2], port };
}

/**
 * Builds the shell and Docker API for a target from its opsgram.yml entry. Nothing connects yet:
 * the SSH connection opens on first use (so the bot starts even when a target is down) and is
 * shared by the shell and the Docker API, whose requests travel over the forwarded engine socket.
 * `host: local` uses child processes and the local socket; commands get DOCKER_HOST pointing at
 * the same socket, so the compose CLI and the API see the same engine.
 */
export function createTargetConnections(name: string, target: TargetConfig, log: Logger): TargetConnections {
  const project = composeProjectName(target);
  const targetLog = log.child({ target: name });
  if (target.host === "local") {
    const shell = new LocalShell({ env: { DOCKER_HOST: `unix://${target.dockerSocket}` }, log: targetLog.child({ module: "local" }) });
    const docker = new DockerodeApi({ socketPath: target.dockerSocket, log: targetLog.child({ module: "docker" }) });
    return {
      shell,
      docker,
      project,
      close: () => closeBoth(docker, shell),
    };
  }
  if (!target.ssh) throw new TypeError(`target ${name}: ssh settings are required for ${target.host}`);
  const { username, host, port } = parseSshHost(target.host);
  const shell = new SshShell({
    host,
    port,
    username,
    privateKeyPath: target.ssh.privateKeyPath,
    knownHostsPath: target.ssh.knownHostsPath,
    connectTimeoutMs: target.ssh.connectTimeoutSeconds * 1000,
    keepaliveIntervalMs: target.ssh.keepaliveSeconds * 1000,
    log: targetLog.child({ module: "ssh" }),
  });
  const docker = new DockerodeApi({
    socketPath: target.dockerSocket,
    dial: () => shell.forwardUnixSocket(target.dockerSocket),
    log: targetLog.child({ module: "docker" }),
  });
  return {
    shell,
    docker,
    project,
    close: () => closeBoth(docker, shell),
  };
}

/** Docker first: its streams ride on the shell's SSH connection. */
async function closeBoth(docker: DockerApi, shell: RemoteShell): Promise<void> {
  await docker.close();
  await shell.close();
}
