import { describe, expect, it } from "vitest";
import {
  compareContainers,
  healthFromStatusText,
  LineSplitter,
  parseEventLine,
  summaryFromInspect,
  summaryFromList,
} from "../../src/infra/docker/map.js";

const labels = {
  "com.docker.compose.project": "shop",
  "com.docker.compose.service": "web",
  "com.docker.compose.container-number": "2",
};

describe("summaryFromInspect", () => {
  it("maps a healthy running container", () => {
    expect(
      summaryFromInspect({
        Id: "abc",
        Name: "/shop_web_2",
        Config: { Image: "shop_web", Labels: labels },
        State: { Status: "running", StartedAt: "2026-11-22T10:00:00.123456789Z", ExitCode: 0, OOMKilled: false, Health: { Status: "healthy" } },
      }),
    ).toEqual({
      id: "abc",
      name: "shop_web_2",
      service: "web",
      number: 2,
      state: "running",
      health: "healthy",
      image: "shop_web",
      startedAt: new Date("2026-11-22T10:00:00.123Z"),
      exitCode: null,
      oomKilled: false,
    });
  });

  it("maps an OOM-killed exited container without healthcheck", () => {
    const s = summaryFromInspect({
      Id: "def",
      Name: "/shop_worker_1",
      Config: { Image: "busybox", Labels: { ...labels, "com.docker.compose.service": "worker", "com.docker.compose.container-number": "1" } },
      State: { Status: "exited", StartedAt: "2026-11-22T10:00:00Z", ExitCode: 137, OOMKilled: true },
    });
    expect(s).toMatchObject({ service: "worker", number: 1, state: "exited", health: "none", exitCode: 137, oomKilled: true });
  });

  it("treats a never-started container and odd values safely", () => {
    const s = summaryFromInspect({
      Id: "x",
      Config: { Labels: null },
      State: { Status: "weird", StartedAt: "0001-01-01T00:00:00Z", Health: { Status: "bogus" } },
    });
    expect(s).toMatchObject({ name: "", service: "", number: 1, state: "dead", health: "none", startedAt: null, image: "" });
  });
});

describe("list entries", () => {
  it.each([
    ["Up 3 minutes (healthy)", "healthy"],
    ["Up 1 second (health: starting)", "starting"],
    ["Up 2 hours (unhealthy)", "unhealthy"],
    ["Up 2 hours", "none"],
    ["Exited (137) 5 seconds ago", "none"],
  ])("reads health from %j", (status, health) => {
    expect(healthFromStatusText(status)).toBe(health);
  });

  it("maps a list entry", () => {
    expect(summaryFromList({ Id: "a", Names: ["/shop_web_2"], Image: "img", State: "running", Status: "Up 1 minute (healthy)", Labels: labels })).toMatchObject({
      name: "shop_web_2",
      service: "web",
      number: 2,
      state: "running",
      health: "healthy",
    });
  });

  it("sorts by service then replica", () => {
    const base = summaryFromList({ Id: "a", Labels: labels });
    const list = [
      { ...base, service: "worker", number: 2 },
      { ...base, service: "web", number: 3 },
      { ...base, service: "worker", number: 1 },
    ].sort(compareContainers);
    expect(list.map((c) => `${c.service}${c.number}`)).toEqual(["web3", "worker1", "worker2"]);
  });
});

describe("events", () => {
  const die =
    '{"status":"die","id":"c1","from":"img","Type":"container","Action":"die","Actor":{"ID":"c1","Attributes":{"com.docker.compose.project":"shop","com.docker.compose.service":"web","exitCode":"137","name":"shop_web_1"}},"scope":"local","time":1763805600,"timeNano":1763805600123456789}';

  it("parses a die event with exact nanosecond time", () => {
    expect(parseEventLine(die)).toEqual({
      timeNano: 1763805600123456789n,
      event: {
        action: "die",
        containerId: "c1",
        containerName: "shop_web_1",
        service: "web",
        project: "shop",
        exitCode: 137,
        time: new Date(1763805600123),
      },
    });
  });

  it("keeps health_status actions and skips non-container or broken lines", () => {
    const health = die.replace(/"Action":"die"/, '"Action":"health_status: unhealthy"');
    expect(parseEventLine(health)?.event.action).toBe("health_status: unhealthy");
    expect(parseEventLine(die.replace('"Type":"container"', '"Type":"network"'))).toBeNull();
    expect(parseEventLine("{not json")).toBeNull();
    expect(parseEventLine("")).toBeNull();
    expect(parseEventLine('{"Type":"container"}')).toBeNull();
  });

  it("splits a stream into lines whatever the chunk boundaries", () => {
    const splitter = new LineSplitter();
    const text = `${die}\n${die}\n`;
    const lines: string[] = [];
    for (let i = 0; i < text.length; i += 7) lines.push(...splitter.push(text.slice(i, i + 7)));
    expect(lines).toEqual([die, die]);
  });
});
