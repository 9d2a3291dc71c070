import { posix } from "node:path";
import { NAME_PATTERN, type TargetConfig } from "../config/file.js";

/**
 * Docker Compose commands for a target, as argument lists (Kamal style): no I/O here. Run them with
 * `RemoteShell.exec(argv, { cwd: appDir, … })` so relative compose files resolve in the app dir.
 *
 * Works with both Compose v2 (`docker compose`) and v1 (`docker-compose`, what Debian ships): only
 * flags both understand are used. Service names must be configured names (NAME_PATTERN), so they
 * can never be read as an option; builders throw on anything else as a second wall.
 */

/** The part of a target's config that shapes every compose command line. */
export interface ComposeSpec {
  command: "docker compose" | "docker-compose";
  /** `-f` files, in order; empty means compose's default lookup in the working directory. */
  files: readonly string[];
  /** `-p`; omitted means compose's default (see {@link composeProjectName}). */
  project?: string | undefined;
}

function assertService(service: string): string {
  if (!NAME_PATTERN.test(service)) throw new TypeError(`not a service name: ${JSON.stringify(service)}`);
  return service;
}

function assertCount(n: number, what: string, min: number): number {
  if (!Number.isInteger(n) || n < min) throw new TypeError(`${what} must be an integer ≥ ${min}`);
  return n;
}

/** `docker compose -f a.yml -f b.yml -p project` (or `docker-compose …`). */
export function composeBase(spec: ComposeSpec): string[] {
  const argv = spec.command === "docker-compose" ? ["docker-compose"] : ["docker", "compose"];
  for (const file of spec.files) {
    if (file.length === 0 || file.includes("\0")) throw new TypeError("empty compose file name");
    argv.push("-f", file);
  }
  if (spec.project !== undefined) {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(spec.project)) throw new TypeError(`not a compose project name: ${JSON.stringify(spec.project)}`);
    argv.push("-p", spec.project);
  }
  return argv;
}

/** Builds images (all services, or the given ones). */
export function composeBuild(spec: ComposeSpec, services: readonly string[] = []): string[] {
  return [...composeBase(spec), "build", ...services.map(assertService)];
}

export interface ComposeUpOptions {
  /** Only these services (default all). */
  services?: readonly string[];
  /** Leave linked services alone (`--no-deps`). */
  noDeps?: boolean;
  /** Build images first (`--build`). */
  build?: boolean;
  /** Remove containers of services no longer in the compose files (`--remove-orphans`). */
  removeOrphans?: boolean;
  /** Leave running containers as they are (`--no-recreate`). */
  noRecreate?: boolean;
  /**
   * Replica counts to keep: `--scale svc=n` each. Compose resets replicas to the file's count on
   * every `up` (docker/compose#5663), so every `up` passes the counts /scale recorded.
   */
  scale?: Readonly<Record<string, number>>;
}

/** `--scale a=2 --scale b=3`, in name order so the argv is stable. */
function scaleFlags(scale: Readonly<Record<string, number>> | undefined): string[] {
  return Object.entries(scale ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([service, n]) => ["--scale", `${assertService(service)}=${assertCount(n, "replicas", 0)}`]);
}

/** Starts (or recreates changed) containers in the background: `up -d`. */
export function composeUp(spec: ComposeSpec, options: ComposeUpOptions = {}): string[] {
  const argv = [...composeBase(spec), "up", "-d"];
  if (options.noDeps) argv.push("--no-deps");
  if (options.build) argv.push("--build");
  if (options.removeOrphans) argv.push("--remove-orphans");
  if (options.noRecreate) argv.push("--no-recreate");
  argv.push(...scaleFlags(options.scale));
  argv.push(...(options.services ?? []).map(assertService));
  return argv;
}

/**
 * Sets the number of replicas of one or several services without recreating the ones that run:
 * `up -d --no-recreate --scale a=2 --scale b=3 a b`. Naming the services keeps the others untouched.
 */
export function composeScale(spec: ComposeSpec, service: string | Readonly<Record<string, number>>, replicas?: number): string[] {
  const counts = typeof service === "string" ? { [service]: replicas ?? Number.NaN } : service;
  const names = Object.keys(counts).sort((a, b) => a.localeCompare(b));
  if (names.length === 0) throw new TypeError("nothing to scale");
  return [...composeBase(spec), "up", "-d", "--no-recreate", ...scaleFlags(counts), ...names.map(assertService)];
}

/** Lists the project's containers (`-a`: stopped ones too). */
export function composePs(spec: ComposeSpec, options: { all?: boolean; services?: readonly string[] } = {}): string[] {
  const argv = [...composeBase(spec), "ps"];
  if (options.all) argv.push("-a");
  argv.push(...(options.services ?? []).map(assertService));
  return argv;
}

/** The last `tail` log lines of one service, without colour codes. */
export function composeLogs(spec: ComposeSpec, service: string, tail: number): string[] {
  assertService(service);
  assertCount(tail, "tail", 1);
  return [...composeBase(spec), "logs", "--no-color", "--tail", String(tail), service];
}

/** Restarts the containers of one service in place. */
export function composeRestart(spec: ComposeSpec, service: string): string[] {
  return [...composeBase(spec), "restart", assertService(service)];
}

/** The compose part of a target's config. */
export function composeSpec(target: Pick<TargetConfig, "compose">): ComposeSpec {
  return { command: target.compose.command, files: target.compose.files, project: target.compose.project };
}

/**
 * The project name compose will use for a target — needed to find its containers by the
 * `com.docker.compose.project` label. An explicit `compose.project` wins. Otherwise compose names
 * the project after its working directory — the directory of the first `-f` file, or appDir — lower
 * -cased with everything but [a-z0-9_-] dropped (compose 1.29's `normalize_name`; v2 also drops
 * leading `_`/`-`). COMPOSE_PROJECT_NAME in the server's env/.env or a top-level `name:` would
 * override that: set `compose.project` when you use them.
 */
export function composeProjectName(target: Pick<TargetConfig, "compose" | "appDir">): string {
  if (target.compose.project) return target.compose.project;
  const firstFile = target.compose.files[0];
  const workingDir = firstFile ? posix.dirname(posix.resolve(target.appDir, firstFile)) : posix.resolve(target.appDir);
  let name = posix.basename(workingDir).toLowerCase().replace(/[^a-z0-9_-]/g, "");
  if (target.compose.command === "docker compose") name = name.replace(/^[^a-z0-9]+/, "");
  if (name.length === 0) {
    throw new TypeError(`cannot derive a compose project name from ${JSON.stringify(workingDir)}; set compose.project`);
  }
  return name;
}
