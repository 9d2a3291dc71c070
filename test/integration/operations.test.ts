/**
 * Guarded operations against the real thing: a Postgres database for the bot, and the sandbox VPS
 * (sshd with a pinned key, dockerd running the compose app from a git checkout, the app's Postgres,
 * Redis). Goes through the OperationsService with a recording Notifier; the bot process itself is
 * covered by the e2e tests through the emulator.
 *
 * One sandbox for the whole file; tests run in order and each leaves the target as the next expects.
 */
import { useOperationsEnv } from "./operations-env.js";
import { deployTests } from "./operations/deploy.js";
import { scaleBackupPayoutsTests } from "./operations/scale-backup-payouts.js";
import { approvalsTests } from "./operations/approvals.js";
import { throughBotTests } from "./operations/through-bot.js";

// One sandbox for every group (starting one costs ~10 s); the groups live in operations/, one file each.
useOperationsEnv();
deployTests();
scaleBackupPayoutsTests();
approvalsTests();
throughBotTests();
