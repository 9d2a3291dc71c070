import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { composeLogs } from "../../../src/commands/compose.js";
import { gitHead, gitRevParse, parseGitHead, refCandidates } from "../../../src/commands/git.js";
import { toCommandLine } from "../../../src/commands/quote.js";
import { SshDisconnectedError, HostKeyMismatchError, HostKeyUnknownError, SshConnectError } from "../../../src/infra/ssh/errors.js";
import { fingerprintSha256 } from "../../../src/infra/ssh/known-hosts.js";
import { INJECTION_PAYLOADS, MARKER } from "../../support/injection-corpus.js";
import { freePort } from "../../support/ports.js";
import { Relay } from "../../support/relay.js";
import { capturingLogger, remoteProcessExists, T, type RemoteSandbox } from "../../support/remote.js";
import { waitFor } from "../../support/wait.js";


/** SshShell against the sandbox's real, pinned sshd: commands, reconnects, host keys, injection. */
export function sshShellTests(env: RemoteSandbox): void {
  describe("SshShell over the pinned connection", () => {
    it("runs argv commands with exit code, stdout and stderr, env and cwd", async () => {
      const shell = env.sshShell();
      const r = await shell.exec(["sh", "-c", 'printf "%s|%s" "$1" "$GREETING"; printf oops >&2; exit 7', "sh", "a b'c"], {
        ...T,
        env: { GREETING: "hello there" },
      });
      expect(r).toMatchObject({ code: 7, stdout: "a b'c|hello there", stderr: "oops", timedOut: false, truncated: false });
      const pwd = await shell.exec(["pwd"], { ...T, cwd: env.sandbox.appDir });
      expect(pwd.stdout.trim()).toBe(env.sandbox.appDir);
      // Git builders run as they would in a deploy.
      const head = parseGitHead((await shell.exec(gitHead(), { ...T, cwd: env.sandbox.appDir })).stdout);
      expect(head?.sha).toBe(env.sandbox.versions.v1);
      expect(shell.connection.connectCount).toBe(1);
    });

    it("resolves a branch and a tag through the candidate refs", async () => {
      const shell = env.sshShell();
      const resolve = async (ref: string) => {
        for (const candidate of refCandidates("origin", ref)) {
          const r = await shell.exec(gitRevParse(candidate), { ...T, cwd: env.sandbox.appDir });
          if (r.code === 0) return r.stdout.trim();
        }
        return null;
      };
      expect(await resolve("release/v2")).toBe(env.sandbox.versions.v2);
      expect(await resolve("v2.0.0")).toBe(env.sandbox.versions.v2);
      expect(await resolve("does-not-exist")).toBeNull();
    });

    it("runs a trusted operator line as written", async () => {
      const r = await env.sshShell().execTrusted("echo $((6*7)) | tr 4 X; test -d /proc", T);
      expect(r).toMatchObject({ code: 0, stdout: "X2\n" });
    });

    it("does not run the command when cwd is missing", async () => {
      const marker = join(env.scratch, "cwd-marker");
      const r = await env.sshShell().execTrusted(`touch ${marker}; touch ${marker}`, { ...T, cwd: join(env.scratch, "nope") });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/can't cd|No such file/);
      expect(existsSync(marker)).toBe(false);
    });

    it("reuses one connection; a burst shares one connect and at most 8 channels", async () => {
      const shell = env.sshShell();
      let peak = 0;
      let queuedSeen = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, shell.connection.channelsInUse);
        queuedSeen = Math.max(queuedSeen, shell.connection.channelsQueued);
      }, 5);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => shell.exec(["sh", "-c", `sleep 0.3; echo ${i}`], T)),
      );
      clearInterval(sampler);
      expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
      expect(shell.connection.connectCount).toBe(1);
      expect(peak).toBe(8);
      expect(queuedSeen).toBeGreaterThan(0);
    });

    it("streams output and caps it to the tail", async () => {
      const seen: string[] = [];
      const r = await env.sshShell().exec(["seq", "1", "50000"], { ...T, maxOutputBytes: 12, onOutput: (c) => seen.push(c) });
      expect(r.truncated).toBe(true);
      expect(r.stdout).toBe("49999\n50000\n");
      expect(seen.join("").length).toBeGreaterThan(200_000);
    });

    it("kills a hanging command at its timeout, background children included", async () => {
      const shell = env.sshShell();
      const tag = `${process.pid}.${Date.now() % 100000}`;
      const started = Date.now();
      const r = await shell.execTrusted(`sleep 2000${tag} & sleep 1000${tag}`, { timeoutMs: 1000 });
      const elapsed = Date.now() - started;
      expect(r.timedOut).toBe(true);
      expect(r.code).toBeNull();
      expect(elapsed).toBeGreaterThanOrEqual(1000);
      // Worst case by design is deadline + 1.5 s for the channel to close + 2 s for the close to
      // confirm; the bound is generous so a busy machine does not fail it, and still catches a hang.
      expect(elapsed).toBeLessThan(15_000);
      // Gone right away: the TERM went over the channel to `timeout`, which signalled the group.
      expect(await remoteProcessExists(shell, `sleep 1000${tag}`)).toBe(false);
      expect(await remoteProcessExists(shell, `sleep 2000${tag}`)).toBe(false);
    });

    it("reconnects transparently when the connection drops between two commands", async () => {
      const relay = new Relay();
      await relay.start(env.sandbox.ssh.port);
      try {
        const { log, messages } = capturingLogger();
        const shell = env.sshShell({ port: relay.port, knownHostsPath: env.knownHostsFor(relay.port), log });
        expect((await shell.exec(["echo", "one"], T)).stdout).toBe("one\n");
        relay.cut();
        // No pause: the next command may find the dead connection before or after its close event.
        expect((await shell.exec(["echo", "two"], T)).stdout).toBe("two\n");
        expect(shell.connection.connectCount).toBe(2);
        const closedBefore = messages.filter((m) => m === "ssh connection closed").length;
        relay.cut();
        // This time after the close event: the shell already knows the connection is gone.
        await waitFor("the close to be noticed", () => (messages.filter((m) => m === "ssh connection closed").length > closedBefore ? true : undefined));
        expect((await shell.exec(["echo", "three"], T)).stdout).toBe("three\n");
        expect(shell.connection.connectCount).toBe(3);
      } finally {
        await relay.stop();
      }
    });

    it("reconnects when the server kills the session", async () => {
      const shell = env.sshShell();
      // Walk up from the command to the per-connection sshd processes (they outlive the command).
      const ancestry = await shell.execTrusted(
        `pid=$$; while [ "$pid" -gt 1 ]; do printf '%s %s\\n' "$pid" "$(tr '\\0' ' ' < /proc/$pid/cmdline)"; pid=$(awk '/^PPid:/{print $2}' /proc/$pid/status); done`,
        T,
      );
      const chain = ancestry.stdout
        .split("\n")
        // The per-connection processes, not the listener (whose title also starts with "sshd: ").
        .map((line) => /^(\d+) sshd: (?!.*\[listener\])/.exec(line))
        .flatMap((m) => (m?.[1] ? [Number(m[1])] : []));
      expect(chain.length).toBeGreaterThan(0);
      for (const pid of chain) process.kill(pid, "SIGKILL");
      expect((await shell.exec(["echo", "back"], T)).stdout).toBe("back\n");
      expect(shell.connection.connectCount).toBe(2);
    });

    it("reports a connection lost during a command instead of retrying it", async () => {
      const relay = new Relay();
      await relay.start(env.sandbox.ssh.port);
      try {
        const shell = env.sshShell({ port: relay.port, knownHostsPath: env.knownHostsFor(relay.port) });
        const tag = `lost-${process.pid}-${Date.now() % 100000}`;
        const running = shell.exec(["sh", "-c", `sleep 5; : ${tag}`], T);
        // Cut only once the command really runs on the target (seen over a second, direct connection).
        const observer = env.sshShell();
        await waitFor("the command to run on the target", async () => ((await remoteProcessExists(observer, tag)) ? true : undefined));
        relay.cut();
        await expect(running).rejects.toBeInstanceOf(SshDisconnectedError);
      } finally {
        await relay.stop();
      }
    });
  });

  describe("host key pinning and connect failures", () => {
    it("refuses a server whose key does not match, and runs nothing", async () => {
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(env.scratch, "impostor")]);
      const impostor = readFileSync(join(env.scratch, "impostor.pub"), "utf8").split(" ").slice(0, 2).join(" ");
      const knownHostsPath = join(env.scratch, "kh-wrong");
      writeFileSync(knownHostsPath, `[127.0.0.1]:${env.sandbox.ssh.port} ${impostor}\n`);
      const marker = join(env.scratch, "mismatch-marker");
      const shell = env.sshShell({ knownHostsPath });
      const error = await shell.exec(["touch", marker], T).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HostKeyMismatchError);
      const mismatch = error as HostKeyMismatchError;
      const serverKey = Buffer.from(env.sandbox.ssh.hostKeyPublic.split(" ")[1] ?? "", "base64");
      expect(mismatch.fingerprint).toBe(fingerprintSha256(serverKey));
      expect(mismatch.expected).toEqual([fingerprintSha256(Buffer.from(impostor.split(" ")[1] ?? "", "base64"))]);
      expect(mismatch.message).toContain(`127.0.0.1:${env.sandbox.ssh.port}`);
      expect(mismatch.message).toContain(mismatch.fingerprint);
      expect(existsSync(marker)).toBe(false);
    });

    it("refuses a host missing from known_hosts (no trust on first use)", async () => {
      const otherPort = join(env.scratch, "kh-other-port");
      writeFileSync(otherPort, `[127.0.0.1]:1 ${env.sandbox.ssh.hostKeyPublic}\n127.0.0.1 ${env.sandbox.ssh.hostKeyPublic}\n`);
      const marker = join(env.scratch, "unknown-marker");
      for (const knownHostsPath of [otherPort, join(env.scratch, "no-such-file")]) {
        const error = await env.sshShell({ knownHostsPath }).exec(["touch", marker], T).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(HostKeyUnknownError);
        expect((error as HostKeyUnknownError).message).toMatch(/SHA256:[A-Za-z0-9+/]{43}/);
      }
      expect(existsSync(marker)).toBe(false);
    });

    it("fails fast with SshConnectError when nothing listens", async () => {
      const port = await freePort();
      const started = Date.now();
      const error = await env.sshShell({ port, connectTimeoutMs: 60_000 }).exec(["true"], T).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SshConnectError);
      expect((error as SshConnectError).message).toContain(`127.0.0.1:${port}`);
      expect((error as SshConnectError).cause.message).toMatch(/ECONNREFUSED/);
      // Refused at once, not after the (here very long) connect timeout.
      expect(Date.now() - started).toBeLessThan(30_000);
    });

    it("gives up at the connect timeout when the server never speaks", async () => {
      const silent = createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const port = (silent.address() as { port: number }).port;
      try {
        const started = Date.now();
        const error = await env.sshShell({ port, connectTimeoutMs: 1_500 }).exec(["true"], T).catch((e: unknown) => e);
        const elapsed = Date.now() - started;
        expect(error).toBeInstanceOf(SshConnectError);
        expect(elapsed).toBeGreaterThanOrEqual(1_400);
        expect(elapsed).toBeLessThan(15_000); // generous: only a connect that never gives up fails it
      } finally {
        silent.close();
      }
    });
  });

  describe("injection over real SSH", () => {
    it("hands every payload to the remote program as one byte-identical argument and runs nothing", async () => {
      const shell = env.sshShell();
      const cwd = mkdtempSync(join(env.scratch, "inj-"));
      const payloads = INJECTION_PAYLOADS.filter((p) => !p.value.includes("\0"));
      // All payloads as arguments of one command (one exec keeps this fast): each must come back
      // whole, NUL-separated, after passing the quoting and the remote login shell.
      const echoed = await shell.exec(["sh", "-c", 'for a; do printf "%s\\0" "$a"; done', "sh", ...payloads.map((p) => p.value)], {
        ...T,
        cwd,
      });
      expect(echoed.code).toBe(0);
      const back = echoed.stdout.split("\0").slice(0, -1);
      payloads.forEach((p, i) => expect(back[i], p.name).toBe(p.value));

      // Through the git builder (as if validation had been bypassed): git says "no", nothing runs.
      const lines = payloads.flatMap((p) => {
        try {
          return [`${toCommandLine(gitRevParse(`refs/tags/${p.value}`))}; echo "rc=$?"`];
        } catch {
          return [];
        }
      });
      expect(lines.length).toBeGreaterThan(30);
      const git = await shell.execTrusted(lines.join("\n"), { ...T, cwd: env.sandbox.appDir });
      const codes = git.stdout.split("\n").filter((l) => l.startsWith("rc="));
      expect(codes).toHaveLength(lines.length);
      expect(codes.every((c) => c !== "rc=0")).toBe(true);
      for (const p of payloads) {
        expect(() => composeLogs({ command: "docker-compose", files: [] }, p.value, 10), p.name).toThrow(TypeError);
      }
      expect(readdirSync(cwd)).toEqual([]);
      expect(existsSync(join(env.sandbox.appDir, MARKER))).toBe(false);
    });
  });
}
