import type { Sandbox } from "../sandbox/index.js";

/**
 * The connection half of an opsgram.yml target for the sandbox VPS: SSH with its pinned host key,
 * the app directory, the forwarded Docker socket and the compose project. Tests spread it into
 * their own target and add services, deploy, backup … as they need.
 */
export function sandboxTarget(sandbox: Sandbox) {
  return {
    host: `ssh://${sandbox.ssh.username}@${sandbox.ssh.host}:${sandbox.ssh.port}`,
    ssh: { privateKeyPath: sandbox.ssh.privateKeyPath, knownHostsPath: sandbox.ssh.knownHostsPath, connectTimeoutSeconds: 5 },
    appDir: sandbox.appDir,
    dockerSocket: sandbox.dockerSocket,
    compose: { command: sandbox.composeCommand, project: sandbox.composeProject },
  };
}
