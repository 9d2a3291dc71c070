/**
 * Starts a sandbox for benchmarks and manual poking, prints it as JSON (plus `startupMs`), and
 * stops it on SIGINT/SIGTERM:
 *
 *   npx tsx test/sandbox/cli.ts [--postgres-url postgres://…]
 */
import { sandboxInfo, startSandbox, type Sandbox } from "./index.js";

function postgresUrlArgument(argv: string[]): string | undefined {
  const at = argv.indexOf("--postgres-url");
  return at >= 0 ? argv[at + 1] : undefined;
}

async function main(): Promise<void> {
  const began = performance.now();
  const postgresUrl = postgresUrlArgument(process.argv.slice(2));
  const sandbox: Sandbox = await startSandbox(postgresUrl ? { postgresUrl } : {});
  const startupMs = Math.round(performance.now() - began);
  process.stdout.write(`${JSON.stringify({ ...sandboxInfo(sandbox), startupMs }, null, 2)}\n`);

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal}: stopping sandbox…\n`);
    sandbox.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  // The daemons are unref'd children; keep this process alive until a signal arrives.
  setInterval(() => {}, 1 << 30);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
