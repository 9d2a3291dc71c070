/**
 * Small in-memory fakes of the ports and repositories operations depend on, for unit tests only.
 * Every behaviour they stand in for is also tested against the real thing (test/integration).
 */
import { fileSchema, type OpsFile } from "../../src/config/file.js";
import { ChatOperations } from "../../src/bot/operations/chat-commands.js";
import { ChatReporter } from "../../src/bot/operations/chat-reporter.js";
import type { Operations } from "../../src/operations/index.js";
import type { OperationsDeps, TargetPorts } from "../../src/operations/context.js";
import { silentLogger } from "../../src/operations/model.js";
import type { Clock } from "../../src/shared/ports.js";
import { JumpClock } from "./operations-fake-clocks.js";
import { memoryRepos } from "./operations-fake-repos.js";
import { FakeDocker, FakeShell, MemoryAudit, RecordingNotifier } from "./operations-fake-ports.js";

export * from "./operations-fake-clocks.js";
export * from "./operations-fake-repos.js";
export * from "./operations-fake-ports.js";

export const alice = { chatId: -100, userId: 1, username: "alice" };
export const bob = { chatId: -100, userId: 2, username: "bob" };

/** opsgram.yml for one target `prod`, parsed by the real schema. */
export function opsConfig(target: Record<string, unknown> = {}, top: Record<string, unknown> = {}): OpsFile {
  return fileSchema.parse({
    targets: {
      prod: {
        host: "local",
        appDir: "/srv/app",
        compose: { command: "docker-compose", project: "app" },
        services: { worker: { min: 1, max: 3 } },
        ...target,
      },
    },
    ...top,
  });
}

export function makeDeps(options: { config?: OpsFile; shell?: FakeShell; docker?: FakeDocker; clock?: Clock } = {}) {
  const clock = options.clock ?? new JumpClock();
  // The fake database's clock is the test's clock: heartbeats go stale when the test moves it.
  const repos = memoryRepos(() => clock.now());
  const audit = new MemoryAudit();
  const notifier = new RecordingNotifier();
  const shell = options.shell ?? new FakeShell();
  const docker = options.docker ?? new FakeDocker();
  const config = options.config ?? opsConfig();
  const targets: Record<string, TargetPorts> = { prod: { shell, docker } };
  const deps: OperationsDeps = { repos, audit, reporter: new ChatReporter(notifier, clock, silentLogger), targets, config, clock, log: silentLogger };
  return { deps, repos, audit, notifier, shell, docker, clock, config };
}

/** The chat side over `ops`: words in, replies out, as the handlers use it. */
export function chatOf(ops: Operations): ChatOperations {
  return new ChatOperations(ops.service, ops.status, ops.targetNames, ops.restore);
}
