import { describe, expect, it } from "vitest";
import { OutputCapture } from "../../src/infra/ssh/output.js";
import { Semaphore } from "../../src/infra/ssh/semaphore.js";

describe("OutputCapture", () => {
  it("keeps everything under the cap, per stream", () => {
    const c = new OutputCapture(100);
    c.push("stdout", Buffer.from("out1 "));
    c.push("stderr", Buffer.from("err1 "));
    c.push("stdout", Buffer.from("out2"));
    expect(c.finish()).toEqual({ stdout: "out1 out2", stderr: "err1 ", truncated: false });
  });

  it("keeps the tail of the combined output when over the cap", () => {
    const c = new OutputCapture(10);
    c.push("stdout", Buffer.from("0123456789"));
    c.push("stderr", Buffer.from("abc"));
    c.push("stdout", Buffer.from("XY"));
    // 15 bytes pushed, 10 kept: the last 5 of the first chunk, then "abc", then "XY".
    expect(c.finish()).toEqual({ stdout: "56789XY", stderr: "abc", truncated: true });
  });

  it("drops whole old chunks and never keeps more than the cap", () => {
    const c = new OutputCapture(4);
    for (let i = 0; i < 100; i++) c.push("stdout", Buffer.from(`line${i}\n`));
    const { stdout, truncated } = c.finish();
    expect(truncated).toBe(true);
    expect(stdout).toBe("e99\n"); // the last 4 bytes of "…line99\n"
  });

  it("does not start the kept tail in the middle of a UTF-8 character", () => {
    const c = new OutputCapture(5);
    c.push("stdout", Buffer.from("ééé")); // 6 bytes: the cut lands inside the first é
    expect(c.finish()).toEqual({ stdout: "éé", stderr: "", truncated: true });
  });

  it("streams decoded text, joining characters split across chunks", () => {
    const seen: string[] = [];
    const c = new OutputCapture(1024, (text, stream) => seen.push(`${stream}:${text}`));
    const bytes = Buffer.from("héllo");
    c.push("stdout", bytes.subarray(0, 2));
    c.push("stdout", bytes.subarray(2));
    c.push("stderr", Buffer.from("warn"));
    c.finish();
    expect(seen.join("")).toBe("stdout:hstdout:éllostderr:warn");
  });

  it("survives a throwing listener", () => {
    const c = new OutputCapture(10, () => {
      throw new Error("listener broke");
    });
    c.push("stdout", Buffer.from("ok"));
    expect(c.finish().stdout).toBe("ok");
  });

  it("with cap 0 keeps nothing but says so", () => {
    const c = new OutputCapture(0);
    c.push("stdout", Buffer.from("x"));
    expect(c.finish()).toEqual({ stdout: "", stderr: "", truncated: true });
  });
});

describe("Semaphore", () => {
  it("runs at most `limit` at once, in arrival order", async () => {
    const s = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const tasks = [0, 1, 2, 3, 4].map((i) =>
      s.run(async () => {
        active++;
        peak = Math.max(peak, active);
        order.push(i);
        await new Promise<void>((r) => gates.push(r));
        active--;
        return i;
      }),
    );
    await new Promise((r) => setTimeout(r, 10));
    expect(s.running).toBe(2);
    expect(s.queued).toBe(3);
    while (gates.length > 0 || order.length < 5) {
      gates.shift()?.();
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(s.running).toBe(0);
  });

  it("releases the slot when work throws", async () => {
    const s = new Semaphore(1);
    await expect(s.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await s.run(async () => 7)).toBe(7);
  });
});
