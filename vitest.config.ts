import { defineConfig } from "vitest/config";

// Two tiers: `unit` needs no services and runs in seconds; `integration` runs against real
// Postgres, sshd, dockerd and Redis that test/setup starts once per run (see test/run.sh).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/setup/global.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // The sandbox is one real VPS: test files share it, so they run one at a time.
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
