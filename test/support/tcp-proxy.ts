/**
 * A TCP relay in front of a server (PostgreSQL here) that a test can kill and restart on the same port: what
 * a crashed connection pooler, a failover or a flapping network does to the service's connections. Killing
 * it destroys every open socket on both sides at once (the clients see ECONNRESET or an unexpected end)
 * and refuses new connections until it is started again.
 *
 *   const proxy = await TcpProxy.start('127.0.0.1', 5432);
 *   const url = proxy.rewrite(process.env.DATABASE_URL);   // the same URL, through the proxy
 *   await proxy.kill(); ...; await proxy.restart();
 *   await proxy.close();
 */
import net from 'node:net';

export class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  /** Connections relayed since the start, for a test to see that its client went through. */
  accepted = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
    private listenPort: number,
  ) {}

  /** Listens on `port` (0: one the system picks, kept for every restart). */
  static async start(targetHost: string, targetPort: number, port = 0): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort, port);
    await proxy.restart();
    return proxy;
  }

  /** Relays to the host and port of a `postgres://` URL; `rewrite` then points that URL here. */
  static forUrl(url: string): Promise<TcpProxy> {
    const u = new URL(url);
    return TcpProxy.start(u.hostname || '127.0.0.1', Number(u.port || 5432));
  }

  get port(): number {
    return this.listenPort;
  }

  get running(): boolean {
    return this.server !== null;
  }

  /** `url` with its host and port replaced by this proxy's. */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.listenPort);
    return u.toString();
  }

  /** Starts listening again on the same port; a no-op while it runs. */
  async restart(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => this.relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // exclusive: a restart must own the port again, not share it with a listener left behind.
      server.listen({ port: this.listenPort, host: '127.0.0.1', exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => undefined);
    this.listenPort = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Destroys every relayed connection and stops listening until `restart`. */
  async kill(): Promise<void> {
    const server = this.server;
    this.server = null;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  close(): Promise<void> {
    return this.kill();
  }

  private relay(client: net.Socket): void {
    this.accepted += 1;
    const upstream = net.connect(this.targetPort, this.targetHost);
    const pair = [client, upstream];
    for (const s of pair) {
      this.sockets.add(s);
      s.setNoDelay(true);
      // A reset on one side is the point of the exercise, not a failure of the relay.
      s.on('error', () => undefined);
      s.on('close', () => {
        for (const t of pair) {
          this.sockets.delete(t);
          t.destroy();
        }
      });
    }
    client.pipe(upstream).pipe(client);
  }
}
