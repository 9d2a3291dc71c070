import type { ContainerSummary } from "./ports.js";

/**
 * The one rule for "this container is healthy", shared by the deploy health gate, /scale's
 * verification, the Docker monitor and /status: it runs, and its compose healthcheck (if it has
 * one) has passed. `starting` is not healthy yet.
 */
export function isHealthy(c: Pick<ContainerSummary, "state" | "health">): boolean {
  return c.state === "running" && (c.health === "healthy" || c.health === "none");
}

/** Why a container is not healthy, in one word: its health while it runs ("starting"), else its state ("exited"). */
export function unhealthyWord(c: Pick<ContainerSummary, "state" | "health">): string {
  return c.state === "running" ? c.health : c.state;
}
