import { z } from 'zod';

/**
 * RELAY_CONFIG (CONTRACT "Event relay: brokers and webhooks"): `{"targets": [{name, type, url, topics, pii,
 * types?, ...}]}`, with per type `rabbitmq` `exchange`; `nats` `stream`, `subject_prefix`; `kafka` `brokers`,
 * `topic_prefix`; `webhook` `secret` (`whsec_<base64>`), HTTPS except to loopback. `from`: `now` (default:
 * a target seen for the first time starts at the head) or `start` (replay the history).
 */

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const isLoopback = (host: string): boolean => LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);

const DURATION = /^(\d+)\s*(ms|s|m|h|d)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `max_age`: seconds as a number, or a string like `90s`, `30m`, `24h`, `7d`; milliseconds once parsed. */
const duration = z
  .union([z.number().int().positive(), z.string().regex(DURATION, 'a duration like 30m, 24h or 7d')])
  .transform((v) => {
    if (typeof v === 'number') return v * 1000;
    const m = DURATION.exec(v.trim())!;
    return Number(m[1]) * UNIT_MS[(m[2] ?? 's') as keyof typeof UNIT_MS];
  });

const common = {
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _ (it names the checkpoint)'),
  topics: z.enum(['seed', 'type']).default('seed'),
  pii: z.boolean().default(false),
  /** Event-type prefixes to relay; all feed events when absent. */
  types: z.array(z.string().min(1)).min(1).optional(),
  from: z.enum(['now', 'start']).default('now'),
  encoding: z.literal('json').default('json'),
  /** Events handed to the transport at once (one confirm round trip). */
  batch_size: z.number().int().min(1).max(1000).default(100),
};

const amqpUrl = z
  .string()
  .refine((v) => /^amqps?:\/\//.test(v), 'must be an amqp:// or amqps:// URL')
  .default('amqp://127.0.0.1:5672');
const natsUrl = z
  .string()
  .refine((v) => /^(nats|tls):\/\//.test(v), 'must be a nats:// or tls:// URL')
  .default('nats://127.0.0.1:4222');

const rabbitmq = z.object({
  ...common,
  type: z.literal('rabbitmq'),
  url: amqpUrl,
  exchange: z.string().min(1).max(255).default('identity.events'),
});

const nats = z.object({
  ...common,
  type: z.literal('nats'),
  url: natsUrl,
  subject_prefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated NATS subject tokens')
    .default('identity'),
  /** A JetStream stream to create over `<prefix>.>` when it does not exist; absent: it must exist. */
  stream: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .optional(),
});

const kafka = z.object({
  ...common,
  type: z.literal('kafka'),
  url: z.string().optional(),
  brokers: z.array(z.string().regex(/^[^\s:]+:\d+$/, 'host:port')).min(1),
  topic_prefix: z.string().default(''),
  client_id: z.string().default('identity-relay'),
});

const webhook = z.object({
  ...common,
  type: z.literal('webhook'),
  url: z
    .string()
    .url()
    .refine((v) => {
      const u = new URL(v);
      return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopback(u.hostname));
    }, 'must be an https:// URL (http:// only to a loopback address)'),
  secret: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'must be whsec_<base64> (Standard Webhooks)')
    .refine((v) => Buffer.from(v.slice(6), 'base64').length >= 24, 'the key must be at least 24 bytes'),
  /** A delivery still failing this long after its first attempt is parked (default 24 h). */
  max_age: duration.default(86_400_000),
  /** One POST's deadline. */
  timeout: duration.default(10_000),
});

export const relayTargetSchema = z.discriminatedUnion('type', [rabbitmq, nats, kafka, webhook]);

export const relayConfigSchema = z
  .object({ targets: z.array(relayTargetSchema).default([]) })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    for (const [i, t] of c.targets.entries()) {
      if (seen.has(t.name))
        ctx.addIssue({ code: 'custom', path: ['targets', i, 'name'], message: 'duplicate' });
      seen.add(t.name);
    }
  });

export type RelayTarget = z.output<typeof relayTargetSchema>;
export type RelayConfig = z.output<typeof relayConfigSchema>;
export type RabbitTarget = Extract<RelayTarget, { type: 'rabbitmq' }>;
export type NatsTarget = Extract<RelayTarget, { type: 'nats' }>;
export type KafkaTarget = Extract<RelayTarget, { type: 'kafka' }>;
export type WebhookTarget = Extract<RelayTarget, { type: 'webhook' }>;

/** Parses a document already read from JSON or YAML; throws with every problem named by its path. */
export const parseRelayConfig = (doc: unknown): RelayConfig => {
  const r = relayConfigSchema.safeParse(doc ?? {});
  if (!r.success) {
    throw new Error(r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  }
  return r.data;
};
