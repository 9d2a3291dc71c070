/**
 * Audit append cost, before and after the one-statement `audit_append` function: round trips and
 * latency per `/help`-shaped write (processed_updates marker + one audit row), on loopback and
 * with Postgres 5 ms away (a delaying TCP proxy on loopback adds 5 ms to every server → client
 * chunk, i.e. +5 ms per round trip).
 *
 * Baseline = the previous code path, re-stated here: the drizzle marker insert, then one transaction
 * of BEGIN, pg_advisory_xact_lock, SELECT of the last hash, INSERT … RETURNING, COMMIT.
 *
 *   npx tsx bench/audit-append.ts [appends per mode, default 200]
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import { cpus, loadavg } from "node:os";
import { resolve } from "node:path";
import { desc, sql } from "drizzle-orm";
import { auditRowHash, GENESIS_HASH, PostgresAuditLog, toAuditJson } from "../src/infra/db/audit-log.js";
import { openDatabase, type DatabaseHandle } from "../src/infra/db/client.js";
import { migrate } from "../src/infra/db/migrate.js";
import { ProcessedUpdates } from "../src/infra/db/processed-updates.js";
import { auditEvents, processedUpdates } from "../src/infra/db/schema/index.js";
import type { AuditEventInput } from "../src/shared/ports.js";
import { startPostgres } from "../test/support/postgres.js";
import { replaceSection } from "./lib/markdown.js";
import { summarize } from "./lib/stats.js";

const N = Number(process.argv[2] ?? 200);
const DELAY_MS = 5;

/** A TCP proxy that delays server → client data by `delayMs` (in order) and counts client → server writes. */
function delayingProxy(targetPort: number, delayMs: number): Promise<{ server: Server; port: number; writes: () => number; reset(): void }> {
  let writes = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.on("data", (chunk) => {
      writes++;
      upstream.write(chunk);
    });
    let last = 0;
    upstream.on("data", (chunk) => {
      if (delayMs === 0) return void client.write(chunk);
      const at = Math.max(Date.now() + delayMs, last);
      last = at;
      setTimeout(() => client.write(chunk), at - Date.now());
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", close).on("error", close);
    upstream.on("close", close).on("error", close);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.on("close", () => sockets.forEach((s) => s.destroy()));
      resolve({ server, port, writes: () => writes, reset: () => (writes = 0) });
    }),
  );
}

const help = (i: number): AuditEventInput => ({ chatId: -1001, userId: 7, username: "oncall", action: "help", target: null, args: null, outcome: "info", operationId: null, detail: { i } });

/** The writer before this change: five round trips in a transaction. */
async function legacyAppend(handle: DatabaseHandle, event: AuditEventInput): Promise<void> {
  await handle.db.transaction(
    async (tx) => {
      await tx.execute(sql.raw("SELECT pg_advisory_xact_lock(8030045023739407617)"));
      const [last] = await tx.select({ hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.id)).limit(1);
      const fields = { createdAt: new Date(), ...event, args: toAuditJson(event.args), detail: toAuditJson(event.detail) };
      const prevHash = last?.hash ?? GENESIS_HASH;
      await tx.insert(auditEvents).values({ ...fields, prevHash, hash: auditRowHash(prevHash, fields) }).returning();
    },
    { isolationLevel: "read committed" },
  );
}

/** The marker before this change: a drizzle insert (unprepared: the driver describes first). */
async function legacyMark(handle: DatabaseHandle, updateId: number): Promise<boolean> {
  const rows = await handle.db
    .insert(processedUpdates)
    .values([{ updateId }])
    .onConflictDoNothing({ target: processedUpdates.updateId })
    .returning({ updateId: processedUpdates.updateId });
  return rows.length === 1;
}

interface Mode {
  name: string;
  run(i: number): Promise<void>;
}

async function main(): Promise<void> {
  const pg = await startPostgres();
  const results: string[] = [];
  try {
    for (const delay of [0, DELAY_MS]) {
      const url = pg.createDatabase(`bench_audit_${delay}`);
      const proxy = await delayingProxy(pg.port, delay);
      const proxied = new URL(url);
      proxied.port = String(proxy.port);
      const handle = await openDatabase({ url: proxied.toString(), dataDir: "" });
      await migrate(handle);
      const audit = new PostgresAuditLog(handle.db);
      const updates = new ProcessedUpdates(handle.db);
      let updateId = 1;
      const modes: Mode[] = [
        { name: "before: marker + transaction (BEGIN, lock, SELECT head, INSERT, COMMIT)", run: async (i) => void ((await legacyMark(handle, updateId++)) && (await legacyAppend(handle, help(i)))) },
        { name: "after: marker + audit_append()", run: async (i) => void ((await updates.markProcessed(updateId++)) && (await audit.append(help(i)))) },
        { name: "after, folded: appendOnce (marker inside audit_append())", run: async (i) => void (await audit.appendOnce(updateId++, help(i))) },
        { name: "after, keyed (HMAC): marker + audit_append()", run: async (i) => void ((await updates.markProcessed(updateId++)) && (await new PostgresAuditLog(handle.db, { hmacKey: "bench-key-0123456789abcdef" }).append(help(i)))) },
      ];
      for (const mode of modes) {
        for (let i = 0; i < 20; i++) await mode.run(i); // warm: connections open, plans cached
        proxy.reset();
        const samples: number[] = [];
        for (let i = 0; i < N; i++) {
          const t = performance.now();
          await mode.run(i);
          samples.push(performance.now() - t);
        }
        const s = summarize(samples);
        results.push(`| ${delay === 0 ? "loopback" : `+${delay} ms per round trip`} | ${mode.name} | ${(proxy.writes() / N).toFixed(1)} | ${s.p50.toFixed(2)} | ${s.p90.toFixed(2)} | ${s.mean.toFixed(2)} |`);
        process.stderr.write(`${results.at(-1)}\n`);
      }
      const chain = await new PostgresAuditLog(handle.db, { hmacKey: "bench-key-0123456789abcdef" }).verifyChain();
      if (!chain.ok) throw new Error(`chain broken after the benchmark: ${JSON.stringify(chain)}`);
      await handle.close();
      await new Promise((r) => proxy.server.close(r));
    }
  } finally {
    pg.stop();
  }
  const section = [
    `${N} sequential /help-shaped writes (update marker + one audit row) per mode, after 20 warm-up writes; Postgres 15 on`,
    `loopback, and behind a TCP proxy that delays every server → client chunk by ${DELAY_MS} ms (+${DELAY_MS} ms per round trip).`,
    "Client writes are the client → server chunks the proxy saw: one per round trip here.",
    `Load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(" / ")} on ${cpus().length} cores.`,
    "",
    "| link | writer | client writes per op (≈ round trips) | p50 ms | p90 ms | mean ms |",
    "|---|---|---|---|---|---|",
    ...results,
  ].join("\n");
  process.stdout.write(`${section}\n`);
  if (process.env.BENCH_WRITE_DOCS !== "0") replaceSection(resolve(import.meta.dirname, "../docs/BENCHMARKS.md"), "## Audit append (bench/audit-append.ts)", section);
}

await main();
