/** What lease.test.ts shares with the unit fakes: the recording notifier, the chat side, the people. */
export { RecordingNotifier, alice, bob, chatOf } from "../unit/operations-fakes.js";
export const carol = { chatId: -200, userId: 3, username: "carol" };

import { alertRenderer } from "../../src/bot/alerts/render.js";
import type { Db } from "../../src/infra/db/client.js";
import { createHealthStores, HealthReaders } from "../../src/infra/db/repos/health-readers.js";

/** health/'s stores and readers over `db`, as app.ts wires them. */
export function healthPorts(db: Db) {
  const readers = new HealthReaders(db);
  return { stores: createHealthStores(db), backups: readers, payouts: readers, render: alertRenderer };
}
