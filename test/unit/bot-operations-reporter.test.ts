import { describe, expect, it } from "vitest";
import { ChatReporter, fitTail, renderSteps } from "../../src/bot/operations/chat-reporter.js";
import { richHtml } from "../../src/bot/operations/render-plan.js";
import { silentLogger, type OperationRecord } from "../../src/operations/model.js";
import { ManualClock, RecordingNotifier, alice, bob } from "./operations-fakes.js";

function op(patch: Partial<OperationRecord> = {}): OperationRecord {
  return {
    id: "AbCdEfGhIjKlMn_-",
    kind: "scale",
    target: "prod",
    status: "running",
    args: {},
    plan: { title: "📈 Scale worker on prod to 3", lockReason: "scale worker to 3", data: { service: "worker", replicas: 3, before: 1, bounds: { min: 1, max: 3 }, verifyTimeoutMs: 120_000 } },
    result: null,
    chatId: -100,
    messageId: 1,
    requestedBy: alice.userId,
    requestedByName: alice.username,
    confirmedBy: null,
    createdAt: new Date(0),
    expiresAt: null,
    confirmedAt: null,
    startedAt: null,
    finishedAt: null,
    heartbeatAt: null,
    error: null,
    ...patch,
  };
}

describe("ChatReporter", () => {
  it("shows a plan with its body, who asked, the expiry and the two buttons", async () => {
    const notifier = new RecordingNotifier();
    const reporter = new ChatReporter(notifier, new ManualClock(), silentLogger);
    const sent = await reporter.planned(op({ status: "awaiting_confirmation" }), { requester: alice, expiresInSeconds: 300, fourEyes: true });
    expect(sent).not.toBeNull();
    const text = notifier.messages[0]!.texts[0]!;
    expect(text).toBe(
      "<b>📈 Scale worker on prod to 3</b>\nworker 1 → 3\nworker: 1 → 3 running (allowed 1–3)\nSteps: up -d --no-recreate --scale worker=3 · verify 3 running/healthy (≤ 2 min 0 s)\nThe count is kept: later deploys and rollbacks pass it to compose.\n<i>Requested by @alice · expires in 5 min · someone else must confirm</i>",
    );
    expect(notifier.messages[0]!.options[0]?.buttons?.flat().map((b) => b.data)).toEqual(["op:c:AbCdEfGhIjKlMn_-", "op:x:AbCdEfGhIjKlMn_-"]);
  });

  it("ends a failure with the step's last lines (escaped, bounded) and sends the whole output as a file", async () => {
    const notifier = new RecordingNotifier();
    const reporter = new ChatReporter(notifier, new ManualClock(), silentLogger);
    await notifier.send(-100, "plan");
    const output = Array.from({ length: 50 }, (_, i) => `line ${i} <b>`).join("\n");
    await reporter.finished(op(), {
      steps: [{ title: "scale worker=3", state: "failed" }],
      note: null,
      confirmedBy: bob,
      outcome: { status: "failed", summary: ["failed at ", { code: "scale" }, ": exited 1 <oops>"] },
      durationMs: 2_500,
      failure: { id: "scale", title: "scale worker=3", message: "exited 1", output },
    });
    const text = notifier.last(1);
    expect(text).toContain("confirmed by @bob\n✗ scale worker=3\n❌ failed at <code>scale</code>: exited 1 &lt;oops&gt; in 2.5 s");
    expect(text).toContain("<b>scale worker=3</b>, last lines:\n<pre>line 30 &lt;b&gt;");
    expect(text).not.toContain("line 29 ");
    expect(notifier.documents).toEqual([{ chatId: -100, filename: "scale-prod-AbCdEfGhIjKlMn_--scale.log", content: output, caption: "📈 Scale worker on prod to 3: full output of “scale worker=3”" }]);
  });

  it("renders result text and steps escaped, and cuts a long tail at a line", () => {
    expect(richHtml(["a <b> ", { code: "x&y" }])).toBe("a &lt;b&gt; <code>x&amp;y</code>");
    expect(renderSteps([{ title: "up", state: "done", summary: "<up>" }, { title: "health", state: "pending" }])).toBe("✓ &lt;up&gt; · ○ health");
    expect(fitTail("aaaa\nbbbb\ncccc", 9)).toBe("cccc");
    expect(fitTail("short", 9)).toBe("short");
  });
});

describe("ChatReporter's durable path", () => {
  const snapshot = { steps: [{ id: "up", title: "up", state: "failed" as const }], note: null, confirmedBy: bob };

  it("a final result whose edit is lost (a 429 past its retries) is queued durably for the same chat", async () => {
    const notifier = new RecordingNotifier();
    notifier.edit = async () => {
      throw new Error("429: Too Many Requests");
    };
    const queued: { chatIds: readonly number[] | null; html: string }[] = [];
    const reporter = new ChatReporter(notifier, new ManualClock(), silentLogger, { notice: async (chatIds, html) => void queued.push({ chatIds, html }), alertChatIds: [-100] });
    await reporter.finished(op(), { ...snapshot, outcome: { status: "failed", summary: ["failed at up"] }, durationMs: 3_000, failure: null });
    expect(queued).toHaveLength(1);
    expect(queued[0]!.chatIds).toEqual([-100]);
    expect(queued[0]!.html).toMatch(/❌ failed at up in 3\.0 s/);
  });

  it("a delivered edit queues nothing; a frozen target goes to the alert chats (not twice to the operation's chat) with [Unlock] in the operation's chat", async () => {
    const notifier = new RecordingNotifier();
    notifier.messages.push({ chatId: -100, messageId: 1, texts: ["progress"], options: [undefined] });
    const queued: { chatIds: readonly number[] | null; html: string }[] = [];
    const reporter = new ChatReporter(notifier, new ManualClock(), silentLogger, { notice: async (chatIds, html) => void queued.push({ chatIds, html }), alertChatIds: [-100, -555] });
    const frozen = { target: "prod", version: 3, reason: "rollback to 1111111 failed at build", state: { ok: true as const, headSha: "1".repeat(40), containers: "web 0/1" } };
    await reporter.finished(op(), { ...snapshot, outcome: { status: "failed", summary: ["rollback failed"] }, durationMs: 1_000, failure: null, frozen });
    expect(queued.map((q) => q.chatIds)).toEqual([[-555]]);
    expect(queued[0]!.html).toContain("🧊 <b>prod is frozen</b>: rollback to 1111111 failed at build");
    const inChat = notifier.messages.at(-1)!;
    expect(inChat.chatId).toBe(-100);
    expect(inChat.options[0]?.buttons).toEqual([[{ text: "🔓 Unlock", data: "fz:u:3:prod" }]]);
  });
});
