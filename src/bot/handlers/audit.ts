import type { Composer } from "grammy";
import type { Actor, AuditLog } from "../../shared/ports.js";
import type { BotContext, BotFeature } from "../context.js";

/** What `/audit verify` learns from walking the chain (infra's ChainVerification has this shape). */
export type AuditVerdict =
  | { ok: true; count: number; headHash: string; keyedFromId: number | null; digestsChecked: number }
  | { ok: false; brokenAtId: number; kind: string; reason: string; digestId?: number; count: number };

/** The audit chain as this feature needs it. */
export interface AuditChain {
  verifyChain(options: { onProgress?(checked: number, total: number): void }): Promise<AuditVerdict>;
}

/** Publishes `🔏 audit digest: …` to the alert chats and records it. */
export interface DigestPublisher {
  publish(reason: "manual", by: Actor): Promise<{ id: number; text: string; deliveredTo: number[] }>;
}

export interface AuditFeatureDeps {
  audit: AuditLog;
  chain: AuditChain;
  digests: DigestPublisher;
  /** Milliseconds between progress edits of a long verification. Default 2000. */
  progressEveryMs?: number;
  now?: () => number;
}

const hashPrefix = (hash: string) => hash.slice(0, 16);
const n = (count: number) => count.toLocaleString("en-US");

/** The final message of `/audit verify`. First line as documented; details after it. */
export function verdictText(v: AuditVerdict): string {
  if (!v.ok) return `❌ row #${v.brokenAtId}: ${v.reason}\n${n(v.count)} rows before it verified.`;
  const lines = [`✅ audit chain intact: ${n(v.count)} rows, head ${hashPrefix(v.headHash)}`];
  lines.push(v.digestsChecked > 0 ? `matches all ${n(v.digestsChecked)} published digest${v.digestsChecked === 1 ? "" : "s"}` : "no digest published yet: /audit digest");
  if (v.keyedFromId !== null) lines.push(`keyed (HMAC) from row #${v.keyedFromId}`);
  return lines.join("\n");
}

/**
 * `/audit verify` recomputes the whole chain in the background (progress edits for a long one)
 * and checks it against every published digest; `/audit digest` publishes a digest now. Both are
 * admin-only (the role gate in bot.ts, roles.ts) and audited before they act. The plain `/audit [n]`
 * listing stays in bot.ts, which passes these two words on.
 */
export function createAuditFeature(deps: AuditFeatureDeps): BotFeature {
  const now = deps.now ?? Date.now;
  const every = deps.progressEveryMs ?? 2000;
  const who = (ctx: BotContext) => ({ chatId: ctx.actor.chatId, userId: ctx.actor.userId, username: ctx.actor.username });

  async function verify(ctx: BotContext): Promise<void> {
    await deps.audit.append({ ...who(ctx), action: "audit.verify", target: null, args: null, outcome: "started", operationId: null, detail: null });
    const message = await ctx.reply("🔎 verifying the audit chain…");
    const edit = (text: string) => ctx.api.editMessageText(message.chat.id, message.message_id, text);
    // In the background: a long chain must not hold this chat's updates.
    void (async () => {
      let lastEdit = now();
      let editing: Promise<unknown> = Promise.resolve();
      const verdict = await deps.chain.verifyChain({
        onProgress(checked, total) {
          if (now() - lastEdit < every || checked >= total) return;
          lastEdit = now();
          const text = `🔎 verifying the audit chain: ${n(checked)} of ${n(total)} rows…`;
          // Chained, so progress edits land in order and all before the verdict.
          editing = editing.then(() => edit(text)).catch(() => {});
        },
      });
      await editing;
      await deps.audit.append({
        ...who(ctx),
        action: "audit.verify",
        target: null,
        args: null,
        outcome: verdict.ok ? "succeeded" : "failed",
        operationId: null,
        detail: verdict.ok
          ? { rows: verdict.count, head: verdict.headHash, digests: verdict.digestsChecked }
          : { row: verdict.brokenAtId, kind: verdict.kind, reason: verdict.reason, digest: verdict.digestId ?? null },
      });
      await edit(verdictText(verdict));
    })().catch(async (err: unknown) => {
      ctx.log.error({ err }, "audit verification failed");
      await edit("⚠️ could not verify the audit chain; the error is in the bot's log.").catch(() => {});
    });
  }

  async function digest(ctx: BotContext): Promise<void> {
    const published = await deps.digests.publish("manual", ctx.actor);
    // The alert chats got the digest; tell the asker too unless this chat is one of them.
    if (!published.deliveredTo.includes(ctx.actor.chatId)) await ctx.reply(published.text);
  }

  return {
    name: "audit",
    commands: [],
    register(composer: Composer<BotContext>) {
      composer.command("audit", async (ctx, next) => {
        const word = ctx.match.trim().toLowerCase();
        if (word === "verify") return verify(ctx);
        if (word === "digest") return digest(ctx);
        return next();
      });
    },
  };
}
