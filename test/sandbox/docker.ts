import { execFileSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hasExited, killAll, logTail, processesMentioning, run, startDaemon, stopChild, succeeds, waitFor, waitGone } from "./processes.js";

/** The base image every sandbox app builds FROM; imported per engine, no registry involved. */
export const BASE_IMAGE = "local/busybox:1";

/** Applets the base image links to busybox: what the app, its healthcheck and exec'd checks use. */
const BUSYBOX_APPLETS = [
  "sh", "ash", "httpd", "sleep", "wget", "cat", "echo", "ls", "ps", "test", "[", "true", "false", "env",
  "mkdir", "rm", "cp", "mv", "kill", "date", "printf", "grep", "sed", "head", "tail", "wc", "touch", "id",
  "hostname", "nc", "uname", "df", "du", "tr", "seq", "find", "xargs", "chmod", "ln", "pwd", "which",
];

export interface SandboxEngine {
  socket: string;
  host: string;
  /** Name of the cgroup all containers of this engine live under (cgroups v1 and v2). */
  cgroupParent: string;
  child: ChildProcess;
  logPath: string;
}

/**
 * Starts a private dockerd: own socket, data/exec roots, pidfile and daemon.json (so a machine-wide
 * /etc/docker/daemon.json cannot change it), no bridge and no iptables (host networking only),
 * every container under its own cgroup parent so stop() can find leftovers even if dockerd hangs.
 */
export async function startEngine(dir: string, id: string): Promise<SandboxEngine> {
  const socket = join(dir, "docker.sock");
  const logPath = join(dir, "logs", "dockerd.log");
  const configFile = join(dir, "daemon.json");
  writeFileSync(configFile, "{}\n");
  const cgroupParent = `opsgram-${id}`;
  const child = startDaemon(
    "dockerd",
    [
      "--config-file", configFile,
      "-H", `unix://${socket}`,
      "--data-root", join(dir, "docker-data"),
      "--exec-root", join(dir, "docker-exec"),
      "--pidfile", join(dir, "dockerd.pid"),
      "--bridge=none",
      "--iptables=false",
      "--ip6tables=false",
      "--ip-masq=false",
      "--userland-proxy=false",
      "--cgroup-parent", `/${cgroupParent}`,
      "--shutdown-timeout", "3",
      // Only matters if a system containerd exists (dockerd then uses it instead of its own).
      "--containerd-namespace", cgroupParent,
      "--containerd-plugins-namespace", `${cgroupParent}-plugins`,
    ],
    logPath,
  );
  const host = `unix://${socket}`;
  const engine: SandboxEngine = { socket, host, cgroupParent, child, logPath };
  try {
    await waitFor(
      "dockerd to answer `docker info`",
      async () => {
        if (hasExited(child)) throw new Error(`dockerd exited (${child.exitCode ?? child.signalCode})`);
        return (await succeeds("docker", ["-H", host, "info", "--format", "{{.ServerVersion}}"], { timeoutMs: 5_000 })) ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, describe: () => logTail(logPath) },
    );
  } catch (error) {
    await stopEngine(engine, dir);
    throw error;
  }
  return engine;
}

/**
 * Imports Debian's static busybox as `local/busybox:1` into the engine: a one-binary rootfs with
 * applet symlinks, so Dockerfiles build offline.
 */
export async function importBaseImage(engine: SandboxEngine, dir: string): Promise<void> {
  const rootfs = join(dir, "busybox-rootfs");
  mkdirSync(join(rootfs, "bin"), { recursive: true });
  for (const folder of ["tmp", "www", "etc"]) mkdirSync(join(rootfs, folder), { recursive: true });
  copyFileSync("/bin/busybox", join(rootfs, "bin", "busybox"));
  for (const applet of BUSYBOX_APPLETS) symlinkSync("busybox", join(rootfs, "bin", applet));
  const tarball = join(dir, "busybox-rootfs.tar");
  await run("tar", ["-C", rootfs, "-cf", tarball, "."]);
  await run("docker", ["-H", engine.host, "import", "-c", "ENV PATH=/bin", tarball, BASE_IMAGE], { timeoutMs: 60_000 });
}

/**
 * Stops the engine for good: removes every container (compose down has normally done that), then
 * SIGTERM/SIGKILL dockerd, kills whatever still runs from this run (containerd, shims, container
 * processes in our cgroups), unmounts what dockerd left mounted and removes our cgroups.
 */
export async function stopEngine(engine: SandboxEngine, dir: string): Promise<string[]> {
  const problems: string[] = [];
  if (!hasExited(engine.child)) {
    try {
      const ids = (await run("docker", ["-H", engine.host, "ps", "-aq"], { timeoutMs: 15_000 })).split("\n").filter(Boolean);
      if (ids.length > 0) await run("docker", ["-H", engine.host, "rm", "-f", "-v", ...ids], { timeoutMs: 30_000 });
    } catch (error) {
      problems.push(`removing containers: ${(error as Error).message}`);
    }
  }
  await stopChild(engine.child, 10_000);
  killAll(processesInCgroups(engine.cgroupParent));
  killAll(processesMentioning(`${dir}/`));
  const stuck = await waitGone([...processesMentioning(`${dir}/`), ...processesInCgroups(engine.cgroupParent)], 5_000);
  if (stuck.length > 0) problems.push(`processes still alive: ${stuck.join(", ")}`);
  problems.push(...unmountUnder(dir));
  problems.push(...removeCgroups(engine.cgroupParent));
  return problems;
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((line) => (line.split(" ")[1] ?? "").replace(/\\040/g, " "))
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * dockerd leaves at least its `netns/default` nsfs mount behind after exiting, and overlay/shm
 * mounts if it was killed; unmount them (lazily as a last resort) so the dir can be removed.
 */
export function unmountUnder(dir: string): string[] {
  const problems: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const points = mountsUnder(dir);
    if (points.length === 0) return [];
    for (const point of points) {
      // Sync on purpose: a tiny number of mounts, and it keeps the order strict.
      tryUmount(point, attempt > 0);
    }
  }
  const left = mountsUnder(dir);
  if (left.length > 0) problems.push(`mounts left: ${left.join(", ")}`);
  return problems;
}

function tryUmount(point: string, lazy: boolean): void {
  try {
    execFileSync("umount", lazy ? ["-l", point] : [point], { stdio: "ignore" });
  } catch {
    // Retried lazily, then reported by the caller.
  }
}

/** Every cgroup directory named `parent` (one per v1 hierarchy, or one in the v2 unified tree). */
function cgroupDirs(parent: string): string[] {
  const root = "/sys/fs/cgroup";
  const candidates = [join(root, parent)];
  try {
    for (const entry of readdirSync(root)) candidates.push(join(root, entry, parent));
  } catch {
    return [];
  }
  return [...new Set(candidates)].filter((path) => existsSync(path));
}

function cgroupTree(path: string): string[] {
  const dirs: string[] = [];
  try {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.isDirectory()) dirs.push(...cgroupTree(join(path, entry.name)));
    }
  } catch {
    return dirs;
  }
  dirs.push(path); // children before parents, for rmdir
  return dirs;
}

/** Pids inside this engine's container cgroups: container processes that outlived their engine. */
export function processesInCgroups(parent: string): number[] {
  const pids = new Set<number>();
  for (const dir of cgroupDirs(parent)) {
    for (const group of cgroupTree(dir)) {
      try {
        for (const line of readFileSync(join(group, "cgroup.procs"), "utf8").split("\n")) {
          if (line) pids.add(Number(line));
        }
      } catch {
        // Removed meanwhile.
      }
    }
  }
  return [...pids];
}

function removeCgroups(parent: string): string[] {
  const problems: string[] = [];
  for (const dir of cgroupDirs(parent)) {
    for (const group of cgroupTree(dir)) {
      try {
        rmdirSync(group);
      } catch (error) {
        problems.push(`cgroup ${group}: ${(error as Error).message}`);
      }
    }
  }
  return problems;
}
