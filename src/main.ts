import { existsSync } from "node:fs";
import { checkFilePermissions, secretFiles } from "./config/file-permissions.js";
import { loadConfig } from "./config/load.js";
import { registerSecret } from "./shared/redact.js";
import { createLogger } from "./infra/logger.js";
import { renderProblems, SetupError } from "./startup-error.js";
import { checkSetup, startApp, type RunningApp } from "./app.js";

const EXIT_SETUP = 2;

/**
 * Entry point: `npm start` runs the bot; `npm start -- --check` validates env, opsgram.yml, the
 * database and the token (getMe), then exits 0 or 2.
 */
async function main(argv: readonly string[]): Promise<void> {
  if (existsSync(".env")) process.loadEnvFile(".env");
  const loaded = loadConfig(process.env);
  if (!loaded.ok) {
    process.stderr.write(renderProblems(loaded.problems));
    process.exit(EXIT_SETUP);
  }
  const { config } = loaded;
  // Like ssh with a loose key: secrets others can read are refused before anything uses them.
  const loose = checkFilePermissions(secretFiles(config, existsSync(".env") ? ".env" : null));
  if (loose.length > 0) {
    process.stderr.write(renderProblems(loose));
    process.exit(EXIT_SETUP);
  }
  if (config.env.auditHmacKey) registerSecret(config.env.auditHmacKey);
  const log = createLogger({ level: config.env.logLevel });
  try {
    if (argv.includes("--check")) {
      const summary = await checkSetup(config, log);
      process.stdout.write(`${summary.join("\n")}\n`);
      process.exit(0);
    }
    let stopping = false;
    let app: RunningApp | undefined;
    const shutdown = (reason: string, exitCode: number) => {
      if (stopping) return;
      stopping = true;
      log.info({ reason }, "shutting down");
      (app ? app.stop() : Promise.resolve()).then(
        () => process.exit(exitCode),
        (err: unknown) => {
          log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.on("unhandledRejection", (err) => log.error({ err }, "unhandled promise rejection"));
    app = await startApp(config, log, { onFatal: () => shutdown("update polling stopped", 1) });
    process.on("SIGTERM", () => shutdown("SIGTERM", 0));
    process.on("SIGINT", () => shutdown("SIGINT", 0));
  } catch (err) {
    if (err instanceof SetupError) {
      process.stderr.write(renderProblems(err.problems));
      process.exit(EXIT_SETUP);
    }
    log.fatal({ err }, "opsgram failed to start");
    process.exit(1);
  }
}

await main(process.argv.slice(2));
