import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { BotApiError } from "./errors.js";
import { applyFault, type FaultPlan } from "./faults.js";
import { Params } from "./params.js";
import { readParams } from "./request-body.js";
import type { ApiCall, ApiResponse } from "./types.js";

export type MethodHandler = (params: Params, signal: AbortSignal) => unknown;

/** Finds the handler for a call, or throws the error Telegram answers (401 bad token, 404 unknown method). */
export type Router = (token: string, method: string) => MethodHandler;

/**
 * The HTTP side: `/bot<token>/<method>` on 127.0.0.1, parameters from the query, JSON or multipart
 * body, injected faults applied, every call recorded with its answer. Knows nothing of messages.
 */
export class ApiServer {
  /** Every HTTP call to a `/bot<token>/<method>` URL, getUpdates included. */
  readonly calls: ApiCall[] = [];
  /** Emulator bugs (a handler threw something that is not a Bot API error); should stay empty. */
  readonly internalErrors: Error[] = [];
  readonly apiRoot: string;
  /** Calls other than getUpdates that have not been answered yet. */
  inFlight = 0;

  private constructor(
    private readonly server: Server,
    private readonly route: Router,
    private readonly faults: FaultPlan,
    private readonly stopSignal: AbortSignal,
    /** Called after every answer, so idle waiters can check again. */
    private readonly onAnswered: () => void,
  ) {
    this.apiRoot = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on("request", (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res));
  }

  /** Listens on a free loopback port. */
  static async listen(route: Router, faults: FaultPlan, stopSignal: AbortSignal, onAnswered: () => void): Promise<ApiServer> {
    const server = createServer({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    return new ApiServer(server, route, faults, stopSignal, onAnswered);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await new Promise((resolve) => setImmediate(resolve)); // let the final answers go out
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.apiRoot);
    // grammY's `environment: "test"` adds "/test" before the method.
    const match = /^\/bot([^/]*)\/(?:test\/)?([A-Za-z0-9_]+)\/?$/.exec(url.pathname);
    if (match === null) {
      req.resume();
      return respond(res, 404, { ok: false, error_code: 404, description: "Not Found" });
    }
    const [, token, method] = match as unknown as [string, string, string];
    const call: ApiCall = { index: this.calls.length, method, params: {}, at: new Date(), fault: undefined, response: undefined };
    this.calls.push(call);
    const isPoll = method.toLowerCase() === "getupdates";
    if (!isPoll) this.inFlight++;
    const disconnected = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) disconnected.abort();
    });

    let response: ApiResponse;
    let status = 200;
    try {
      const handler = this.route(token, method.toLowerCase());
      call.params = await readParams(req, url);
      call.fault = this.faults.take(token, method);
      if (call.fault !== undefined) await applyFault(call.fault, this.stopSignal);
      response = { ok: true, result: await handler(new Params(call.params), disconnected.signal) };
    } catch (error) {
      if (!(error instanceof BotApiError)) {
        this.internalErrors.push(error as Error);
        console.error(`[bot-api-emulator] ${method} failed inside the emulator:`, error);
      }
      const apiError = error instanceof BotApiError ? error : new BotApiError(500, `Internal Server Error: ${String(error)}`);
      req.resume(); // a rejected request may still have an unread body
      response = apiError.toResponse();
      status = apiError.errorCode;
    } finally {
      if (!isPoll) this.inFlight--;
    }
    call.response = response;
    respond(res, status, response);
    this.onAnswered();
  }
}

function respond(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed || res.writableEnded) return; // the client gave up (e.g. bot.stop() aborted its poll)
  const json = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
  res.end(json);
}
