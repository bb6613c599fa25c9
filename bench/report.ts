import type { RebuildRow } from './rebuild';
import type { Summary } from './stats';
import { timingTable, type TimingRow } from './timing';

export type Results = {
  date: string;
  mode: 'quick' | 'full' | 'custom';
  backend: 'embedded' | 'postgres';
  machine: { cores: number; node: string; load_average_1m: { start: number; end: number } };
  settings: {
    seconds: number;
    threadpool: number;
    argon2_connections: number;
    http_connections: number;
    past_logins: number;
    rebuild_events: number;
  };
  ceilings: {
    argon2_verify: Summary;
    argon2_hash: Summary;
    bare_fixed_json: Summary;
    bare_read_append: Summary;
  };
  service: { register: Summary; login: Summary; refresh: Summary; me: Summary };
  subscription_lag: {
    load: Summary;
    events: number;
    missing: number;
    p50_ms: number;
    p99_ms: number;
    max_ms: number;
  };
  past_logins: {
    past_logins: number;
    heavy_p50_ms: number;
    fresh_p50_ms: number;
    ratio: number;
    setup_seconds: number;
  };
  rebuild: RebuildRow;
  memory: {
    idle_rss_mib: number | null;
    peak_rss_mib_under_load: number;
    bench_process_rss_mib: number | null;
  };
  scaling: {
    one: { login: Summary; me: Summary };
    two: { login: Summary; me: Summary; peak_rss_mib_each: number };
    note: string;
  } | null;
  profiles: string | null;
  /** Existing vs unknown addresses on the uniform answers (bench/timing.ts). */
  timing: TimingRow[];
};

const ok = (met: boolean): string => (met ? 'met' : '**missed**');
const rate = (n: number): string => `${Math.round(n).toLocaleString('en-US')}/s`;
const ms = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(1)} ms` : '—');

const throughputRow = (
  name: string,
  s: Summary,
  ceilingName: string,
  ceiling: Summary,
  target: number,
): string => {
  const ratio = s.per_second / ceiling.per_second;
  return `| ${name} | ${rate(s.per_second)} | ${ms(s.p50_ms)} | ${ms(s.p99_ms)} | ${ceilingName}: ${rate(ceiling.per_second)} | ${ratio.toFixed(2)} | ≥ ${target.toFixed(2)} | ${ok(ratio >= target)} |`;
};

/** The Markdown table of one run: the rows of the issue, then memory and scaling. */
export const markdown = (r: Results): string => {
  const c = r.ceilings;
  const s = r.service;
  const quick = r.mode === 'quick';
  const lines = [
    `Run ${r.date}, ${r.mode}${quick ? ' (`--quick`: short phases, reduced sizes)' : ''}, backend **${r.backend}**, ` +
      `${r.machine.cores} cores (1-min load average ${r.machine.load_average_1m.start} at start, ` +
      `${r.machine.load_average_1m.end} at end), Node ${r.machine.node}; ${r.settings.seconds} s per phase, ` +
      `UV_THREADPOOL_SIZE=${r.settings.threadpool}, ${r.settings.argon2_connections} connections for argon2 routes ` +
      `and their ceilings, ${r.settings.http_connections} for the others.`,
    '',
    '| operation | throughput | p50 | p99 | ceiling measured in the same run | ratio | target | result |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    throughputRow('login (correct password)', s.login, 'argon2id verify, in-process', c.argon2_verify, 0.9),
    throughputRow('register', s.register, 'argon2id hash, in-process', c.argon2_hash, 0.85),
    throughputRow('refresh', s.refresh, 'bare express PK read + append, one tx', c.bare_read_append, 0.6),
    throughputRow('GET /v1/users/me', s.me, 'bare express fixed JSON', c.bare_fixed_json, 0.5),
    `| projection rebuild, ${r.rebuild.events.toLocaleString('en-US')} events${quick ? ' (quick: not 1,000,000)' : ''} | ` +
      `${rate(r.rebuild.events_per_second)} | — | — | batched raw INSERT: ${rate(r.rebuild.insert_rows_per_second)} | ` +
      `${r.rebuild.ratio.toFixed(2)} | ≥ 0.80 | ${ok(r.rebuild.ratio >= 0.8)} |`,
    `| subscription lag under login load (${r.subscription_lag.events} events, ${r.subscription_lag.missing} missing) | ` +
      `${rate(r.subscription_lag.load.per_second)} logins | ${ms(r.subscription_lag.p50_ms)} | ${ms(r.subscription_lag.p99_ms)} | — | — | p99 < 50 ms | ` +
      `${ok(r.subscription_lag.p99_ms < 50 && r.subscription_lag.missing === 0)} |`,
    `| login p50, ${r.past_logins.past_logins.toLocaleString('en-US')} past logins${quick ? ' (quick: not 10,000)' : ''} vs a fresh user | — | ` +
      `${ms(r.past_logins.heavy_p50_ms)} vs ${ms(r.past_logins.fresh_p50_ms)} | — | — | ${r.past_logins.ratio.toFixed(2)} | ≤ 1.20 | ` +
      `${ok(r.past_logins.ratio <= 1.2)} |`,
    '',
    `Service resident memory: ${r.memory.idle_rss_mib ?? '?'} MiB idle, ${r.memory.peak_rss_mib_under_load} MiB peak under load.`,
  ];
  if (r.scaling) {
    const one = r.scaling.one;
    const two = r.scaling.two;
    const change = (a: Summary, b: Summary) =>
      `${rate(a.per_second)} → ${rate(b.per_second)} (×${(b.per_second / a.per_second).toFixed(2)})`;
    lines.push(
      `1 → 2 processes (${r.scaling.note}): login ${change(one.login, two.login)}, GET /v1/users/me ` +
        `${change(one.me, two.me)}; peak ${two.peak_rss_mib_each} MiB per process.`,
    );
  } else {
    lines.push(
      '1 → 2 processes: not measured on the embedded store (one process per data directory); run with ' +
        'DATABASE_URL set for two instances on one PostgreSQL.',
    );
  }
  if (r.timing.length > 0) {
    lines.push(
      '',
      'Uniform timing: alternating single requests, existing vs unknown address (which goes first drawn per pair); ' +
        'accuracy of a one-threshold classifier on one request, two-fold cross-validated.',
      '',
      timingTable(r.timing),
    );
  }
  return lines.join('\n');
};
