import { describe, expect, it } from "vitest";
import { TimeoutError } from "../../src/operations/errors.js";
import { withTimeout } from "../../src/operations/timeout.js";
import { ManualClock, flush } from "./operations-fakes.js";

describe("withTimeout on the Clock", () => {
  it("gives the value when it comes first, and leaves no sleep scheduled", async () => {
    const clock = new ManualClock();
    expect(await withTimeout(Promise.resolve(7), 1_000, "git", clock)).toBe(7);
    await flush();
    expect(clock.pendingSleeps).toBe(0);
  });

  it("gives up exactly when the clock passes the limit, naming what did not answer", async () => {
    const clock = new ManualClock();
    let outcome: unknown = null;
    void withTimeout(new Promise(() => {}), 3_500, "docker", clock).catch((err: unknown) => (outcome = err));
    await flush();
    await clock.advance(3_499);
    await flush();
    expect(outcome).toBeNull();
    await clock.advance(1);
    await flush();
    expect(outcome).toBeInstanceOf(TimeoutError);
    expect((outcome as Error).message).toBe("docker did not answer within 3500 ms");
  });
});
