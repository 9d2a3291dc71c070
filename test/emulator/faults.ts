import { BotApiError, EmulatorUsageError } from "./errors.js";
import type { Fault } from "./types.js";

interface PendingFault {
  /** The bot token whose calls it hits. */
  token: string;
  /** Lower-cased method name, or "*" (any method but getUpdates). */
  method: string;
  fault: Fault;
  /** Matching calls still to let through before this fault starts to hit. */
  skip: number;
  /** Matching calls this fault still hits. */
  remaining: number;
}

/**
 * Faults a test arranged for coming calls. Each call of a method counts towards every pending
 * fault for it, so "the 3rd sendMessage from now" means the 3rd, whatever earlier faults did to
 * the 1st and 2nd. Among faults due on the same call, the one added first wins.
 */
export class FaultPlan {
  private readonly pending: PendingFault[] = [];

  /** The next `times` calls of `method` with `token` fail with `fault`. */
  next(token: string, method: string, fault: Fault, times = 1): void {
    this.add(token, method, fault, 1, times);
  }

  /** The `nth` call of `method` with `token` counted from now (1 = the next one) fails with `fault`, `times` calls in a row. */
  onCall(token: string, method: string, nth: number, fault: Fault, times = 1): void {
    if (!Number.isInteger(nth) || nth < 1) throw new EmulatorUsageError(`nth must be a positive integer, got ${nth}`);
    this.add(token, method, fault, nth, times);
  }

  /** The fault for this call, if one is due; counts the call for every pending fault of its method and token. */
  take(token: string, method: string): Fault | undefined {
    const lower = method.toLowerCase();
    const isPoll = lower === "getupdates";
    const matching = this.pending.filter(
      (entry) => entry.token === token && (entry.method === lower || (entry.method === "*" && !isPoll)),
    );
    const due = matching.find((entry) => entry.skip === 0);
    for (const entry of matching) if (entry !== due && entry.skip > 0) entry.skip -= 1;
    if (due === undefined) return undefined;
    due.remaining -= 1;
    if (due.remaining === 0) this.pending.splice(this.pending.indexOf(due), 1);
    return due.fault;
  }

  private add(token: string, method: string, fault: Fault, nth: number, times: number): void {
    if (!Number.isInteger(times) || times < 1) throw new EmulatorUsageError(`times must be a positive integer, got ${times}`);
    this.pending.push({ token, method: method.toLowerCase(), fault, skip: nth - 1, remaining: times });
  }
}

/** Waits out a `delayMs` fault (cut short by `stopSignal`) or throws the error Telegram would answer. */
export async function applyFault(fault: Fault, stopSignal: AbortSignal): Promise<void> {
  if ("delayMs" in fault) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, fault.delayMs);
      stopSignal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return;
  }
  if (fault.status === 429) {
    throw new BotApiError(429, `Too Many Requests: retry after ${fault.retryAfter}`, { retry_after: fault.retryAfter });
  }
  if (fault.status === 409) throw conflict("terminated by other getUpdates request; make sure that only one bot instance is running");
  if (fault.status === 401) throw new BotApiError(401, "Unauthorized");
  const reason = { 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable" }[fault.status];
  throw new BotApiError(fault.status, reason);
}

/** Telegram's 409 "Conflict: …". */
export function conflict(reason: string): BotApiError {
  return new BotApiError(409, `Conflict: ${reason}`);
}
