// A TCP server on the host's loopback that counts connections: a sample that reaches it proves
// the sandbox has a network. The sandbox suites start one and expect it never to be called.
import { createServer, type Server } from 'node:net';

export interface LoopbackCanary {
  readonly port: number;
  /** Connections made so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startLoopbackCanary(): Promise<LoopbackCanary> {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    socket.end('hello\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get connections() {
      return connections;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
