/**
 * docker-compose.yml as Compose itself reads it (`docker compose config`, or `docker-compose config`): no
 * engine runs here, but the file must resolve, and the resolved file must hold the demo's promises. Without
 * Compose the test is skipped with a notice, except with CI=true, where it fails (.ci/run installs it).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parse } from 'yaml';
import { ciRequired, findProgram } from '../support/tools';

const REPO = path.resolve(__dirname, '../..');

/** `docker compose` when the plugin answers, else `docker-compose`. */
const compose = ((): string[] | null => {
  const docker = findProgram('docker');
  if (docker && spawnSync(docker, ['compose', 'version'], { encoding: 'utf8' }).status === 0) {
    return [docker, 'compose'];
  }
  const v1 = findProgram('docker-compose');
  return v1 ? [v1] : null;
})();
if (!compose && !ciRequired) {
  process.stderr.write(
    'compose config test skipped: neither `docker compose` nor docker-compose is installed\n',
  );
}

type Port = string | { host_ip?: string; published?: string | number; target: number };
type Service = {
  image?: string;
  build?: unknown;
  ports?: Port[];
  profiles?: string[];
  environment?: Record<string, string>;
  volumes?: (string | { source?: string; target: string })[];
};

const run = (args: string[], env: Record<string, string> = {}) => {
  if (!compose) throw new Error('CI=true and neither `docker compose` nor docker-compose is installed');
  const [file, ...pre] = compose;
  return spawnSync(file!, [...pre, '-f', path.join(REPO, 'docker-compose.yml'), ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    timeout: 60_000,
  });
};

const resolved = (profile?: string): Record<string, Service> => {
  const r = run([...(profile ? ['--profile', profile] : []), 'config'], { MASTER_KEY: 'a'.repeat(44) });
  if (r.status !== 0) throw new Error(r.stderr);
  return (parse(r.stdout) as { services: Record<string, Service> }).services;
};

/** The host address a published port binds: '' for all interfaces. */
const hostIps = (s: Service): string[] =>
  (s.ports ?? []).map((p) => {
    if (typeof p !== 'string') return p.host_ip ?? '';
    const parts = p.split(':');
    return parts.length === 3 ? parts[0]! : '';
  });

(compose || ciRequired ? describe : describe.skip)('docker-compose.yml', () => {
  it('refuses to resolve without MASTER_KEY: every replica must hold the same key', () => {
    const r = run(['config', '-q']);
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain('MASTER_KEY');
  });

  it('one image built once for both replicas, behind one proxy address; stores on 127.0.0.1 only', () => {
    const services = resolved();
    const builders = Object.entries(services).filter(([, s]) => s.build !== undefined);
    expect(builders.map(([name]) => name)).toEqual(['eventstore-ready']);
    const image = builders[0]![1].image;
    for (const name of ['identity-1', 'identity-2']) {
      expect(services[name]).toMatchObject({ image });
      expect(services[name]!.build).toBeUndefined();
      expect(services[name]!.ports ?? []).toEqual([]); // reachable through the proxy only
      expect(services[name]!.environment).toMatchObject({
        PUBLIC_URL: 'http://identity.localhost:8080',
        SMTP_URL: 'smtp://mailpit:1025',
        METRICS_PORT: '9464',
        TRUST_PROXY: '1',
      });
    }
    expect(services.proxy!.ports?.length).toBe(1);
    for (const name of ['eventstore', 'postgres', 'mailpit', 'rabbitmq', 'prometheus', 'grafana']) {
      expect(services[name]).toBeDefined();
      expect(hostIps(services[name]!).every((ip) => ip === '127.0.0.1')).toBe(true);
    }
    const mounts = JSON.stringify([services.prometheus!.volumes, services.grafana!.volumes]);
    expect(mounts).toContain('deploy/prometheus');
    expect(mounts).toContain('deploy/grafana/identity.json');
    // Compose v1 lists profile services in `config` too; what matters is that they carry the profile.
    for (const name of ['identity-pg-1', 'identity-pg-2', 'proxy-pg']) {
      if (services[name]) expect(services[name]!.profiles).toEqual(['postgres-only']);
    }
  });

  it('the postgres-only profile adds a PostgreSQL-only deployment behind its own proxy', () => {
    const services = resolved('postgres-only');
    for (const name of ['identity-pg-1', 'identity-pg-2']) {
      expect(services[name]!.environment).toMatchObject({ EVENT_STORE: 'postgres' });
      expect(services[name]!.environment!.EVENTSTORE_CONNECTION_STRING).toBeUndefined();
      expect(services[name]!.image).toBe(services['identity-1']!.image);
    }
    expect(services['proxy-pg']).toBeDefined();
  });
});
