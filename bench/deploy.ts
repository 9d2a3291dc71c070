/**
 * Deploy benchmark (issue 5, "Benchmarks"): opsgram's v1 → v2 deploy, from the Confirm press to ✅,
 * against a hand-written shell script doing the same steps over ssh, in the same run, on the
 * sandbox VPS (127.0.0.1 only).
 *
 *   cd /work/main && npx tsx bench/deploy.ts              # measure, print, update docs/BENCHMARKS.md
 *   npx tsx bench/deploy.ts --trials 5 --no-write          # trials per contender (default 5)
 *   npx tsx bench/deploy.ts --think-ms 0                   # press Confirm the instant the plan arrives
 *
 * Contenders, each deploying v1 → v2 (release/v2) and reset to v1 by hand afterwards (untimed):
 *   - opsgram, full bot path: `/deploy release/v2` is sent through the Bot API emulator, the plan
 *     arrives under [Confirm]; the clock starts when Confirm is pressed (the callback update is
 *     enqueued) and stops when the emulator records the edit that ends in ✅. The deploy is
 *     health-gated by the web /health URL probed from the target (curl over the pooled SSH
 *     connection), interval 0.5 s. Planning (fetch + resolve, before the buttons) is timed separately.
 *   - baseline `deploy-per-step.sh` (the named baseline): what an operator writes — a new
 *     `ssh <pinned> host '…'` per step: git fetch, git rev-parse, git checkout --detach,
 *     docker-compose build, docker-compose up -d, then `ssh host curl …/health` every 0.5 s until 200.
 *   - reference `deploy-one-session.sh`: the same steps in one `ssh host bash -s < script`.
 * One untimed warm-up of each first (builds and caches the v2 image, so every timed build is the
 * same cached build); then the trials rotate the order of the three contenders.
 *
 * Goal (issue 5): median(opsgram Confirm → ✅) ≤ 1.10 × median(baseline script).
 */
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { quoteArg, toCommandLine } from "../src/commands/quote.js";
import { Cleanup, runAndExit } from "./lib/cleanup.js";
import { markdownTable, replaceSection, rawJsonDetails } from "./lib/markdown.js";
import { checkedOut, liveVersion, resetToV1 } from "./lib/vps-app.js";
import { startVpsHarness, ADMIN_GROUP, ONCALL, TARGET, type VpsHarness } from "./lib/vps-harness.js";
import { describeMachine, fmtLoad, fmtMs, machineInfo, medianOf, round, runScript, sampleLoad, sleep, sshCommand, writeScript } from "./lib/vps-measure.js";

const args = process.argv.slice(2);
const option = (name: string, fallback: number, max = 20) => {
  const i = args.indexOf(name);
  const value = i === -1 ? fallback : Number(args[i + 1]);
  if (!Number.isInteger(value) || value < 0 || value > max) throw new Error(`${name} needs an integer from 0 to ${max}`);
  return value;
};
const TRIALS = option("--trials", 5);
if (TRIALS < 1) throw new Error("--trials needs at least 1");
/**
 * How long the "human" reads the plan before pressing Confirm (not timed). Without it the press
 * lands within milliseconds of the plan, which no person does, and the progress edits then queue
 * behind the plan message's 1 s per-chat pacing (see the notifier), adding up to a second that a
 * real user does not see. 2 s is still a fast reader.
 */
const THINK_MS = option("--think-ms", 2_000, 60_000);
const WRITE_DOCS = !args.includes("--no-write");
const TIME_LIMIT_MS = 900_000 + TRIALS * 120_000;
const DEPLOY_TIMEOUT_MS = 180_000;
const HEALTH_INTERVAL_S = 0.5;
const GOAL_RATIO = 1.1;
const REF = "release/v2";

const cleanup = new Cleanup();
const disarm = cleanup.armExits(TIME_LIMIT_MS);
const log = (line: string) => process.stdout.write(`${line}\n`);

type Contender = "opsgram" | "perStep" | "oneSession";
const LABEL: Record<Contender, string> = {
  opsgram: "opsgram: Confirm → ✅ (full bot path)",
  perStep: "baseline: deploy-per-step.sh (ssh per step)",
  oneSession: "reference: deploy-one-session.sh (one ssh session)",
};

interface Trial {
  contender: Contender;
  trial: number;
  /** Confirm press → ✅ (opsgram) or script spawn → exit (scripts). */
  ms: number;
  /** Step durations, ms: opsgram from its step records, scripts from `date +%s%N` marks. */
  steps: Record<string, number>;
  /** opsgram only. */
  detail?: {
    planMs: number;
    answerMs: number;
    pressToStartedMs: number;
    runMs: number;
    betweenStepsMs: number;
    finishedToEditMs: number;
    progressEdits: number;
    /** Every command run on the target between the press and ✅: count and summed wall time. */
    commands: Record<string, { count: number; ms: number }>;
    /** Timeline after the press (ms): each edit of the message as recorded, and the recorded finish. */
    editsAtMs: number[];
    finishedAtMs: number;
  };
  load1: number;
}

// ------------------------------------------------------------------ baseline scripts

function scripts(h: VpsHarness): { perStep: string; oneSession: string } {
  const app = h.sandbox.appDir;
  const inApp = (argv: string[]) => `cd ${quoteArg(app)} && ${toCommandLine(argv)}`;
  const fetch = inApp(["git", "fetch", "--prune", "--tags", "origin"]);
  const revParse = inApp(["git", "rev-parse", "--verify", `refs/remotes/origin/${REF}^{commit}`]);
  const checkout = inApp(["git", "-c", "advice.detachedHead=false", "checkout", "-q", "--detach"]); // + "$sha"
  const build = inApp(["docker-compose", "build"]);
  const up = inApp(["docker-compose", "up", "-d"]);
  const curl = toCommandLine(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", h.healthUrl]);
  const mark = `t() { echo "T $1 $(date +%s%N)"; }`;
  const healthLoop = (probe: string) =>
    `n=0; until [ "$(${probe})" = 200 ]; do n=$((n+1)); [ "$n" -lt 240 ] || { echo "never healthy" >&2; exit 1; }; sleep ${HEALTH_INTERVAL_S}; done`;

  const perStep = writeScript(
    h.scratch,
    "deploy-per-step.sh",
    [
      `ssh_() { ${sshCommand(h.sandbox)} "$@"; }`,
      mark,
      "t start",
      `ssh_ ${quoteArg(fetch)}`,
      "t fetch",
      `sha=$(ssh_ ${quoteArg(revParse)})`,
      "t rev-parse",
      `ssh_ ${quoteArg(`${checkout} `)}"$sha"`,
      "t checkout",
      `ssh_ ${quoteArg(build)}`,
      "t build",
      `ssh_ ${quoteArg(up)}`,
      "t up",
      healthLoop(`ssh_ ${quoteArg(curl)}`),
      "t health",
    ].join("\n"),
  );
  const remote = writeScript(
    h.scratch,
    "deploy-remote.sh",
    [
      mark,
      "t connected",
      fetch,
      "t fetch",
      `sha=$(${revParse})`,
      "t rev-parse",
      `${checkout} "$sha"`,
      "t checkout",
      build,
      "t build",
      up,
      "t up",
      healthLoop(curl),
      "t health",
    ].join("\n"),
  );
  const oneSession = writeScript(h.scratch, "deploy-one-session.sh", [mark, "t start", `${sshCommand(h.sandbox)} bash -s < ${quoteArg(remote)}`].join("\n"));
  return { perStep, oneSession };
}

/** Durations between consecutive `T <step> <ns>` marks. */
function stepsFromMarks(stdout: string): Record<string, number> {
  const marks = [...stdout.matchAll(/^T (\S+) (\d+)$/gm)].map((m) => ({ step: m[1]!, ns: BigInt(m[2]!) }));
  const steps: Record<string, number> = {};
  for (let i = 1; i < marks.length; i++) steps[marks[i]!.step] = Number(marks[i]!.ns - marks[i - 1]!.ns) / 1e6;
  return steps;
}

async function runBaseline(h: VpsHarness, path: string): Promise<{ ms: number; steps: Record<string, number> }> {
  const result = await runScript(path, [], { timeoutMs: DEPLOY_TIMEOUT_MS });
  return { ms: result.ms, steps: stepsFromMarks(result.stdout) };
}

// ------------------------------------------------------------------ opsgram

interface StepRecordLike {
  id: string;
  durationMs: number;
  ok: boolean;
}

async function runOpsgram(h: VpsHarness): Promise<{ ms: number; steps: Record<string, number>; detail: NonNullable<Trial["detail"]> }> {
  const sentAt = h.command(`/deploy ${REF}`);
  const plan = await h.waitForMessage((m) => m.chatId === ADMIN_GROUP.id && m.replyMarkup !== undefined, 60_000);
  const planMs = plan.sentAt.getTime() - sentAt;
  const buttons = plan.replyMarkup!.inline_keyboard.flat() as { text: string; callback_data?: string }[];
  const confirm = buttons.find((b) => b.text.includes("Confirm"))?.callback_data;
  if (!confirm) throw new Error(`no Confirm button under the plan:\n${plan.text}`);
  const operationId = confirm.slice("op:c:".length);

  await sleep(THINK_MS);
  const pressedAt = Date.now();
  const press = h.emulator.pressButton(ADMIN_GROUP, ONCALL, plan.messageId, confirm);
  const answer = await h.emulator.waitForCallbackAnswer(press.callback_query!.id, 30_000);
  const done = await h.waitForEdit((e) => e.messageId === plan.messageId && /(^|\n)(✅|❌|↩) /.test(e.text), DEPLOY_TIMEOUT_MS);
  const ms = done.at.getTime() - pressedAt;
  if (!/(^|\n)✅ deployed/.test(done.text)) throw new Error(`the deploy did not succeed:\n${done.text}`);

  const op = await h.repos.operations.get(operationId);
  if (!op?.startedAt || !op.finishedAt) throw new Error(`operation ${operationId} has no start/finish times`);
  // Step durations come from the audit rows each step writes when it ends (`deploy.step`).
  const events = (await h.audit.recent(200)).filter((e) => e.operationId === operationId && e.action === "deploy.step");
  const records = events.map((e) => (e.detail as { step: StepRecordLike }).step);
  if (records.length === 0) throw new Error(`no deploy.step audit rows for ${operationId}`);
  const steps: Record<string, number> = {};
  for (const r of records) steps[r.id] = r.durationMs;
  const runMs = op.finishedAt.getTime() - op.startedAt.getTime();
  const edits = h.emulator.edits.filter((e) => e.messageId === plan.messageId && e.at.getTime() >= pressedAt);
  const commands: Record<string, { count: number; ms: number }> = {};
  for (const call of h.shellCalls.filter((c) => c.startedAt >= pressedAt && c.startedAt <= done.at.getTime())) {
    const entry = (commands[call.what] ??= { count: 0, ms: 0 });
    entry.count++;
    entry.ms += call.ms;
  }
  return {
    ms,
    steps,
    detail: {
      planMs,
      answerMs: answer.at.getTime() - pressedAt,
      pressToStartedMs: op.startedAt.getTime() - pressedAt,
      runMs,
      betweenStepsMs: runMs - records.reduce((a, r) => a + r.durationMs, 0),
      finishedToEditMs: done.at.getTime() - op.finishedAt.getTime(),
      progressEdits: edits.length,
      commands,
      editsAtMs: edits.map((e) => e.at.getTime() - pressedAt),
      finishedAtMs: op.finishedAt.getTime() - pressedAt,
    },
  };
}

// ------------------------------------------------------------------ main

async function deployOnce(h: VpsHarness, contender: Contender, paths: { perStep: string; oneSession: string }) {
  if ((await liveVersion(h.sandbox)) !== "v1") throw new Error("not starting from v1");
  const outcome = contender === "opsgram" ? await runOpsgram(h) : await runBaseline(h, paths[contender]);
  // Whatever did it, v2 must be what runs now.
  if ((await liveVersion(h.sandbox)) !== "v2" || checkedOut(h.sandbox) !== h.sandbox.versions.v2) {
    throw new Error(`${contender}: after the deploy web serves ${await liveVersion(h.sandbox)} at ${checkedOut(h.sandbox).slice(0, 7)}, not v2`);
  }
  await resetToV1(h.sandbox);
  await sleep(1_000); // let the replaced container's shutdown settle before the next timing
  return outcome;
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine = machineInfo();
  log(describeMachine("bench/deploy.ts", machine));
  const h = await startVpsHarness(cleanup, { healthIntervalSeconds: HEALTH_INTERVAL_S });
  log(`sandbox up in ${round((Date.now() - started) / 1000, 1)} s (sshd 127.0.0.1:${h.sandbox.ssh.port}, app ${h.sandbox.appDir})`);
  const paths = scripts(h);

  const contenders: Contender[] = ["opsgram", "perStep", "oneSession"];
  log("warm-up: one untimed deploy of each (the first one builds the v2 image)");
  for (const c of contenders) {
    const w = await deployOnce(h, c, paths);
    log(`  ${c}: ${fmtMs(w.ms)}`);
  }

  const trials: Trial[] = [];
  const load = sampleLoad();
  for (let t = 0; t < TRIALS; t++) {
    const order = [...contenders.slice(t % 3), ...contenders.slice(0, t % 3)];
    for (const c of order) {
      const load1 = round(loadavg()[0]!, 2);
      const o: { ms: number; steps: Record<string, number>; detail?: Trial["detail"] } = await deployOnce(h, c, paths);
      trials.push({ contender: c, trial: t + 1, ms: o.ms, steps: o.steps, ...(o.detail ? { detail: o.detail } : {}), load1 });
      log(`  trial ${t + 1} ${c}: ${fmtMs(o.ms)} (load ${load1})`);
    }
  }
  const loadDuring = load.stop();
  await h.emulator.waitUntilIdle(10_000);
  if (h.emulator.internalErrors.length > 0) throw new Error(`emulator internal errors: ${h.emulator.internalErrors.map((e) => e.message).join("; ")}`);

  const of = (c: Contender) => trials.filter((t) => t.contender === c);
  const med = (c: Contender) => medianOf(of(c).map((t) => t.ms));
  const medStep = (c: Contender, step: string) => medianOf(of(c).map((t) => t.steps[step] ?? Number.NaN).filter(Number.isFinite));
  const ops = of("opsgram");
  const medDetail = (k: "planMs" | "answerMs" | "pressToStartedMs" | "runMs" | "betweenStepsMs" | "finishedToEditMs" | "progressEdits") => medianOf(ops.map((t) => t.detail![k]));
  const commandNames = [...new Set(ops.flatMap((t) => Object.keys(t.detail!.commands)))];
  const commandRows = commandNames.map((what) => {
    const per = ops.map((t) => t.detail!.commands[what] ?? { count: 0, ms: 0 });
    return [`\`${what}\``, String(medianOf(per.map((p) => p.count))), fmtMs(medianOf(per.map((p) => p.ms)))];
  });
  const commandsTable = markdownTable(["command opsgram ran on the target, Confirm → ✅", "count (median)", "wall time, summed (median)"], commandRows);
  const ratio = med("opsgram") / med("perStep");
  const ratioOne = med("opsgram") / med("oneSession");
  const pass = ratio <= GOAL_RATIO;
  const seconds = (Date.now() - started) / 1000;

  const table = markdownTable(
    ["contender", "trials (ms)", "median", "ratio opsgram ÷ this", "goal", "verdict"],
    contenders.map((c) => [
      c === "opsgram" ? `**${LABEL[c]}**` : LABEL[c],
      of(c).map((t) => Math.round(t.ms)).join(", "),
      fmtMs(med(c)),
      c === "opsgram" ? "" : (med("opsgram") / med(c)).toFixed(2),
      c === "perStep" ? `≤ ${GOAL_RATIO.toFixed(2)}` : "",
      c === "perStep" ? (pass ? "**PASS**" : "**MISS**") : "",
    ]),
  );
  // Step by step (medians): what each side spends where.
  const stepRows: string[][] = [
    ["git fetch", "— (done while planning, before Confirm)", fmtMs(medStep("perStep", "fetch")), fmtMs(medStep("oneSession", "fetch"))],
    ["resolve ref / verify commit", `${fmtMs(medStep("opsgram", "fetch"))} (rev-parse + read HEAD)`, fmtMs(medStep("perStep", "rev-parse")), fmtMs(medStep("oneSession", "rev-parse"))],
    ["git checkout --detach", fmtMs(medStep("opsgram", "checkout")), fmtMs(medStep("perStep", "checkout")), fmtMs(medStep("oneSession", "checkout"))],
    ["compose build (cached)", fmtMs(medStep("opsgram", "build")), fmtMs(medStep("perStep", "build")), fmtMs(medStep("oneSession", "build"))],
    ["compose up -d", fmtMs(medStep("opsgram", "up")), fmtMs(medStep("perStep", "up")), fmtMs(medStep("oneSession", "up"))],
    ["health gate until 200", fmtMs(medStep("opsgram", "health")), fmtMs(medStep("perStep", "health")), fmtMs(medStep("oneSession", "health"))],
    ["ssh connect (one-session script)", "—", "(in every step)", fmtMs(medStep("oneSession", "connected"))],
    ["press → operation started (getUpdates, claim, lock, audit)", fmtMs(medDetail("pressToStartedMs")), "—", "—"],
    ["between steps (audit row per step, deployment row)", fmtMs(medDetail("betweenStepsMs")), "—", "—"],
    ["finished → ✅ edit recorded (final rows, lock release, chat pacing)", fmtMs(medDetail("finishedToEditMs")), "—", "—"],
    ["**total**", fmtMs(med("opsgram")), fmtMs(med("perStep")), fmtMs(med("oneSession"))],
  ];
  const stepsTable = markdownTable(["step (median)", "opsgram", "per-step script", "one-session script"], stepRows);
  const extras = markdownTable(
    ["opsgram, also measured (median)", "value"],
    [
      ["`/deploy release/v2` sent → plan with buttons shown (fetch, resolve, log, audit)", fmtMs(medDetail("planMs"))],
      ["Confirm press → button answered", fmtMs(medDetail("answerMs"))],
      ["operation run (started → finished, as recorded)", fmtMs(medDetail("runMs"))],
      ["progress edits of the message per deploy", String(medDetail("progressEdits"))],
      ["plan + Confirm → ✅ (everything but the human's reading time)", fmtMs(medDetail("planMs") + med("opsgram"))],
    ],
  );
  const finishedToEdit = ops.map((t) => t.detail!.finishedToEditMs);
  const medianTrial = [...ops].sort((a, b) => a.ms - b.ms)[Math.floor((ops.length - 1) / 2)]!;
  const trivial = medianOf(ops.map((t) => {
    const c = t.detail!.commands;
    const picked = ["git rev-parse", "git log", "git checkout", "curl -s"].map((k) => c[k]).filter((x): x is { count: number; ms: number } => x !== undefined);
    return picked.reduce((a, x) => a + x.ms, 0) / Math.max(1, picked.reduce((a, x) => a + x.count, 0));
  }));
  const analysis = [
    "Where opsgram's time goes: the work is the scripts' work (checkout, the cached build, up, the health probe), run as one command per step over one open SSH connection. Each command pays the",
    `target's login-shell start-up (sshd runs the user's shell, which sources ~/.bashrc — see the /status section), so even a trivial git command or health probe costs ${fmtMs(trivial)} (median per command here);`,
    "the per-step script pays the same start-ups plus an OpenSSH handshake per step, the one-session script pays one start-up for everything. Two costs are opsgram's own:",
    `**(1) the ✅ edit lands ${fmtMs(medianOf(finishedToEdit))} (median; ${fmtMs(Math.min(...finishedToEdit))}–${fmtMs(Math.max(...finishedToEdit))}) after the run has finished** — progress edits go out about once a second,`,
    "and the final edit is not sent sooner than 1 s after the previous one (TelegramNotifier's per-chat spacing; ProgressMessage.finish also first awaits a progress edit that is",
    "already waiting in that lane), so opsgram's totals snap to the 1-second grid of its edits",
    `(median trial: edits at ${medianTrial.detail!.editsAtMs.map((x) => `+${Math.round(x)}`).join(", ")} ms, run finished at +${Math.round(medianTrial.detail!.finishedAtMs)} ms);`,
    `(2) the audit row each step commits before the next starts and the deployment row: ${fmtMs(medDetail("betweenStepsMs"))} per deploy. Planning (\`/deploy\` → buttons, ${fmtMs(medDetail("planMs"))}) includes the git fetch,`,
    "which the scripts pay after the decision and opsgram before it.",
  ].join("\n");
  const json = {
    benchmark: "bench/deploy.ts",
    date: new Date().toISOString(),
    machine,
    loadDuringMeasurements: loadDuring,
    settings: { trials: TRIALS, healthIntervalSeconds: HEALTH_INTERVAL_S, ref: REF, warmup: 1, thinkMsBeforeConfirm: THINK_MS },
    goal: { metric: "median opsgram Confirm → ✅ ÷ median deploy-per-step.sh", max: GOAL_RATIO, ratio: round(ratio, 3), pass, ratioToOneSession: round(ratioOne, 3) },
    medians: { opsgram: round(med("opsgram")), perStep: round(med("perStep")), oneSession: round(med("oneSession")) },
    trials: trials.map((t) => ({ ...t, ms: round(t.ms), steps: Object.fromEntries(Object.entries(t.steps).map(([k, v]) => [k, round(v)])) })),
  };
  log(`\n${table}\n\n${stepsTable}\n\n${commandsTable}\n\n${extras}\n\n${analysis}\n`);
  log(`load average (1 min) during the trials: ${fmtLoad(loadDuring)} on ${machine.cores} cores`);
  log(`verdict: opsgram ${fmtMs(med("opsgram"))} ÷ per-step script ${fmtMs(med("perStep"))} = ${ratio.toFixed(2)} (goal ≤ ${GOAL_RATIO}) → ${pass ? "PASS" : "MISS"}; ÷ one-session script = ${ratioOne.toFixed(2)}`);
  log(`\nJSON:\n${JSON.stringify(json)}`);

  const section = [
    `Run with \`npx tsx bench/deploy.ts\` (${round(seconds)} s, ${json.date.slice(0, 16).replace("T", " ")} UTC). Machine: ${machine.cores} cores (${machine.cpu}), Node ${machine.node};`,
    `1-minute load average ${fmtLoad(loadDuring)} during the trials (shared machine; the contenders alternate so load hits all of them).`,
    "",
    "v1 → v2 (`release/v2`) on the sandbox VPS (pinned sshd, dockerd, compose app web + worker, compose v1), everything on 127.0.0.1. Every deploy starts from v1 and is reset to v1 by hand afterwards (untimed);",
    `one untimed warm-up of each contender first, so every timed build is the same cached build; then ${TRIALS} trials each, the order rotating per trial. Every run is checked: web serves v2 and the checkout is at v2.`,
    "",
    `- **opsgram** (full bot path, the bot composed as in \`src/app.ts\`, polling the Bot API emulator): \`/deploy release/v2\` is sent, the plan arrives under the buttons, the user reads it for ${THINK_MS / 1000} s (untimed); the clock starts when Confirm is pressed`,
    `  and stops when the emulator records the edit ending in ✅. Health gate: \`deploy.healthcheck\` = web /health, \`from: target\` (curl over the pooled SSH connection), every ${HEALTH_INTERVAL_S} s.`,
    "- **baseline** `deploy-per-step.sh`, the script an operator writes: a new `ssh <pinned args> host '…'` per step — `git fetch --prune --tags origin`, `git rev-parse --verify refs/remotes/origin/release/v2^{commit}`,",
    `  \`git checkout -q --detach $sha\`, \`docker-compose build\`, \`docker-compose up -d\`, then \`ssh host curl …/health\` every ${HEALTH_INTERVAL_S} s until 200. Timed spawn → exit.`,
    "- **reference** `deploy-one-session.sh`: the same steps as one remote script, `ssh host bash -s < deploy-remote.sh` (one connection, one shell).",
    "",
    table,
    "",
    `Verdict: opsgram's median ${fmtMs(med("opsgram"))} is ${ratio.toFixed(2)} × the per-step script's ${fmtMs(med("perStep"))} — goal ≤ ${GOAL_RATIO.toFixed(2)}: **${pass ? "PASS" : "MISS"}**`,
    `(against the one-session script: ${ratioOne.toFixed(2)}).`,
    "",
    analysis,
    "",
    stepsTable,
    "",
    commandsTable,
    "",
    extras,
    "",
    ...rawJsonDetails(json),
  ].join("\n");
  if (WRITE_DOCS) {
    replaceSection(resolve(import.meta.dirname, "../docs/BENCHMARKS.md"), "## Deploy (bench/deploy.ts)", section);
    log("\nwritten to docs/BENCHMARKS.md");
  }
  log(`done in ${round(seconds)} s`);
}

await runAndExit(main, cleanup, disarm);
