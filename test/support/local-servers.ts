/**
 * Pieces the tests and the benchmark share for the servers they start on this machine: a free port, and
 * a scratch PostgreSQL database dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

export const adminQuery = async (url: string, text: string): Promise<void> => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
};

const withDatabase = (url: string, database: string): string => {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
};

/**
 * An empty database on the server at `serverUrl`, named `<prefix><base36 ms>_<random>` so that a run that
 * was interrupted leaves names its cleanup can find. The service migrates it on its first start.
 */
export const scratchPostgresDatabase = async (
  serverUrl: string,
  prefix: string,
): Promise<{ url: string; drop: () => Promise<void> }> => {
  const name = `${prefix}${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await adminQuery(serverUrl, `create database ${name}`);
  return {
    url: withDatabase(serverUrl, name),
    drop: () => adminQuery(serverUrl, `drop database if exists ${name} with (force)`),
  };
};
