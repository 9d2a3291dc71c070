// Preloaded with NODE_OPTIONS="--import <this file>" (node refuses --cpu-prof in NODE_OPTIONS):
// profiles the whole process with the V8 sampling profiler and writes a .cpuprofile into
// $BENCH_CPU_PROFILE_DIR when the process exits. Plain JS because it loads before tsx does.
import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 500 });
  session.post("Profiler.start");
  // A same-thread inspector session answers synchronously, so this works inside "exit".
  process.on("exit", () => {
    session.post("Profiler.stop", (err, result) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
