// A TCP proxy in front of the test broker that a test can cut and restore: the broker becomes
// unreachable for one client process without touching the broker the other suites share.
// Kafka clients connect to the addresses the broker advertises (Metadata and FindCoordinator
// answers), so the proxy rewrites the advertised port in every response frame to its own: the
// host string and the 4-byte port have the same length either way, so frame sizes hold.
import { createServer, connect, type Server, type Socket } from 'node:net';

export class BrokerProxy {
  readonly #sockets = new Set<Socket>();
  #server: Server | null = null;

  private constructor(
    private readonly host: string,
    private readonly brokerPort: number,
    private port: number,
  ) {}

  /** A proxy on 127.0.0.1 (a free port) for the broker at `target` ("127.0.0.1:9092"). */
  static async start(target: string): Promise<BrokerProxy> {
    const [host, port] = target.split(':') as [string, string];
    if (host !== '127.0.0.1') throw new Error(`the proxy listens on 127.0.0.1 and keeps the advertised host: the broker must advertise 127.0.0.1, not ${host}`);
    const proxy = new BrokerProxy(host, Number(port), 0);
    await proxy.restore();
    return proxy;
  }

  /** The bootstrap address that goes through the proxy. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** The advertised address as it appears in a response: INT16 length, host, INT32 port. */
  #encoded(port: number): Buffer {
    const host = Buffer.from(this.host, 'utf8');
    const out = Buffer.alloc(2 + host.length + 4);
    out.writeInt16BE(host.length, 0);
    host.copy(out, 2);
    out.writeInt32BE(port, 2 + host.length);
    return out;
  }

  #relay(client: Socket): void {
    const broker = connect(this.brokerPort, this.host);
    this.#sockets.add(client);
    this.#sockets.add(broker);
    const drop = () => {
      client.destroy();
      broker.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(broker);
    };
    client.on('error', drop).on('close', drop);
    broker.on('error', drop).on('close', drop);
    client.pipe(broker);
    // Responses are size-prefixed frames: rewrite each whole frame, never across two chunks.
    const from = this.#encoded(this.brokerPort);
    const to = this.#encoded(this.port);
    let pending = Buffer.alloc(0);
    broker.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (pending.length < 4 + size) break;
        const frame = Buffer.from(pending.subarray(0, 4 + size));
        pending = pending.subarray(4 + size);
        for (let at = frame.indexOf(from); at >= 0; at = frame.indexOf(from, at + to.length)) to.copy(frame, at);
        client.write(frame);
      }
    });
  }

  /** The broker becomes unreachable: open connections drop, new ones are refused. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again, on the same port (a free one the first time). */
  async restore(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => this.#relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }
}
