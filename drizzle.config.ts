import { defineConfig } from "drizzle-kit";

// Only `generate` is used: migrations are committed in drizzle/ and applied by the bot at start
// (src/infra/db/migrate.ts), so no database credentials live here.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/infra/db/schema/index.ts",
  out: "./drizzle",
  strict: true,
  verbose: true,
});
