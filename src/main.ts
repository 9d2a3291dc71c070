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
  // `${VAR}` values substituted into check headers: masked in every log line, chat text and audit detail.
  for (const secret of config.secrets) registerSecret(secret);
  const log = createLogger({ level: config.env.logLevel });
  let stoppedBeforeStart: number | undefined;
  try {
    if (argv.includes("--check")) {
      const summary = await checkSetup(config, log);
      process.stdout.write(`${summary.join("\n")}\n`);
      process.exit(0);
    }
    let stopping = false;
    let app: RunningApp | undefined;
    // A standby waits inside startApp for leadership; a signal must end that wait too.
    const starting = new AbortController();
    const shutdown = (reason: string, exitCode: number) => {
      if (stopping) return;
      stopping = true;
      log.info({ reason }, "shutting down");
      if (!app) {
        starting.abort(new Error(reason));
        // startApp closes what it opened and rejects; exit with this code, not as a failed start.
        stoppedBeforeStart = exitCode;
        return;
      }
      (app ? app.stop() : Promise.resolve()).then(
        () => process.exit(exitCode),
        (err: unknown) => {
          log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.on("unhandledRejection", (err) => log.error({ err }, "unhandled promise rejection"));
    process.on("SIGTERM", () => shutdown("SIGTERM", 0));
    process.on("SIGINT", () => shutdown("SIGINT", 0));
    app = await startApp(config, log, {
      onFatal: (err) => shutdown(err.name === "LeadershipLostError" ? err.message : "update polling stopped", 1),
      signal: starting.signal,
    });
    if (stopping) {
      // Told to stop (or leadership lost) while the last start steps ran.
      await app.stop();
      process.exit(stoppedBeforeStart ?? 1);
    }
  } catch (err) {
    if (stoppedBeforeStart !== undefined) process.exit(stoppedBeforeStart);
    if (err instanceof SetupError) {
      process.stderr.write(renderProblems(err.problems));
      process.exit(EXIT_SETUP);
    }
    log.fatal({ err }, "opsgram failed to start");
    process.exit(1);
  }
}

await main(process.argv.slice(2));
