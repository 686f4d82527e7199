/**
 * What the test servers here share (fake registry, push registry, token server, Bearer gate): an HTTP
 * server on a free 127.0.0.1 port, answered by the subclass's `handle`, closed with its open connections.
 */
import * as http from 'node:http';
import { AddressInfo } from 'node:net';

export abstract class LocalServer {
  port = 0;
  private server?: http.Server;

  /** host:port, e.g. `127.0.0.1:41234`. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => this.handle(req, res));
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.port = (server.address() as AddressInfo).port;
  }

  /** Closes the server (if started), cutting its keep-alive connections so the close does not wait on them. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }

  protected abstract handle(req: http.IncomingMessage, res: http.ServerResponse): void;
}
