import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BASE_IMAGE } from "./docker.js";
import { run, waitFor } from "./processes.js";

/** Commit shas of the three app versions the origin holds. */
export interface AppVersions {
  v1: string;
  v2: string;
  broken: string;
}

/**
 * The compose file, the same in every commit. v1-compatible (Debian ships compose 1.29); host
 * networking only; WEB_PORT and COMPOSE_PROJECT_NAME come from the untracked `.env` of the checkout.
 * `worker` has no name or ports so `--scale worker=N` works; `tools` (profile, never started by `up`)
 * is for one-off `run --rm` jobs.
 */
const COMPOSE_FILE = `# The sandbox "production app" opsgram deploys, scales and health-checks.
version: "2.4"
services:
  web:
    build: .
    network_mode: host
    restart: unless-stopped
    environment:
      WEB_PORT: "\${WEB_PORT}"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:\${WEB_PORT}/health"]
      interval: 1s
      timeout: 2s
      retries: 3
      start_period: 2s
    stop_grace_period: 5s
  worker:
    image: ${BASE_IMAGE}
    network_mode: host
    restart: unless-stopped
    command: ["sh", "-c", "echo worker started; trap 'exit 0' TERM INT; while :; do sleep 1 & wait $$!; done"]
    stop_grace_period: 5s
  # One-off jobs (migrations, checks): compose v1 links a one-off container to its service's running
  # containers, which host networking rejects, so 'run --rm web' fails while 'run --rm tools ...' works.
  tools:
    image: ${BASE_IMAGE}
    network_mode: host
    profiles: ["tools"]
    command: ["true"]
`;

const DOCKERFILE = `FROM ${BASE_IMAGE}
COPY web.sh /app/web.sh
COPY www /www
CMD ["sh", "/app/web.sh"]
`;

// httpd ignores SIGTERM as PID 1; a shell stays PID 1 and passes it on, so `compose stop`/`up`
// replace the container in milliseconds instead of waiting out the 5 s grace period.
const WEB_SCRIPT = `#!/bin/sh
: "\${WEB_PORT:?WEB_PORT must be set (docker-compose reads it from .env)}"
echo "web $(cat /www/version) listening on 127.0.0.1:\${WEB_PORT}"
httpd -f -p "127.0.0.1:\${WEB_PORT}" -h /www &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid"; exit 0' TERM INT
wait "$pid"
`;

const GIT_IDENTITY = [
  "-c", "user.name=Sandbox Release Bot",
  "-c", "user.email=release-bot@sandbox.invalid",
  "-c", "commit.gpgsign=false",
  "-c", "tag.gpgsign=false",
  "-c", "init.defaultBranch=main",
];

function git(cwd: string, ...args: string[]): Promise<string> {
  return run("git", [...GIT_IDENTITY, "-C", cwd, ...args], { timeoutMs: 30_000 });
}

function write(root: string, path: string, content: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}

/**
 * Builds the app's history in a scratch repo and publishes it to a bare `origin`:
 * v1 (main, tag v1.0.0) → v2 (release/v2, tag v2.0.0) → broken (branch broken, no /health file),
 * then clones it to `appDir` (checked out at main = v1) and writes the untracked `.env`.
 */
export async function createAppRepository(options: {
  dir: string;
  originDir: string;
  appDir: string;
  composeProject: string;
  webPort: number;
}): Promise<AppVersions> {
  const seed = join(options.dir, "app-seed");
  mkdirSync(seed);
  await git(seed, "init", "-q", "-b", "main");

  write(seed, "docker-compose.yml", COMPOSE_FILE);
  write(seed, "Dockerfile", DOCKERFILE);
  write(seed, "web.sh", WEB_SCRIPT);
  write(seed, ".gitignore", ".env\n");
  write(seed, "www/health", "ok");
  write(seed, "www/version", "v1");
  await git(seed, "add", "-A");
  await git(seed, "commit", "-q", "-m", "v1: first release");
  await git(seed, "tag", "-a", "v1.0.0", "-m", "v1.0.0");

  await git(seed, "checkout", "-q", "-b", "release/v2");
  write(seed, "www/version", "v2");
  await git(seed, "commit", "-q", "-am", "v2: second release");
  await git(seed, "tag", "-a", "v2.0.0", "-m", "v2.0.0");

  await git(seed, "checkout", "-q", "-b", "broken");
  rmSync(join(seed, "www", "health"));
  write(seed, "www/version", "broken");
  await git(seed, "add", "-A");
  await git(seed, "commit", "-q", "-m", "broken: health endpoint removed");

  const [v1, v2, broken] = (await git(seed, "rev-parse", "v1.0.0^{commit}", "v2.0.0^{commit}", "broken"))
    .trim()
    .split("\n");
  if (!v1 || !v2 || !broken) throw new Error("could not read the app's commit shas");

  await run("git", [...GIT_IDENTITY, "init", "-q", "--bare", "-b", "main", options.originDir]);
  await git(seed, "push", "-q", options.originDir, "main", "release/v2", "broken", "v1.0.0", "v2.0.0");
  await run("git", [...GIT_IDENTITY, "clone", "-q", options.originDir, options.appDir], { timeoutMs: 30_000 });
  rmSync(seed, { recursive: true, force: true });

  writeFileSync(
    join(options.appDir, ".env"),
    `COMPOSE_PROJECT_NAME=${options.composeProject}\nWEB_PORT=${options.webPort}\n`,
  );
  return { v1, v2, broken };
}

/** Builds and starts the app with `docker-compose up -d --build` and waits until web is healthy. */
export async function startApp(appDir: string, env: NodeJS.ProcessEnv, webPort: number): Promise<void> {
  await run("docker-compose", ["up", "-d", "--build"], { cwd: appDir, env, timeoutMs: 120_000 });
  const webId = (await run("docker-compose", ["ps", "-q", "web"], { cwd: appDir, env })).trim();
  if (!webId) throw new Error("docker-compose ps shows no web container after up");
  const status = await waitFor(
    "the web container to become healthy",
    async () => {
      const current = (await run("docker", ["inspect", "-f", "{{.State.Health.Status}}", webId], { env })).trim();
      return current === "healthy" || current === "unhealthy" ? current : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 150 },
  );
  if (status === "unhealthy") {
    const probes = await run("docker", ["inspect", "-f", "{{json .State.Health.Log}}", webId], { env });
    throw new Error(`the web container is unhealthy: ${probes.trim()}`);
  }
  // Healthy inside the container; prove it from the host too.
  const response = await fetch(`http://127.0.0.1:${webPort}/health`);
  if (response.status !== 200) throw new Error(`web /health answered ${response.status} from the host`);
}

/** `docker-compose down -v` for the app; errors are returned, not thrown (stop must go on). */
export async function stopApp(appDir: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  try {
    await run("docker-compose", ["down", "-v", "--remove-orphans", "-t", "3"], { cwd: appDir, env, timeoutMs: 60_000 });
    return [];
  } catch (error) {
    return [`docker-compose down: ${(error as Error).message}`];
  }
}
