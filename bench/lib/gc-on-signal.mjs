// Preloaded with `node --expose-gc --import <this file>` by bench/footprint.ts: on SIGUSR2 the
// process runs a full garbage collection and prints one JSON line with process.memoryUsage(), so
// "memory after a GC" can be read from outside at a known moment, and RSS told apart from what
// the JS heap still holds. Plain JS: it loads before anything else.
if (typeof globalThis.gc === "function") {
  process.on("SIGUSR2", () => {
    globalThis.gc();
    process.stdout.write(`${JSON.stringify({ msg: "bench gc done", at: Date.now(), memory: process.memoryUsage() })}\n`);
  });
}
