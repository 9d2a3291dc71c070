/** A ref typed in chat does not exist on the target's remote after a fetch. */
export class RefNotFoundError extends Error {
  override name = "RefNotFoundError";
  constructor(readonly ref: string, readonly remote: string, readonly target: string) {
    super(`ref "${ref}" was not found on ${remote} (target ${target}) after fetching: no branch, tag or commit by that name`);
  }
}

/** A remote command of a step failed; carries its full output for the document sent to chat. */
export class StepFailedError extends Error {
  override name = "StepFailedError";
  constructor(message: string, readonly output: string) {
    super(message);
  }
}

/** The target could not be read or reached while planning (SSH down, git broken, …). */
export class TargetUnavailableError extends Error {
  override name = "TargetUnavailableError";
  constructor(readonly target: string, readonly detail: string) {
    super(`${target} could not be read: ${detail}`);
  }
}

/** A part of /status or recovery did not answer in time. */
export class TimeoutError extends Error {
  override name = "TimeoutError";
  constructor(readonly what: string, readonly ms: number) {
    super(`${what} did not answer within ${ms} ms`);
  }
}
