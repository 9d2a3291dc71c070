/** What lease.test.ts shares with the unit fakes: the recording notifier, the chat side, the people. */
export { RecordingNotifier, alice, bob, chatOf } from "../unit/operations-fakes.js";
export const carol = { chatId: -200, userId: 3, username: "carol" };
