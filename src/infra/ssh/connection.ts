import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import type { Duplex } from "node:stream";
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import type { Logger } from "../logger.js";
import {
  HostKeyMismatchError,
  HostKeyRevokedError,
  HostKeyUnknownError,
  SshAuthError,
  SshConnectError,
} from "./errors.js";
import { findHostKeys, hostKeyAlgorithms, parseKnownHosts, verifyHostKey, type HostKeyVerdict } from "./known-hosts.js";
import { Semaphore } from "./semaphore.js";

/** Where and how to reach one target over SSH. */
export interface SshTargetOptions {
  host: string;
  port: number;
  username: string;
  /** OpenSSH private key file (unencrypted); `~` is expanded. Read at each connect, never logged. */
  privateKeyPath: string;
  /** known_hosts file holding the pinned host key; `~` is expanded. Re-read at each connect. */
  knownHostsPath: string;
  /** TCP connect + SSH handshake + auth must finish within this. */
  connectTimeoutMs: number;
  /** Keepalive probe interval; the connection is declared dead after 3 unanswered probes. */
  keepaliveIntervalMs: number;
  /** Concurrent exec channels on the connection; more wait. Default 8 (OpenSSH MaxSessions is 10). */
  maxChannels?: number;
  log?: Logger;
}

/** Opening a channel failed, so the command never started: safe to retry on a fresh connection. */
export class SshChannelError extends Error {
  override name = "SshChannelError";
  constructor(
    readonly host: string,
    readonly port: number,
    override readonly cause: Error,
  ) {
    super(`cannot open an SSH channel on ${host}:${port}: ${cause.message}`);
  }
}

const DEFAULT_MAX_CHANNELS = 8;
const KEEPALIVE_COUNT_MAX = 3;

/** `~` and `~/…` to the home directory, as ssh does for IdentityFile. */
export function expandHome(path: string): string {
  if (path === "~") return homedir();
  if (path.startsWith("~/")) return `${homedir()}${path.slice(1)}`;
  return path;
}

async function readKnownHosts(path: string): Promise<string> {
  try {
    return await readFile(expandHome(path), "utf8");
  } catch (err) {
    // A missing file pins nothing: the connect is refused with the fingerprint the server showed.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  }
}

interface Live {
  client: Client;
  alive: boolean;
}

/**
 * The one SSH connection to a target: opened on first use, shared by every command and by the
 * Docker API (forwarded socket), re-opened when it drops. Concurrent callers share one connect
 * attempt. The host key must match known_hosts before anything is sent (no trust on first use).
 */
export class SshConnection {
  private live: Live | null = null;
  private connecting: Promise<Live> | null = null;
  private readonly sessions: Semaphore;
  private readonly log: Logger | undefined;
  /** Successful connects so far (tests and metrics: proves reuse and reconnects). */
  connectCount = 0;

  constructor(readonly options: SshTargetOptions) {
    this.sessions = new Semaphore(options.maxChannels ?? DEFAULT_MAX_CHANNELS);
    this.log = options.log;
  }

  get host(): string {
    return this.options.host;
  }
  get port(): number {
    return this.options.port;
  }

  /** Channels running / waiting for a slot. */
  get channelsInUse(): number {
    return this.sessions.running;
  }
  get channelsQueued(): number {
    return this.sessions.queued;
  }

  /** Connects now (normally lazy). Throws the typed connect errors. */
  async connect(): Promise<void> {
    await this.current();
  }

  /**
   * Runs `work` with an exec channel slot on a live connection. When `work` throws
   * {@link SshChannelError} because the connection had died (the command never started), it is
   * retried once on a fresh connection: a drop between two commands is invisible to callers.
   */
  async withSession<T>(work: (client: Client, drop: () => void) => Promise<T>): Promise<T> {
    return this.sessions.run(() => this.withRetry(work));
  }

  /**
   * Opens a stream to a Unix socket on the target (OpenSSH `direct-streamlocal`), e.g. the Docker
   * socket. Does not use an exec slot: forwarded streams are not sessions for MaxSessions.
   */
  async forwardUnixSocket(remotePath: string): Promise<Duplex> {
    return this.withRetry(
      (client) =>
        new Promise<ClientChannel>((resolve, reject) => {
          try {
            client.openssh_forwardOutStreamLocal(remotePath, (err, stream) =>
              err ? reject(new SshChannelError(this.host, this.port, err)) : resolve(stream),
            );
          } catch (err) {
            reject(new SshChannelError(this.host, this.port, err as Error));
          }
        }),
    );
  }

  /** Ends the connection; the next use reconnects. */
  async close(): Promise<void> {
    const pending = this.connecting;
    if (pending) await pending.catch(() => undefined);
    const live = this.live;
    this.live = null;
    if (!live) return;
    live.alive = false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        live.client.destroy();
        resolve();
      }, 1000);
      live.client.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      live.client.end();
    });
  }

  private async withRetry<T>(work: (client: Client, drop: () => void) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const live = await this.current();
      const drop = () => this.drop(live);
      try {
        return await work(live.client, drop);
      } catch (err) {
        if (attempt === 0 && err instanceof SshChannelError && !live.alive) {
          this.log?.info({ host: this.host, port: this.port }, "ssh connection was gone; reconnecting");
          continue;
        }
        throw err;
      }
    }
  }

  /** Forgets a connection that misbehaves (e.g. a channel open that never answers) and destroys it. */
  private drop(live: Live): void {
    live.alive = false;
    if (this.live === live) this.live = null;
    live.client.destroy();
  }

  private current(): Promise<Live> {
    if (this.live?.alive) return Promise.resolve(this.live);
    if (!this.connecting) {
      this.connecting = this.open().finally(() => {
        this.connecting = null;
      });
    }
    return this.connecting;
  }

  private async open(): Promise<Live> {
    const { host, port, username } = this.options;
    const started = Date.now();
    let privateKey: Buffer;
    try {
      privateKey = await readFile(expandHome(this.options.privateKeyPath));
    } catch (err) {
      throw new SshAuthError(host, port, username, new Error(`cannot read private key ${this.options.privateKeyPath}: ${(err as Error).message}`));
    }
    const knownHostsPath = this.options.knownHostsPath;
    const pinned = findHostKeys(parseKnownHosts(await readKnownHosts(knownHostsPath)), host, port);
    const serverHostKey = hostKeyAlgorithms(pinned);
    let verdict: HostKeyVerdict | undefined;

    const client = new Client();
    const config: ConnectConfig = {
      host,
      port,
      username,
      privateKey,
      readyTimeout: this.options.connectTimeoutMs,
      keepaliveInterval: this.options.keepaliveIntervalMs,
      keepaliveCountMax: KEEPALIVE_COUNT_MAX,
      // No hostHash: ssh2 then passes the raw key blob, compared byte for byte with known_hosts.
      hostVerifier: (key: Buffer) => {
        verdict = verifyHostKey(pinned, key);
        return verdict.status === "trusted";
      },
      ...(serverHostKey ? { algorithms: { serverHostKey } } : {}),
    };

    const hostKeyError = (): Error | null => {
      if (!verdict || verdict.status === "trusted") return null;
      switch (verdict.status) {
        case "unknown":
          return new HostKeyUnknownError(host, port, verdict.fingerprint, knownHostsPath);
        case "revoked":
          return new HostKeyRevokedError(host, port, verdict.fingerprint, knownHostsPath);
        case "mismatch":
          return new HostKeyMismatchError(host, port, verdict.fingerprint, verdict.expected, knownHostsPath);
      }
    };

    const live = await new Promise<Live>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error & { level?: string }) => {
        if (settled) return;
        settled = true;
        client.destroy();
        const hostKey = hostKeyError();
        if (hostKey) reject(hostKey);
        else if (err.level === "client-authentication") reject(new SshAuthError(host, port, username, err));
        else reject(new SshConnectError(host, port, err));
      };
      client.on("error", fail);
      client.once("close", () => fail(new Error("connection closed before it was ready")));
      client.once("ready", () => {
        if (settled) return;
        settled = true;
        client.removeListener("error", fail);
        resolve({ client, alive: true });
      });
      try {
        client.connect(config);
      } catch (err) {
        // ssh2 throws synchronously on a key it cannot parse (e.g. encrypted without passphrase).
        settled = true;
        reject(new SshAuthError(host, port, username, err as Error));
      }
    });

    client.on("error", (err: Error & { level?: string }) => {
      live.alive = false;
      this.log?.warn({ host, port, err: { name: err.name, message: err.message, level: err.level } }, "ssh connection error");
    });
    client.on("close", () => {
      live.alive = false;
      if (this.live === live) this.live = null;
      this.log?.info({ host, port }, "ssh connection closed");
    });
    this.live = live;
    this.connectCount++;
    this.log?.info(
      { host, port, username, hostKey: verdict?.fingerprint, ms: Date.now() - started },
      "ssh connected (host key pinned)",
    );
    return live;
  }
}
