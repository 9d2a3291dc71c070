/**
 * The baseline for bench/updates.ts: a bare grammY bot that answers every message with a constant
 * and does nothing else — no guards, no audit, no de-duplication, no logging per update. Run as a
 * child process exactly like opsgram, with the same polling and Bot API client setup (bounded
 * auto-retry), so the only difference the benchmark sees is opsgram's own work.
 *
 * Env: TELEGRAM_BOT_TOKEN, TELEGRAM_API_ROOT, BARE_POLLING = "runner" (default; @grammyjs/runner
 * `run(bot)` with the same fetch options as src/app.ts) or "sequential" (grammY's `bot.start()`).
 * Prints one JSON line `{"msg":"bare bot started"}` when polling, and exits on SIGTERM/SIGINT.
 *
 * Plain JavaScript, run with plain `node` as opsgram runs from dist/: no TypeScript loader in
 * either process, so memory and start-up figures compare like with like.
 */
import { autoRetry } from "@grammyjs/auto-retry";
import { run } from "@grammyjs/runner";
import { Bot, HttpError } from "grammy";

/** About as long as opsgram's /help answer, so both send similar payloads. */
const REPLY = [
  "bare bot — a constant reply. Commands:",
  "/help — this list",
  "/whoami — your user id and this chat's id",
  "/audit — last audit events: /audit [n], default 10, max 50",
].join("\n");

const token = process.env.TELEGRAM_BOT_TOKEN;
const apiRoot = process.env.TELEGRAM_API_ROOT;
const polling = process.env.BARE_POLLING ?? "runner";
if (!token || !apiRoot || (polling !== "runner" && polling !== "sequential")) {
  process.stderr.write("bare-bot: needs TELEGRAM_BOT_TOKEN, TELEGRAM_API_ROOT and BARE_POLLING=runner|sequential\n");
  process.exit(2);
}

const bot = new Bot(token, { client: { apiRoot } });
// The same Bot API client setup as opsgram (src/app.ts): a network error or a 5xx is retried a few
// times instead of losing the reply, so both bots meet a keep-alive race on the emulator alike.
bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 30, rethrowHttpErrors: false }));
bot.on("message", (ctx) => ctx.reply(REPLY));
bot.catch((error) => {
  const cause = error.error instanceof HttpError ? ` (${String(error.error.error)})` : "";
  process.stdout.write(`${JSON.stringify({ level: 50, msg: "handler failed", err: `${String(error.error)}${cause}` })}\n`);
});

await bot.init();
/** @type {() => Promise<void>} */
let stop;
if (polling === "runner") {
  // Same as src/app.ts: default concurrency (500), only the update kinds opsgram asks for.
  const runner = run(bot, { runner: { fetch: { allowed_updates: ["message", "callback_query"] } } });
  stop = async () => {
    if (runner.isRunning()) await runner.stop();
  };
} else {
  void bot.start({ allowed_updates: ["message", "callback_query"] });
  stop = () => bot.stop();
}
process.stdout.write(`${JSON.stringify({ level: 30, msg: "bare bot started", polling })}\n`);

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
