/**
 * The welcome service as a process:
 *
 *   IDENTITY_URL=http://localhost:3000 IDENTITY_EMAIL=welcome@example.com IDENTITY_PASSWORD=... \
 *     npx tsx examples/welcome-service/src/main.ts
 *
 * or natively on EventStoreDB (personal data then reads "[redacted]"):
 *
 *   EVENTSTORE_CONNECTION_STRING='esdb://localhost:2113?tls=false' npx tsx examples/welcome-service/src/main.ts
 *
 * WELCOME_DATA_DIR (default ./data/welcome-service) holds its table and checkpoint. SIGTERM or SIGINT stops
 * it after the event in hand; the next start resumes from the checkpoint.
 */
import { eventStoreDb, httpFeed, type FeedSource } from '../../../packages/subscriber/src';
import { serviceAccountTokens } from './access-token';
import { startWelcomeService } from './welcome-service';

const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const sourceFromEnv = (): FeedSource => {
  const native = process.env.EVENTSTORE_CONNECTION_STRING;
  if (native) return eventStoreDb({ connectionString: native });
  const baseUrl = required('IDENTITY_URL');
  return httpFeed({
    baseUrl,
    getAccessToken: serviceAccountTokens({
      baseUrl,
      email: required('IDENTITY_EMAIL'),
      password: required('IDENTITY_PASSWORD'),
    }),
  });
};

const main = async (): Promise<void> => {
  const controller = new AbortController();
  process.once('SIGTERM', () => controller.abort());
  process.once('SIGINT', () => controller.abort());
  const { store, stopped } = await startWelcomeService({
    source: sourceFromEnv(),
    dataDir: process.env.WELCOME_DATA_DIR ?? './data/welcome-service',
    signal: controller.signal,
    onError: (error, retry) =>
      process.stderr.write(
        `welcome-service: ${(error as Error).message ?? String(error)}; retry ${retry.attempt} in ${retry.inMs} ms\n`,
      ),
  });
  process.stdout.write(
    `welcome-service: following the feed (${store.verifiedUsers().length} verified users)\n`,
  );
  await stopped;
  process.stdout.write(`welcome-service: stopped (${store.verifiedUsers().length} verified users)\n`);
};

main().catch((e: unknown) => {
  process.stderr.write(`welcome-service: ${(e as Error).message ?? String(e)}\n`);
  process.exit(1);
});
