import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { composeUp } from "../../../src/commands/compose.js";
import { fileSchema } from "../../../src/config/file.js";
import { DockerodeApi } from "../../../src/infra/docker/api.js";
import { createLogger } from "../../../src/infra/logger.js";
import type { SshShell } from "../../../src/infra/ssh/shell.js";
import { createTargetConnections } from "../../../src/infra/targets.js";
import type { DockerEvent } from "../../../src/shared/ports.js";
import { Relay } from "../../support/relay.js";
import { T, type RemoteSandbox } from "../../support/remote.js";
import { waitFor } from "../../support/wait.js";

const log = createLogger({ level: "silent" });

/**
 * Pauses and unpauses `containerId` until the unpause shows up in `events`: proves the events
 * stream is connected now, without sleeping for a guessed time. Each round waits up to 2 s.
 */
async function streamIsLive(poke: Docker, containerId: string, events: DockerEvent[]): Promise<void> {
  for (let round = 0; round < 10; round++) {
    const seen = events.length;
    await poke.getContainer(containerId).pause();
    await poke.getContainer(containerId).unpause();
    const arrived = await waitFor("unpause", () => (events.slice(seen).some((e) => e.action === "unpause") ? true : undefined), 2_000).then(
      () => true,
      () => false,
    );
    if (arrived) return;
  }
  throw new Error("the events stream never delivered an unpause");
}

/** DockerApi against the sandbox's own dockerd, forwarded over the pinned SSH link or local. */
export function dockerApiTests(env: RemoteSandbox): void {
  describe("DockerApi", () => {
    it("lists the project's containers with health over the forwarded socket, on the same connection", async () => {
      const shell = env.sshShell();
      const docker = new DockerodeApi({ socketPath: env.sandbox.dockerSocket, dial: () => shell.forwardUnixSocket(env.sandbox.dockerSocket) });
      try {
        const containers = await waitFor("web to be healthy", async () => {
          const list = await docker.listContainers(env.sandbox.composeProject);
          return list.find((c) => c.service === "web")?.health === "healthy" ? list : undefined;
        });
        expect(containers.map((c) => [c.service, c.number, c.state])).toEqual([
          ["web", 1, "running"],
          ["worker", 1, "running"],
        ]);
        const web = containers[0];
        expect(web?.health).toBe("healthy");
        expect(containers[1]?.health).toBe("none");
        expect(web?.startedAt).toBeInstanceOf(Date);
        expect(web?.exitCode).toBeNull();
        expect(web?.oomKilled).toBe(false);
        expect(web?.name).toContain(env.sandbox.composeProject);
        expect((await docker.inspect(web?.id ?? "")).id).toBe(web?.id);
        expect(await docker.listContainers("no-such-project")).toEqual([]);
        // Everything went over the one pinned connection.
        expect(shell.connection.connectCount).toBe(1);
      } finally {
        await docker.close();
      }
    });

    it("returns log lines (demultiplexed) for a container", async () => {
      const shell = env.sshShell();
      const docker = new DockerodeApi({ socketPath: env.sandbox.dockerSocket, dial: () => shell.forwardUnixSocket(env.sandbox.dockerSocket) });
      try {
        const [web] = await docker.listContainers(env.sandbox.composeProject);
        // busybox httpd logs nothing by default; write something the container itself prints.
        await shell.exec(["docker", "exec", web?.id ?? "", "sh", "-c", "echo hello-from-web > /proc/1/fd/1; echo to-stderr > /proc/1/fd/2"], T);
        const text = await waitFor("log lines", async () => {
          const logs = await docker.logs(web?.id ?? "", 10);
          return logs.includes("to-stderr") ? logs : undefined;
        });
        expect(text).toContain("hello-from-web\n");
        expect(text).not.toMatch(/[\u0000-\u0008]/);
      } finally {
        await docker.close();
      }
    });

    it("the same DockerApi and shell work for host: local", async () => {
      const target = fileSchema.parse({
        targets: {
          box: { host: "local", appDir: env.sandbox.appDir, dockerSocket: env.sandbox.dockerSocket, compose: { command: "docker-compose", project: env.sandbox.composeProject } },
        },
      }).targets.box;
      if (!target) throw new Error("no target");
      const conn = createTargetConnections("box", target, log);
      try {
        expect(conn.project).toBe(env.sandbox.composeProject);
        const list = await conn.docker.listContainers(conn.project);
        expect(list.map((c) => c.service)).toEqual(["web", "worker"]);
        // The shell's commands reach the same engine (DOCKER_HOST from dockerSocket).
        const ps = await conn.shell.exec(["docker", "ps", "-q", "--filter", `label=com.docker.compose.project=${conn.project}`], T);
        expect(ps.code).toBe(0);
        expect(ps.stdout.trim().split("\n").sort()).toEqual(list.map((c) => c.id.slice(0, 12)).sort());
      } finally {
        await conn.close();
      }
    });

    it("createTargetConnections over ssh: shell and docker share the pinned connection", async () => {
      const target = fileSchema.parse({
        targets: {
          vps: {
            host: `ssh://${env.sandbox.ssh.username}@127.0.0.1:${env.sandbox.ssh.port}`,
            ssh: { privateKeyPath: env.sandbox.ssh.privateKeyPath, knownHostsPath: env.sandbox.ssh.knownHostsPath },
            appDir: env.sandbox.appDir,
            dockerSocket: env.sandbox.dockerSocket,
            compose: { command: "docker-compose", project: env.sandbox.composeProject },
          },
        },
      }).targets.vps;
      if (!target) throw new Error("no target");
      const conn = createTargetConnections("vps", target, log);
      try {
        const [list, r] = await Promise.all([conn.docker.listContainers(conn.project), conn.shell.exec(["echo", "ok"], T)]);
        expect(list.map((c) => c.service)).toEqual(["web", "worker"]);
        expect(r.stdout).toBe("ok\n");
        expect((conn.shell as SshShell).connection.connectCount).toBe(1);
      } finally {
        await conn.close();
      }
    });

    it("follows events across a dropped connection, and sees a kill of web promptly (restarted after)", async () => {
      const relay = new Relay();
      await relay.start(env.sandbox.ssh.port);
      const shell = env.sshShell({ port: relay.port, knownHostsPath: env.knownHostsFor(relay.port, "kh-events") });
      const docker = new DockerodeApi({
        socketPath: env.sandbox.dockerSocket,
        dial: () => shell.forwardUnixSocket(env.sandbox.dockerSocket),
        reconnectMinMs: 100,
      });
      // The test pokes containers through the local socket: fast, so the 2 s budget measures the stream.
      const poke = new DockerodeApi({ socketPath: env.sandbox.dockerSocket }).docker;
      const events: DockerEvent[] = [];
      const errors: Error[] = [];
      const stream = docker.events(env.sandbox.composeProject, (e) => events.push(e), (e) => errors.push(e));
      try {
        const [web, worker] = await docker.listContainers(env.sandbox.composeProject);
        if (!web || !worker) throw new Error("sandbox app is not running");

        // An event from a container of the project arrives (once the stream is up: no sleep guessing when).
        await streamIsLive(poke, worker.id, events);

        // Cut the link: the stream errors, reconnects through a fresh SSH connection, and keeps going.
        relay.cut();
        await waitFor("the stream to notice", () => (errors.length > 0 ? true : undefined), 5_000);
        await waitFor("the reconnect", async () => ((await shell.exec(["true"], T)).code === 0 && shell.connection.connectCount >= 2 ? true : undefined));
        await streamIsLive(poke, worker.id, events);

        const killedAt = Date.now();
        await poke.getContainer(web.id).kill();
        const die = await waitFor("die of web", () => events.find((e) => e.action === "die" && e.containerId === web.id), 10_000, 10);
        // The latency figure is measured by bench/alerts.ts; this generous bound only catches a
        // stream that stopped following and saw the kill through a later replay.
        expect(Date.now() - killedAt).toBeLessThan(5_000);
        expect(events.some((e) => e.action === "kill" && e.containerId === web.id)).toBe(true);
        expect(die).toMatchObject({ service: "web", project: env.sandbox.composeProject, exitCode: 137 });
        expect(die.time.getTime()).toBeGreaterThan(killedAt - 5_000);
        // No duplicates from the `since` replay after the reconnect.
        const keys = events.map((e) => `${e.time.getTime()}:${e.containerId}:${e.action}`);
        expect(new Set(keys).size).toBe(keys.length);
      } finally {
        stream.stop();
        // Put the app back for whoever comes next.
        await shell.exec(composeUp({ command: "docker-compose", files: [] }), { ...T, timeoutMs: 60_000, cwd: env.sandbox.appDir });
        await waitFor("web healthy again", async () => {
          const list = await docker.listContainers(env.sandbox.composeProject);
          return list.find((c) => c.service === "web")?.health === "healthy" ? true : undefined;
        }, 30_000);
        await docker.close();
        await relay.stop();
      }
    });
  });
}
