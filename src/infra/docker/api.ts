import { Agent, type ClientRequestArgs } from "node:http";
import { PassThrough, Readable, type Duplex } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import Docker from "dockerode";
import type { ContainerSummary, DockerApi, DockerEvent } from "../../shared/ports.js";
import type { Logger } from "../logger.js";
import {
  compareContainers,
  LABEL_PROJECT,
  LineSplitter,
  parseEventLine,
  summaryFromInspect,
  type InspectPayload,
  type ListPayload,
} from "./map.js";

/** Opens one byte stream to the engine's API socket (e.g. forwarded over SSH). */
export type DockerDialer = () => Promise<Duplex>;

export interface DockerApiOptions {
  /**
   * Path of the engine socket. Used directly for `host: local`; over SSH it is the remote path the
   * dialer forwards (dockerode only needs it to build requests).
   */
  socketPath: string;
  /** When given, every HTTP request to the engine travels over a stream this opens. */
  dial?: DockerDialer;
  /** Limit for one non-streaming API call. Default 30 s. */
  requestTimeoutMs?: number;
  /** Event stream reconnect backoff: first delay and cap. Defaults 500 ms and 30 s. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  log?: Logger;
}

/** An engine API call failed (engine down, socket gone, container missing …). */
export class DockerApiError extends Error {
  override name = "DockerApiError";
  constructor(
    readonly operation: string,
    /** HTTP status from the engine, when it answered. */
    readonly statusCode: number | undefined,
    override readonly cause: Error,
  ) {
    super(`docker ${operation} failed: ${cause.message.trim()}`);
  }
}

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const INSPECT_CONCURRENCY = 6;
/** Event keys remembered to drop duplicates replayed after a reconnect (`since`). */
const SEEN_EVENTS_KEPT = 512;

/**
 * An http.Agent whose "sockets" are streams from a dialer, so dockerode's HTTP requests go over
 * the one pinned SSH connection (PITFALLS item 4: no extra connection, no unverified host key).
 * No keep-alive: each request gets its own forwarded stream, closed when the response ends.
 */
export class DialingAgent extends Agent {
  constructor(private readonly dial: DockerDialer) {
    super({ keepAlive: false });
  }

  override createConnection(_options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex {
    this.dial().then(
      (stream) => callback?.(null, asSocket(stream)),
      (err: Error) => callback?.(err, undefined as unknown as Duplex),
    );
    // http.Agent waits for the callback when nothing is returned.
    return undefined as unknown as Duplex;
  }
}

/** http's client calls a few net.Socket methods; an SSH channel has none of them. */
function asSocket(stream: Duplex): Duplex {
  const s = stream as Duplex & Record<string, unknown>;
  for (const method of ["setTimeout", "setNoDelay", "setKeepAlive", "ref", "unref"]) {
    if (typeof s[method] !== "function") s[method] = () => s;
  }
  return stream;
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown }).statusCode;
  return typeof code === "number" ? code : undefined;
}

/**
 * {@link DockerApi} over dockerode: the local engine socket, or the remote one through a dialer.
 * Containers are found by the compose project label, so nothing depends on container names.
 */
export class DockerodeApi implements DockerApi {
  readonly docker: Docker;
  private readonly agent: DialingAgent | undefined;
  private readonly requestTimeoutMs: number;
  private readonly streams = new Set<{ stop(): void }>();

  constructor(private readonly options: DockerApiOptions) {
    this.agent = options.dial ? new DialingAgent(options.dial) : undefined;
    // host/port/protocol set explicitly so a DOCKER_HOST in the bot's environment cannot redirect us.
    const modemOptions = {
      socketPath: options.socketPath,
      host: undefined,
      port: undefined,
      protocol: "http" as const,
      ...(this.agent ? { agent: this.agent } : {}),
    };
    this.docker = new Docker(modemOptions as Docker.DockerOptions);
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  async listContainers(project: string): Promise<ContainerSummary[]> {
    const entries = (await this.call("list containers", (abortSignal) =>
      this.docker.listContainers({ all: true, filters: { label: [`${LABEL_PROJECT}=${project}`] }, abortSignal }),
    )) as ListPayload[];
    // The list lacks exit code, OOM and start time; inspect each (bounded), skipping any removed meanwhile.
    const summaries: ContainerSummary[] = [];
    for (let i = 0; i < entries.length; i += INSPECT_CONCURRENCY) {
      const batch = entries.slice(i, i + INSPECT_CONCURRENCY);
      const results = await Promise.all(
        batch.map((entry) =>
          this.inspect(entry.Id).catch((err: unknown) => {
            if (err instanceof DockerApiError && err.statusCode === 404) return null;
            throw err;
          }),
        ),
      );
      for (const r of results) if (r) summaries.push(r);
    }
    return summaries.sort(compareContainers);
  }

  async inspect(containerId: string): Promise<ContainerSummary> {
    return summaryFromInspect(await this.inspectRaw(containerId));
  }

  async logs(containerId: string, tail: number, options: { sinceSeconds?: number; timestamps?: boolean } = {}): Promise<string> {
    if (!Number.isInteger(tail) || tail < 1) throw new TypeError("tail must be a positive integer");
    const info = await this.inspectRaw(containerId);
    const body = await this.call("logs", (abortSignal) =>
      this.docker.getContainer(containerId).logs({
        stdout: true,
        stderr: true,
        tail,
        follow: false,
        abortSignal,
        ...(options.timestamps ? { timestamps: true } : {}),
        ...(options.sinceSeconds !== undefined ? { since: Math.floor(Date.now() / 1000) - options.sinceSeconds } : {}),
      }),
    );
    // docker-modem hands back JSON-looking output parsed; take it back to bytes.
    const raw = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
    // A TTY container's log is raw; otherwise it is multiplexed with 8-byte frame headers.
    if (info.Config?.Tty) return raw.toString("utf8");
    return this.demux(raw);
  }

  events(project: string, onEvent: (e: DockerEvent) => void, onError?: (err: Error) => void): { stop(): void } {
    const stream = new EventStream(this.docker, project, onEvent, onError, this.options);
    this.streams.add(stream);
    stream.start();
    return {
      stop: () => {
        stream.stop();
        this.streams.delete(stream);
      },
    };
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.stop();
    this.streams.clear();
    this.agent?.destroy();
  }

  private inspectRaw(containerId: string): Promise<InspectPayload> {
    return this.call("inspect", (abortSignal) => this.docker.getContainer(containerId).inspect({ abortSignal })) as Promise<InspectPayload>;
  }

  private async call<T>(operation: string, request: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await request(AbortSignal.timeout(this.requestTimeoutMs));
    } catch (err) {
      throw new DockerApiError(operation, statusOf(err), err as Error);
    }
  }

  private demux(raw: Buffer): Promise<string> {
    return new Promise((resolve, reject) => {
      const source = Readable.from([raw]);
      const sink = new PassThrough();
      const chunks: Buffer[] = [];
      sink.on("data", (chunk: Buffer) => chunks.push(chunk));
      // One sink for both streams keeps stdout and stderr lines in the order they were logged.
      this.docker.modem.demuxStream(source, sink, sink);
      source.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      source.on("error", reject);
    });
  }
}

/**
 * Follows `/events` for one compose project. When the stream drops (engine restart, SSH
 * reconnect) it reconnects with exponential backoff and asks for events `since` the last one it
 * saw, dropping the duplicates that replays. `stop()` destroys the stream (an open stream keeps the
 * process alive: PITFALLS item 4).
 */
class EventStream {
  private stopped = false;
  private current: NodeJS.ReadableStream | null = null;
  private timer: NodeJS.Timeout | null = null;
  private delayMs: number;
  private lastNano: bigint | null = null;
  private droppedAtSec: number | null = null;
  private readonly seen = new Set<string>();
  private readonly log: Logger | undefined;

  constructor(
    private readonly docker: Docker,
    private readonly project: string,
    private readonly onEvent: (e: DockerEvent) => void,
    private readonly onError: ((err: Error) => void) | undefined,
    private readonly options: DockerApiOptions,
  ) {
    this.delayMs = options.reconnectMinMs ?? 500;
    this.log = options.log;
  }

  start(): void {
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const s = this.current as (NodeJS.ReadableStream & { destroy?: () => void }) | null;
    this.current = null;
    s?.destroy?.();
  }

  private sinceSeconds(): number | undefined {
    if (this.lastNano !== null) return Number(this.lastNano / 1_000_000_000n);
    return this.droppedAtSec ?? undefined;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const since = this.sinceSeconds();
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.getEvents({
        filters: { type: ["container"], label: [`${LABEL_PROJECT}=${this.project}`] },
        ...(since !== undefined ? { since } : {}),
      });
    } catch (err) {
      this.failed(err as Error);
      return;
    }
    if (this.stopped) {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      return;
    }
    this.current = stream;
    this.delayMs = this.options.reconnectMinMs ?? 500;
    const splitter = new LineSplitter();
    const decoder = new StringDecoder("utf8");
    stream.on("data", (chunk: Buffer | string) => {
      const text = typeof chunk === "string" ? chunk : decoder.write(chunk);
      for (const line of splitter.push(text)) this.deliver(line);
    });
    let ended = false;
    const onEnd = (err?: Error) => {
      if (ended) return;
      ended = true;
      if (this.current === stream) this.current = null;
      if (this.stopped) return;
      this.failed(err ?? new Error("docker event stream ended"));
    };
    stream.on("error", (err: Error) => onEnd(err));
    stream.on("end", () => onEnd());
    stream.on("close", () => onEnd());
  }

  private deliver(line: string): void {
    const parsed = parseEventLine(line);
    if (!parsed || this.stopped) return;
    const { event, timeNano } = parsed;
    const key = `${timeNano}:${event.containerId}:${event.action}`;
    if (this.seen.has(key) || (this.lastNano !== null && timeNano < this.lastNano)) return;
    this.seen.add(key);
    if (this.seen.size > SEEN_EVENTS_KEPT) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    this.lastNano = timeNano;
    try {
      this.onEvent(event);
    } catch (err) {
      this.log?.error({ err }, "docker event handler threw");
    }
  }

  private failed(err: Error): void {
    if (this.stopped) return;
    this.droppedAtSec ??= Math.floor(Date.now() / 1000);
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.options.reconnectMaxMs ?? 30_000);
    this.log?.warn({ project: this.project, err: { name: err.name, message: err.message }, retryInMs: delay }, "docker event stream dropped");
    try {
      this.onError?.(err);
    } catch {
      // The listener's problem, not the stream's.
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }
}
