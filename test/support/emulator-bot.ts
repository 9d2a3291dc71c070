import { Bot, GrammyError } from "grammy";
import { afterEach, beforeEach, expect } from "vitest";
import { BotApiEmulator } from "../emulator/bot-api-emulator.js";
import { waitFor } from "./wait.js";

export const ADMIN = { id: 4242, username: "alice", first_name: "Alice" };
export const GROUP = { id: -1001234567890, type: "supergroup" as const, title: "ops" };

/** A fresh emulator and a real grammY bot pointed at it, per test; see `startBot`. */
export interface EmulatorBot {
  readonly telegram: BotApiEmulator;
  readonly bot: Bot;
  /** Real long polling, as in production (no dropping of updates enqueued before start). */
  startBot(): void;
}

/**
 * Registers beforeEach/afterEach that give every test its own emulator and bot, and check after
 * each test that the emulator itself never failed (`internalErrors`).
 */
export function useEmulatorBot(): EmulatorBot {
  let telegram: BotApiEmulator | undefined;
  let bot: Bot | undefined;
  let polling: Promise<void> | undefined;
  beforeEach(async () => {
    telegram = await BotApiEmulator.start();
    bot = new Bot(telegram.token, { client: { apiRoot: telegram.apiRoot } });
    polling = undefined;
  });
  afterEach(async () => {
    if (bot!.isRunning()) await bot!.stop();
    await polling;
    await telegram!.stop();
    expect(telegram!.internalErrors).toEqual([]);
  });
  return {
    get telegram() {
      return telegram!;
    },
    get bot() {
      return bot!;
    },
    startBot() {
      polling = bot!.start({ drop_pending_updates: false });
    },
  };
}

/** Runs `call` and returns the GrammyError it must fail with. */
export async function grammyError(call: Promise<unknown>): Promise<GrammyError> {
  const error = await call.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(GrammyError);
  return error as GrammyError;
}

/** Resolves once `condition()` holds (checked every few ms; see `waitFor`). */
export function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  return waitFor(what, () => (condition() ? true : undefined), timeoutMs, 2).then(() => undefined);
}
