import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileSchema, type OpsFile } from "../../src/config/file.js";
import type { Operations } from "../../src/operations/index.js";
import type { Sandbox } from "../sandbox/index.js";
import { alertRenderer } from "../../src/bot/alerts/render.js";
import type { Db } from "../../src/infra/db/client.js";
import { createHealthStores, HealthReaders } from "../../src/infra/db/repos/health-readers.js";
import { RecordingNotifier, alice, bob, chatOf } from "../unit/operations-fakes.js";

/** What lease.test.ts shares: the unit fakes' recording notifier, chat side and people, and its helpers. */
export { RecordingNotifier, alice, bob, chatOf } from "../unit/operations-fakes.js";
export const carol = { chatId: -200, userId: 3, username: "carol" };

/** health/'s stores and readers over `db`, as app.ts wires them. */
export function healthPorts(db: Db) {
  const readers = new HealthReaders(db);
  return { stores: createHealthStores(db), backups: readers, payouts: readers, render: alertRenderer };
}

/** opsgram.yml for the sandbox target reached through `relayPort`, with a slow operator step `slow`. */
export function leaseConfig(sandbox: Sandbox, relayPort: number, slow: string): OpsFile {
  const knownHostsPath = join(sandbox.dir, `kh-relay-${relayPort}`);
  writeFileSync(knownHostsPath, `[127.0.0.1]:${relayPort} ${sandbox.ssh.hostKeyPublic}\n`);
  return fileSchema.parse({
    targets: {
      prod: {
        host: `ssh://${sandbox.ssh.username}@127.0.0.1:${relayPort}`,
        ssh: { privateKeyPath: sandbox.ssh.privateKeyPath, knownHostsPath, connectTimeoutSeconds: 5, keepaliveSeconds: 1 },
        appDir: sandbox.appDir,
        dockerSocket: sandbox.dockerSocket,
        compose: { command: sandbox.composeCommand, project: sandbox.composeProject },
        payouts: {
          pause: `redis-cli ${sandbox.redis.cliArgs.join(" ")} SET system:pause_payouts 1`,
          resume: `redis-cli ${sandbox.redis.cliArgs.join(" ")} DEL system:pause_payouts`,
          status: `redis-cli ${sandbox.redis.cliArgs.join(" ")} GET system:pause_payouts`,
        },
        deploy: {
          // An operator step that takes a while: the window in which the tests break things.
          steps: [{ name: "slow", run: slow, timeoutSeconds: 30 }],
          healthcheck: { url: `http://127.0.0.1:${sandbox.webPort}/health`, from: "target", expectStatus: 200, timeoutSeconds: 8, intervalSeconds: 0.5 },
        },
      },
    },
    confirmTimeoutSeconds: 60,
  });
}

/** Whether the slow step still runs on the target (the sandbox target is this machine). */
export function orphanAlive(slow: string): boolean {
  try {
    execFileSync("pgrep", ["-f", `^${slow}$`]);
    return true;
  } catch {
    return false;
  }
}

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function confirmDeploy(ops: Operations, ref: string) {
  const planned = await chatOf(ops).deploy(alice, [ref]);
  if (planned.status !== "planned") throw new Error(`not planned: ${JSON.stringify(planned)}`);
  const pressed = await ops.service.confirm(bob, planned.operationId, planned.message);
  if (pressed.status !== "confirmed") throw new Error(`not confirmed: ${JSON.stringify(pressed)}`);
  return { planned, done: pressed.done };
}

/** The [Unlock] button's data from the newest message carrying one. */
export function unlockData(notifier: RecordingNotifier): string {
  for (const m of [...notifier.messages].reverse()) {
    for (const o of m.options) {
      const data = o?.buttons?.[0]?.[0]?.data;
      if (data?.startsWith("fz:u:")) return data;
    }
  }
  throw new Error("no [Unlock] button");
}

