/**
 * Relay tests' helpers: a RELAY_CONFIG file, the account journey the contract names (register, verify, log
 * in, reset a password, deactivate), and consumers reading what reached a broker.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { runRoleCommand } from '../../src/cli/roles';
import type { TestApp } from './app';
import { nextMail, registerVerified, signedIn, tokenIn } from './account-flows';
import { loginAs, postJson } from './session-fixtures';

export const RABBITMQ_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export const relayConfigFile = (targets: unknown[]): string => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'identity-relay-'));
  const file = path.join(dir, 'relay.json');
  writeFileSync(file, JSON.stringify({ targets }));
  return file;
};

export const uniqueName = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/** The seed topics of the journey below, in the order its commands append them. */
export const JOURNEY_SEED_TOPICS = [
  'user_registered',
  'user_logged_in',
  'password_reset_requested',
  'password_reset_completed',
  'user_deactivated',
];

const quiet = { out: () => undefined, err: () => undefined };

/** An admin to deactivate with (its own events are the admin's, told apart by user_id). */
export const makeAdmin = async (t: TestApp) => {
  const admin = await signedIn(t);
  if (
    (await runRoleCommand(t.services, 'grant', [admin.email, 'admin', '--reason', 'relay test'], quiet)) !== 0
  )
    throw new Error('grant failed');
  return { ...admin, auth: { authorization: `Bearer ${(await loginAs(t, admin)).access_token}` } };
};

/** Register, verify, log in, reset the password, deactivate: returns the account's user id. */
export const journey = async (t: TestApp, admin: { auth: Record<string, string> }): Promise<string> => {
  const account = await registerVerified(t);
  await loginAs(t, account);
  const since = t.mail.messages.length;
  const forgot = await postJson(t, '/v1/auth/forgot-password', { email: account.email });
  if (forgot.status !== 202 && forgot.status !== 204) throw new Error(`forgot answered ${forgot.status}`);
  const token = tokenIn(await nextMail(t, account.email.toLowerCase(), 'reset', since));
  const reset = await postJson(t, '/v1/auth/reset-password', {
    token,
    new_password: 'a-new-harbour-5522-plum',
  });
  if (reset.status !== 204) throw new Error(`reset answered ${reset.status}`);
  const off = await postJson(
    t,
    `/v1/admin/users/${account.userId}/deactivate`,
    { reason: 'relay test' },
    admin.auth,
  );
  if (off.status !== 204) throw new Error(`deactivate answered ${off.status}`);
  return account.userId;
};

export type Received = {
  routingKey: string;
  messageId: string;
  headers: Record<string, string>;
  body: { id: string; type: string; position: string; stream: string; data: Record<string, unknown> };
  redelivered: boolean;
};

/** A queue bound to the exchange for every topic (`#`), collecting what arrives. */
export const rabbitQueue = async (exchange: string, url = RABBITMQ_URL) => {
  const connection = await amqp.connect(url);
  const channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  await channel.bindQueue(queue, exchange, '#');
  const received: Received[] = [];
  await channel.consume(queue, (m) => {
    if (!m) return;
    const headers = Object.fromEntries(
      Object.entries(m.properties.headers ?? {}).map(([k, v]) => [k, String(v)]),
    );
    received.push({
      routingKey: m.fields.routingKey,
      messageId: String(m.properties.messageId),
      headers,
      body: JSON.parse(m.content.toString('utf8')) as Received['body'],
      redelivered: m.fields.redelivered,
    });
    channel.ack(m);
  });
  return {
    received,
    close: async () => {
      await connection.close().catch(() => undefined);
    },
  };
};

export const waitUntil = async (what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};
