import { conversations, createConversation, type Conversation, type ConversationData, type ConversationFlavor, type VersionedStateStorage } from "@grammyjs/conversations";
import { Composer, InlineKeyboard, type Context, type Middleware } from "grammy";
import type { RequestResult, RestoreChoices, RestorePreview, RestoreRequest } from "../../operations/index.js";
import type { Refused, TargetRequest } from "../../operations/requests.js";
import type { Actor } from "../../shared/ports.js";
import { escapeHtml, formatAgo, formatBytes } from "../../shared/format.js";
import type { BotContext, BotFeature } from "../context.js";
import { parse, TargetNames, commandWords } from "../operations/parse.js";
import { header, renderPlanBody } from "../operations/render-plan.js";

/**
 * `/restore [target]` as a @grammyjs/conversations flow: pick a backup by button → see the plan →
 * type the target's name. State lives in Postgres (a restart resumes the flow); `/cancel` is
 * registered ahead of the conversation so it is never swallowed; every read or request goes
 * through `conversation.external()` with plain JSON results; only the person who started the flow
 * can press its buttons or type the name. The approval itself stays an `operations` row.
 */

/** What the flow needs from operations (RestoreService satisfies it). */
export interface RestorePort {
  choices(actor: Actor, request: TargetRequest): Promise<RestoreChoices | Refused>;
  preview(actor: Actor, request: TargetRequest & { backupId: number }): Promise<RestorePreview | Refused>;
  request(actor: Actor, request: RestoreRequest): Promise<RequestResult>;
}

export interface RestoreFlowDeps {
  restore: RestorePort;
  targetNames: readonly string[];
  storage: VersionedStateStorage<string, ConversationData>;
  /** How long the flow waits for each answer; a late answer ends it with a message. */
  waitMs: number;
}

type Outer = ConversationFlavor<BotContext>;
type RestoreConversation = Conversation<Outer, Context>;

/** Bump when the flow's code changes: old replay logs are then ignored instead of misreplayed. */
const FLOW_VERSION = 1;
const PICK = /^rs:(\d+|x)$/;
const MAX_CHOICES = 8;

/** One button per backup: "11-22 04:00 · 12.3 MB · 2 h ago · ✓ · before #12". */
export function choiceLabel(b: RestoreChoices["backups"][number], now: Date): string {
  const mark = b.drilledAt ? "🧪" : b.verified ? "✓" : "⚠ unverified";
  const when = b.createdAt.toISOString().slice(5, 16).replace("T", " ");
  const size = b.sizeBytes !== null ? formatBytes(b.sizeBytes) : "?";
  return `${when} · ${size} · ${formatAgo(b.createdAt, now)} · ${mark}${b.deploymentId !== null ? ` · before deploy #${b.deploymentId}` : ""}`;
}

type Step1 = { ok: true; buttons: { id: number; label: string }[] } | { ok: false; reason: string };
type Step2 = { ok: true; html: string } | { ok: false; reason: string };
type Step3 = { status: string; reason?: string };

async function restoreFlow(deps: RestoreFlowDeps, conversation: RestoreConversation, ctx: Context, target: string): Promise<void> {
  const uid = ctx.from?.id;
  if (uid === undefined) return;
  const first: Step1 = await conversation.external(async (o: Outer) => {
    const r = await deps.restore.choices(o.actor, { target, input: [target] });
    if (r.status === "refused") return { ok: false, reason: r.reason };
    return { ok: true, buttons: r.backups.slice(0, MAX_CHOICES).map((b) => ({ id: b.id, label: choiceLabel(b, r.now) })) };
  });
  if (!first.ok) {
    await ctx.reply(`⛔ ${first.reason}`);
    return;
  }
  const kb = new InlineKeyboard();
  for (const b of first.buttons) kb.text(b.label, `rs:${b.id}`).row();
  kb.text("Cancel", "rs:x");
  const menu = await ctx.reply(`♻ Restore <b>${escapeHtml(target)}</b>: pick a backup (newest first). /cancel stops.`, { parse_mode: "HTML", reply_markup: kb });

  const press = await conversation
    .waitForCallbackQuery(PICK, { next: true })
    .andFrom(uid, { otherwise: (c) => c.answerCallbackQuery({ text: "Only the person who started this /restore can answer it." }) })
    .and((c) => c.callbackQuery.message?.message_id === menu.message_id, { otherwise: (c) => c.answerCallbackQuery({ text: "That menu is no longer active." }) });
  await press.answerCallbackQuery();
  const picked = press.callbackQuery.data.slice(3);
  if (picked === "x") {
    await press.editMessageText(`♻ Restore ${escapeHtml(target)}: cancelled, nothing ran.`, { parse_mode: "HTML" });
    return;
  }
  const backupId = Number(picked);
  const second: Step2 = await conversation.external(async (o: Outer) => {
    const r = await deps.restore.preview(o.actor, { target, input: [target, `#${backupId}`], backupId });
    if (r.status === "refused") return { ok: false, reason: r.reason };
    return { ok: true, html: `${header("restore", { title: r.title, lockReason: "", data: r.data })}\n${renderPlanBody("restore", r.data)}` };
  });
  if (!second.ok) {
    await press.editMessageText(`⛔ ${escapeHtml(second.reason)}`, { parse_mode: "HTML" });
    return;
  }
  await press.editMessageText(`${second.html}\n\nTo confirm, type <b>${escapeHtml(target)}</b>. Anything else cancels.`, { parse_mode: "HTML" });

  const answer = await conversation.waitFor("message:text", { next: true }).andFrom(uid, { next: true });
  const typed = answer.message.text;
  const third: Step3 = await conversation.external(async (o: Outer) => {
    const r = await deps.restore.request(o.actor, { target, input: [target, `#${backupId}`], backupId, typed });
    if (r.status === "started") r.done.catch((err: unknown) => o.log.error({ err, operationId: r.operationId }, "restore crashed"));
    if (r.status === "refused") return { status: "refused", reason: r.reason };
    if (r.status === "busy") return { status: "refused", reason: `${target} is busy (${r.lock.kind}: ${r.lock.reason ?? "?"}); nothing ran.` };
    return { status: r.status };
  });
  if (third.status === "refused") await answer.reply(`⛔ ${third.reason ?? "Cancelled."}`);
}

/** Only updates a /restore flow can use reach the conversations plugin (one storage read each). */
function relevant(ctx: BotContext): boolean {
  if (ctx.callbackQuery?.data !== undefined) return PICK.test(ctx.callbackQuery.data);
  const text = ctx.message?.text;
  if (text === undefined) return false;
  return !text.startsWith("/") || /^\/(restore|cancel)(@\w+)?(\s|$)/.test(text);
}

/** The chat id behind a storage key ("flow:<chatId>"), for telling a chat its flow expired. */
export function chatOfFlowKey(key: string): number | null {
  const m = /^flow:(-?\d+)$/.exec(key);
  return m ? Number(m[1]) : null;
}

export const FLOW_EXPIRED_TEXT = "⌛ The /restore you started expired; nothing ran. Start again with /restore.";

export function createRestoreFeature(deps: RestoreFlowDeps): BotFeature {
  const targets = new TargetNames(deps.targetNames);
  return {
    name: "restore",
    commands: [
      { command: "restore", description: "restore the database from a backup: /restore [target]" },
      { command: "cancel", description: "stop a /restore in progress" },
    ],
    register(composer: Composer<BotContext>) {
      const inner = new Composer<Outer>();
      inner.use(
        conversations<Outer, Context>({
          storage: { type: "key", version: FLOW_VERSION, prefix: "flow:", adapter: deps.storage },
          // A late answer: the flow is over and the person is told so.
          onExit: async (_id, ctx) => {
            if (ctx.message?.text?.startsWith("/cancel")) return; // /cancel answers for itself
            await ctx.reply("⌛ The /restore you started has ended; nothing ran. Start again with /restore.").catch(() => undefined);
          },
        }),
      );
      // Before the conversation, or an active flow would swallow it.
      inner.command("cancel", async (ctx) => {
        const active = Object.keys(await ctx.conversation.active()).length > 0;
        await ctx.conversation.exitAll();
        await ctx.reply(active ? "Cancelled: nothing ran." : "Nothing to cancel.");
      });
      inner.use(createConversation((c: RestoreConversation, ctx: Context, target: string) => restoreFlow(deps, c, ctx, target), { id: "restore", maxMillisecondsToWait: deps.waitMs }));
      inner.command("restore", async (ctx) => {
        const parsed = parse.backups(targets, commandWords(ctx.match));
        if (!parsed.ok) {
          await ctx.reply(`⛔ ${parsed.reason.replace("/backups", "/restore")}`);
          return;
        }
        if (Object.keys(await ctx.conversation.active()).length > 0) {
          await ctx.reply("A /restore is already open in this chat: finish it or /cancel.");
          return;
        }
        await ctx.conversation.enter("restore", parsed.value.target);
      });
      composer.filter(relevant, inner as unknown as Middleware<BotContext>);
    },
  };
}
