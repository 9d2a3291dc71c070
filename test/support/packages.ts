import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

let updated = false;

/**
 * Installs Debian packages when a binary they provide is missing, so that a fresh machine (CI)
 * needs nothing by hand. `probes` maps each package to a path that proves it is installed.
 */
export function ensureDebianPackages(probes: Record<string, string>): void {
  const missing = Object.entries(probes)
    .filter(([, path]) => !existsSync(path))
    .map(([pkg]) => pkg);
  if (missing.length === 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  if (!updated) {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "ignore", env });
    updated = true;
  }
  execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { stdio: "ignore", env });
}
