/**
 * Recently seen update ids, in memory: the first, free line of de-duplication. The durable line
 * (processed_updates in Postgres) runs after the allowlist guard, so strangers cost no DB write.
 */
export class SeenUpdates {
  private readonly ids = new Set<number>();

  constructor(private readonly capacity = 50_000) {}

  /** True the first time an id is offered. */
  firstTime(updateId: number): boolean {
    if (this.ids.has(updateId)) return false;
    this.ids.add(updateId);
    if (this.ids.size > this.capacity) {
      // Sets iterate in insertion order: drop the oldest.
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return true;
  }
}
