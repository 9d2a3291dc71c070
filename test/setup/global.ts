import type { TestProject } from "vitest/node";
import { startPostgres } from "../support/postgres.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser URL of the run's throwaway Postgres cluster. */
    postgresUrl: string;
  }
}

/** Starts the real services the integration tier shares, once per run, and stops them after. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const postgres = await startPostgres();
  project.provide("postgresUrl", postgres.url);
  return async () => {
    postgres.stop();
  };
}
