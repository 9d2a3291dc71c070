/**
 * /status latency benchmark (issue 3, "Benchmark"): opsgram's /status against a shell script that
 * gets the same facts with plain OpenSSH, in the same run, on the sandbox VPS (127.0.0.1 only).
 *
 *   cd /work/main && npx tsx bench/status.ts              # measure, print, update docs/BENCHMARKS.md
 *   npx tsx bench/status.ts --no-write                     # do not touch docs/BENCHMARKS.md
 *   npx tsx bench/status.ts --warm 30 --cold 10            # iteration counts (defaults)
 *
 * What is timed:
 *   - opsgram, full bot path (what the user waits for): the admin's `/status` update enqueued at the
 *     Bot API emulator → the bot's reply recorded by the emulator. The bot is grammY + @grammyjs/runner
 *     long polling, allowlist guard, de-duplication and audit on Postgres, StatusService over the
 *     pooled pinned ssh2 connection (git over exec channels, Docker API over the forwarded socket).
 *   - opsgram, StatusService.status() alone: the same work without Telegram, to split the two.
 *   - warm: the connection is reused (one untimed warm-up first); cold: a fresh
 *     createTargetConnections before each iteration, so the SSH handshake is paid every time.
 *   - baseline: bench script `status-baseline.sh` — two `ssh <pinned> host '…'` calls, one for
 *     `docker ps`, one for `git rev-parse HEAD; git log -1; git describe --exact-match`, each a new
 *     OpenSSH connection as a script makes them.
 * Warm opsgram, service-only and baseline iterations are interleaved (rotating order) so load from
 * other work on the machine hits all of them alike.
 *
 * Goal (issue 3): warm /status p50 ≤ 0.5 × the baseline script's p50 (judged on the full bot path).
 */
import { lookupTarget } from "../src/operations/targets.js";
import { renderStatus } from "../src/bot/operations/render-status.js";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { composeProjectName } from "../src/commands/compose.js";
import { toCommandLine, quoteArg } from "../src/commands/quote.js";
import type { SshShell } from "../src/infra/ssh/shell.js";
import { readHead, readHeadTag } from "../src/operations/git-state.js";
import { Cleanup, runAndExit } from "./lib/cleanup.js";
import { markdownTable, replaceSection, rawJsonDetails } from "./lib/markdown.js";
import { startVpsHarness, ADMIN_GROUP, ONCALL, TARGET, type VpsHarness } from "./lib/vps-harness.js";
import {
  describeMachine,
  fmtLoad,
  fmtMs,
  machineInfo,
  percentiles,
  round,
  runScript,
  sampleLoad,
  sshCommand,
  writeScript,
  type Percentiles,
} from "./lib/vps-measure.js";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  const value = i === -1 ? fallback : Number(args[i + 1]);
  if (!Number.isInteger(value) || value <= 0 || value > 1000) throw new Error(`${name} needs a positive integer`);
  return value;
};
const N_WARM = option("--warm", 30);
const N_COLD = option("--cold", 10);
const WRITE_DOCS = !args.includes("--no-write");
const TIME_LIMIT_MS = 600_000;
const REPLY_TIMEOUT_MS = 15_000;
const GOAL_RATIO = 0.5;

const cleanup = new Cleanup();
const disarm = cleanup.armExits(TIME_LIMIT_MS);
const log = (line: string) => process.stdout.write(`${line}\n`);

/** The operator's script: the same facts /status shows about git and the containers. */
function baselineScript(h: VpsHarness): string {
  const ssh = sshCommand(h.sandbox);
  const project = composeProjectName(h.config.targets[TARGET]!);
  const app = h.sandbox.appDir;
  const dockerPs = toCommandLine(["docker", "ps", "-a", "--filter", `label=com.docker.compose.project=${project}`, "--format", "{{.Names}}\t{{.Status}}\t{{.Image}}"]);
  const git = [
    toCommandLine(["git", "-C", app, "rev-parse", "HEAD"]),
    toCommandLine(["git", "-C", app, "log", "-1", "--format=%h %s"]),
    `${toCommandLine(["git", "-C", app, "describe", "--tags", "--exact-match", "HEAD"])} 2>/dev/null || true`,
  ].join("; ");
  return writeScript(h.scratch, "status-baseline.sh", `${ssh} ${quoteArg(dockerPs)}\n${ssh} ${quoteArg(git)}\n`);
}

interface Samples {
  botWarm: number[];
  serviceWarm: number[];
  baseline: number[];
  botCold: number[];
  serviceCold: number[];
  sshTrue: number[];
  /** bash -c true as sshd runs it (SSH_CLIENT set: Debian's bash then sources ~/.bashrc) vs without. */
  shellAsSshd: number[];
  shellPlain: number[];
  parts: { git: number[]; docker: number[]; database: number[] };
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine = machineInfo();
  log(describeMachine("bench/status.ts", machine));
  const h = await startVpsHarness(cleanup);
  log(`sandbox up in ${round((Date.now() - started) / 1000, 1)} s (sshd 127.0.0.1:${h.sandbox.ssh.port}, app ${h.sandbox.appDir})`);
  const liveSha = h.sandbox.versions.v1.slice(0, 7);
  const target = lookupTarget({ config: h.config, targets: { [TARGET]: h.connections() } }, TARGET)!;
  const project = composeProjectName(h.config.targets[TARGET]!);
  const admin = { chatId: ADMIN_GROUP.id, userId: ONCALL.id, username: ONCALL.username };
  const script = baselineScript(h);
  const sshTrue = writeScript(h.scratch, "ssh-true.sh", `${sshCommand(h.sandbox)} true`);
  // What every command sent over SSH pays on the target before it runs: sshd starts the user's login
  // shell with -c, and Debian's bash sources ~/.bashrc when SSH_CLIENT is set.
  const shellAsSshd = writeScript(h.scratch, "shell-as-sshd.sh", `env -i HOME="$HOME" PATH=/usr/bin:/bin SSH_CLIENT="127.0.0.1 1 22" "$(getent passwd ${h.sandbox.ssh.username} | cut -d: -f7)" -c true`);
  const shellPlain = writeScript(h.scratch, "shell-plain.sh", `env -i HOME="$HOME" PATH=/usr/bin:/bin "$(getent passwd ${h.sandbox.ssh.username} | cut -d: -f7)" -c true`);

  const check = (text: string, where: string) => {
    if (!text.includes(liveSha) || !/web 1\/1/.test(text)) throw new Error(`${where}: /status did not show the live commit and web 1/1:\n${text}`);
  };
  const viaBot = async (): Promise<number> => {
    const sentAt = h.command("/status");
    const reply = await h.waitForMessage((m) => m.chatId === ADMIN_GROUP.id && /^prod\b/.test(m.text), REPLY_TIMEOUT_MS);
    check(reply.text, "bot");
    return reply.sentAt.getTime() - sentAt;
  };
  const viaService = async (): Promise<number> => {
    const t0 = performance.now();
    const reply = await h.ops.status.status(admin, { target: TARGET, input: [] });
    const ms = performance.now() - t0;
    if (reply.status !== "ok") throw new Error(`StatusService refused: ${JSON.stringify(reply)}`);
    check(renderStatus(reply.value), "service");
    return ms;
  };
  const viaBaseline = async (): Promise<number> => {
    const run = await runScript(script, [], { timeoutMs: 30_000 });
    if (!run.stdout.includes(h.sandbox.versions.v1) || !/web.*Up.*healthy/.test(run.stdout)) throw new Error(`baseline output lacks the sha or web:\n${run.stdout}`);
    return run.ms;
  };
  const timed = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };

  // Warm-up: opens the SSH connection and the Docker socket forward, JITs the paths, fills caches.
  await viaBot();
  await viaService();
  await viaBaseline();

  const s: Samples = { botWarm: [], serviceWarm: [], baseline: [], botCold: [], serviceCold: [], sshTrue: [], shellAsSshd: [], shellPlain: [], parts: { git: [], docker: [], database: [] } };
  const load = sampleLoad();
  const connectsBeforeWarm = (h.connections().shell as SshShell).connection.connectCount;
  log(`warm: ${N_WARM} iterations of bot /status, StatusService.status() and the baseline script, interleaved`);
  const kinds = ["bot", "service", "baseline"] as const;
  for (let i = 0; i < N_WARM; i++) {
    const order = [...kinds.slice(i % 3), ...kinds.slice(0, i % 3)];
    for (const kind of order) {
      if (kind === "bot") s.botWarm.push(await viaBot());
      else if (kind === "service") s.serviceWarm.push(await viaService());
      else s.baseline.push(await viaBaseline());
    }
    // Where the time of the service goes: each part alone, on the warm connection.
    s.parts.git.push(await timed(() => Promise.all([readHead(target), readHeadTag(target)])));
    s.parts.docker.push(await timed(() => target.ports.docker.listContainers(project)));
    s.parts.database.push(
      await timed(() => Promise.all([h.repos.deployments.latest(TARGET), h.ops.locks.current(TARGET), h.repos.payouts.get(TARGET), h.repos.backups.lastSucceeded(TARGET)])),
    );
  }

  const warmReconnects = (h.connections().shell as SshShell).connection.connectCount - connectsBeforeWarm;
  if (warmReconnects !== 0) throw new Error(`the warm iterations reconnected ${warmReconnects} times: they were not warm`);
  log(`cold: ${N_COLD} iterations, each after a fresh createTargetConnections (bot path and service alone), plus plain \`ssh host true\``);
  for (let i = 0; i < N_COLD; i++) {
    await h.freshConnections();
    s.botCold.push(await viaBot());
    await h.freshConnections();
    s.serviceCold.push(await viaService());
    s.sshTrue.push((await runScript(sshTrue, [], { timeoutMs: 30_000 })).ms);
    s.shellAsSshd.push((await runScript(shellAsSshd, [], { timeoutMs: 30_000 })).ms);
    s.shellPlain.push((await runScript(shellPlain, [], { timeoutMs: 30_000 })).ms);
  }
  const loadDuring = load.stop();
  // The in-process bot answered every update and the emulator saw no protocol errors.
  await h.emulator.waitUntilIdle(10_000);
  if (h.emulator.internalErrors.length > 0) throw new Error(`emulator internal errors: ${h.emulator.internalErrors.map((e) => e.message).join("; ")}`);

  const r = {
    botWarm: percentiles(s.botWarm),
    serviceWarm: percentiles(s.serviceWarm),
    baseline: percentiles(s.baseline),
    botCold: percentiles(s.botCold),
    serviceCold: percentiles(s.serviceCold),
    sshTrue: percentiles(s.sshTrue),
    shellAsSshd: percentiles(s.shellAsSshd),
    shellPlain: percentiles(s.shellPlain),
    parts: { git: percentiles(s.parts.git), docker: percentiles(s.parts.docker), database: percentiles(s.parts.database) },
  };
  const ratio = r.botWarm.p50 / r.baseline.p50;
  const pass = ratio <= GOAL_RATIO;
  const seconds = (Date.now() - started) / 1000;

  const row = (what: string, p: Percentiles, goal = "", verdict = "") => [
    what,
    String(p.n),
    fmtMs(p.p50),
    fmtMs(p.p95),
    what.startsWith("baseline") ? "1.00" : (p.p50 / r.baseline.p50).toFixed(2),
    goal,
    verdict,
  ];
  const table = markdownTable(
    ["measurement", "n", "p50", "p95", "p50 ÷ baseline p50", "goal", "verdict"],
    [
      row("**opsgram /status, warm — full bot path (user's wait)**", r.botWarm, `≤ ${GOAL_RATIO}`, pass ? "**PASS**" : "**MISS**"),
      row("opsgram StatusService.status(), warm (no Telegram)", r.serviceWarm),
      row("opsgram /status, cold (new SSH connection) — full bot path", r.botCold),
      row("opsgram StatusService.status(), cold", r.serviceCold),
      row("baseline script: 2 × `ssh host …` (docker ps; git rev-parse/log/describe)", r.baseline),
      row("reference: one `ssh host true` (OpenSSH connect + auth + exit)", r.sshTrue),
      row("reference: the target's login shell `-c true` started as sshd starts it (sources ~/.bashrc)", r.shellAsSshd),
      row("reference: the same shell `-c true` without SSH_CLIENT (no rc file)", r.shellPlain),
    ],
  );
  const partsTable = markdownTable(
    ["part of the warm service call (run alone; /status runs them in parallel)", "n", "p50", "p95"],
    [
      ["git: `git log -1` + `git describe --exact-match` (2 exec channels)", String(r.parts.git.n), fmtMs(r.parts.git.p50), fmtMs(r.parts.git.p95)],
      ["docker: list the project's containers (API over the forwarded socket)", String(r.parts.docker.n), fmtMs(r.parts.docker.p50), fmtMs(r.parts.docker.p95)],
      ["database: last deploy, lock, payouts, last backup (4 queries)", String(r.parts.database.n), fmtMs(r.parts.database.p50), fmtMs(r.parts.database.p95)],
    ],
  );
  const json = {
    benchmark: "bench/status.ts",
    date: new Date().toISOString(),
    machine,
    loadDuringMeasurements: loadDuring,
    settings: { warmIterations: N_WARM, coldIterations: N_COLD, warmup: 1, reconnectsDuringWarm: warmReconnects },
    goal: { metric: "warm /status p50 (full bot path) ÷ baseline script p50", max: GOAL_RATIO, ratio: round(ratio, 3), pass },
    results: r,
    samplesMs: {
      botWarm: s.botWarm.map((x) => round(x, 1)),
      serviceWarm: s.serviceWarm.map((x) => round(x, 1)),
      baseline: s.baseline.map((x) => round(x, 1)),
      botCold: s.botCold.map((x) => round(x, 1)),
      serviceCold: s.serviceCold.map((x) => round(x, 1)),
      sshTrue: s.sshTrue.map((x) => round(x, 1)),
      shellAsSshd: s.shellAsSshd.map((x) => round(x, 1)),
      shellPlain: s.shellPlain.map((x) => round(x, 1)),
      git: s.parts.git.map((x) => round(x, 1)),
      docker: s.parts.docker.map((x) => round(x, 1)),
      database: s.parts.database.map((x) => round(x, 1)),
    },
  };
  log(`\n${table}\n\n${partsTable}\n`);
  log(`load average (1 min) during the measurements: ${fmtLoad(loadDuring)} on ${machine.cores} cores`);
  log(`verdict: warm p50 ${fmtMs(r.botWarm.p50)} = ${ratio.toFixed(2)} × baseline p50 ${fmtMs(r.baseline.p50)} (goal ≤ ${GOAL_RATIO}) → ${pass ? "PASS" : "MISS"}`);
  log(`\nJSON:\n${JSON.stringify(json)}`);

  // Name what the target's rc file does when it is the well-known slow case (version managers).
  const rcText = (() => {
    try {
      const home = execFileSync("getent", ["passwd", h.sandbox.ssh.username], { encoding: "utf8" }).split(":")[5]!;
      return readFileSync(join(home, ".bashrc"), "utf8");
    } catch {
      return "";
    }
  })();
  const rcNote = /pyenv init/.test(rcText) ? ` (the ssh user's ~/.bashrc runs \`pyenv init\`)` : "";
  const rcDominates = r.shellAsSshd.p50 > 100 && r.shellAsSshd.p50 > 3 * r.shellPlain.p50;
  const section = [
    `Run with \`npx tsx bench/status.ts\` (${round(seconds)} s, ${json.date.slice(0, 16).replace("T", " ")} UTC). Machine: ${machine.cores} cores (${machine.cpu}), Node ${machine.node};`,
    `1-minute load average ${fmtLoad(loadDuring)} during the measurements (other people's tests share the machine; the baseline is interleaved with opsgram so both see the same load).`,
    "",
    "Everything runs on 127.0.0.1: the sandbox VPS (`test/sandbox`: pinned sshd, dockerd with the compose app web + worker, git checkout at v1), a real Postgres 15 for the bot,",
    "and the bot composed as in `src/app.ts` (grammY + @grammyjs/runner, allowlist guard, de-duplication and audit on Postgres, StatusService over one pooled pinned ssh2 connection)",
    "polling the Bot API emulator in the benchmark process. **The goal is judged on the full bot path**: the `/status` update enqueued at the emulator → the reply recorded by it, i.e.",
    "what the user waits for minus Telegram's own network hops. `StatusService.status()` alone is shown to separate Telegram handling from the work.",
    `Warm: one untimed warm-up, then ${N_WARM} iterations with the connection reused; cold: ${N_COLD} iterations, each after a fresh \`createTargetConnections\` (SSH handshake, auth, host-key check and Docker socket forward paid every time).`,
    "Baseline: `status-baseline.sh`, what an operator types — `ssh <pinned args> host 'docker ps -a --filter label=com.docker.compose.project=… --format …'` then",
    "`ssh <pinned args> host 'git -C <appDir> rev-parse HEAD; git -C <appDir> log -1 --format=\"%h %s\"; git -C <appDir> describe --tags --exact-match HEAD'`, a new OpenSSH connection per command;",
    "timed from spawn to exit. p95 is nearest-rank (with n = 10 it is the maximum).",
    "",
    table,
    "",
    partsTable,
    "",
    `Verdict: warm /status p50 ${fmtMs(r.botWarm.p50)} is ${ratio.toFixed(2)} × the baseline script's ${fmtMs(r.baseline.p50)} — goal ≤ ${GOAL_RATIO}: **${pass ? "PASS" : "MISS"}**.`,
    "",
    `Where the time goes: /status runs its parts in parallel, so it costs about its slowest part, the git reads (p50 ${fmtMs(r.parts.git.p50)} for two exec channels run side by side; Docker ${fmtMs(r.parts.docker.p50)}, database ${fmtMs(r.parts.database.p50)}).`,
    `Every command sent over SSH — opsgram's exec channels and the script's \`ssh host cmd\` alike — first starts the target user's login shell, and Debian's bash sources ~/.bashrc when sshd starts it:`,
    `here p50 ${fmtMs(r.shellAsSshd.p50)} per command against ${fmtMs(r.shellPlain.p50)} without it${rcNote}.${rcDominates ? " That start-up, not the SSH transport, dominates both sides;" : ""}`,
    `the baseline pays it twice in a row plus two OpenSSH handshakes (\`ssh host true\` p50 ${fmtMs(r.sshTrue.p50)}), opsgram pays it twice in parallel on a connection that is already open.`,
    `Cold /status adds the ssh2 handshake and the Docker socket forward (reconnects during the warm iterations: ${warmReconnects}); it overlaps with the git reads, so at this load cold and warm are close.`,
    "",
    ...rawJsonDetails(json),
  ].join("\n");
  if (WRITE_DOCS) {
    replaceSection(resolve(import.meta.dirname, "../docs/BENCHMARKS.md"), "## /status latency (bench/status.ts)", section);
    log("\nwritten to docs/BENCHMARKS.md");
  }
  log(`done in ${round(seconds)} s`);
}

await runAndExit(main, cleanup, disarm);
