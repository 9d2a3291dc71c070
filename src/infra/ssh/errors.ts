import { LinkLostError } from "../../shared/ports.js";
/**
 * One error class per way reaching a target can fail, each naming what an operator needs to act.
 * Messages never contain key material; fingerprints are public and are what `ssh-keygen -l` shows.
 */

/** The server presented a key other than the pinned one(s): possible interception. Nothing ran. */
export class HostKeyMismatchError extends Error {
  override name = "HostKeyMismatchError";
  constructor(
    readonly host: string,
    readonly port: number,
    /** SHA256 fingerprint the server presented. */
    readonly fingerprint: string,
    /** Fingerprints pinned in known_hosts for this host. */
    readonly expected: string[],
    readonly knownHostsPath: string,
  ) {
    super(
      `host key for ${host}:${port} does not match ${knownHostsPath}: server presented ${fingerprint}, ` +
        `pinned ${expected.join(", ")}. Refusing to connect; if the key really changed, update known_hosts.`,
    );
  }
}

/** known_hosts has no entry for the host (no trust on first use). Nothing ran. */
export class HostKeyUnknownError extends Error {
  override name = "HostKeyUnknownError";
  constructor(
    readonly host: string,
    readonly port: number,
    readonly fingerprint: string,
    readonly knownHostsPath: string,
  ) {
    super(
      `no pinned host key for ${host}:${port} in ${knownHostsPath}; the server presented ${fingerprint}. ` +
        `Verify it out of band (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the server), then add it.`,
    );
  }
}

/** The server presented a key listed as @revoked. Nothing ran. */
export class HostKeyRevokedError extends Error {
  override name = "HostKeyRevokedError";
  constructor(
    readonly host: string,
    readonly port: number,
    readonly fingerprint: string,
    readonly knownHostsPath: string,
  ) {
    super(`host key ${fingerprint} of ${host}:${port} is marked @revoked in ${knownHostsPath}; refusing to connect.`);
  }
}

/** TCP/handshake failure: refused, unreachable, or no handshake within the connect timeout. */
export class SshConnectError extends Error {
  override name = "SshConnectError";
  constructor(
    readonly host: string,
    readonly port: number,
    override readonly cause: Error,
  ) {
    super(`cannot connect to ${host}:${port} over SSH: ${cause.message}`);
  }
}

/** The server refused our key (or the key file could not be used). */
export class SshAuthError extends Error {
  override name = "SshAuthError";
  constructor(
    readonly host: string,
    readonly port: number,
    readonly username: string,
    override readonly cause: Error,
  ) {
    super(`SSH authentication as ${username}@${host}:${port} failed: ${cause.message}`);
  }
}

/** The connection went away while a command was running: it may or may not have finished. */
export class SshDisconnectedError extends LinkLostError {
  override name = "SshDisconnectedError";
  constructor(
    readonly host: string,
    readonly port: number,
    override readonly cause?: Error,
  ) {
    super(`SSH connection to ${host}:${port} was lost while a command was running; its outcome is unknown`);
  }
}
