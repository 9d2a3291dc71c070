import { execFileSync } from "node:child_process";
import type { Sandbox } from "../../test/sandbox/index.js";
import { run } from "../../test/sandbox/processes.js";
import { sleep } from "./vps-measure.js";

/** The sandbox app as the deploy benchmark sees it from outside opsgram: what is live, and a reset. */

/** What the web service answers on /version ("v1", "v2", "broken"), or null when it does not answer. */
export async function liveVersion(sandbox: Sandbox): Promise<string | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${sandbox.webPort}/version`, { signal: AbortSignal.timeout(2_000) });
    return response.status === 200 ? (await response.text()).trim() : null;
  } catch {
    return null;
  }
}

/** The checked-out commit of the app dir. */
export function checkedOut(sandbox: Sandbox): string {
  return execFileSync("git", ["-C", sandbox.appDir, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
}

/** Polls until web serves `version` and /health is 200. */
export async function waitForVersion(sandbox: Sandbox, version: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await liveVersion(sandbox)) === version) {
      const health = await fetch(`http://127.0.0.1:${sandbox.webPort}/health`, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
      if (health?.status === 200) return;
    }
    if (Date.now() > deadline) throw new Error(`web did not serve ${version} within ${timeoutMs} ms (serves ${await liveVersion(sandbox)})`);
    await sleep(100);
  }
}

/**
 * Puts the app back at v1 by hand (checkout + `docker-compose up -d --build` against the sandbox engine, as
 * the sandbox started it), outside anything that is timed, and waits until v1 answers.
 */
export async function resetToV1(sandbox: Sandbox): Promise<void> {
  await run("git", ["-C", sandbox.appDir, "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", "--force", sandbox.versions.v1, "--"]);
  await run("docker-compose", ["up", "-d", "--build"], { cwd: sandbox.appDir, env: { ...process.env, ...sandbox.env }, timeoutMs: 120_000 });
  await waitForVersion(sandbox, "v1");
  if (checkedOut(sandbox) !== sandbox.versions.v1) throw new Error("reset: the checkout is not at v1");
}
