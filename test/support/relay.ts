import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP relay in front of a server (sshd), so a test can cut the network under a live connection
 * the way a flaky link would (the client only sees its socket close).
 */
export class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async start(targetPort: number): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(targetPort, "127.0.0.1");
      this.sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const address = this.server?.address();
    this.port = typeof address === "object" && address ? address.port : 0;
  }

  /** Cuts every connection through the relay. */
  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  get connections(): number {
    return this.sockets.size / 2;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
