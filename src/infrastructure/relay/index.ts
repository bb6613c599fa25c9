import type { RelayConfig, RelayTarget } from '../../consumers/relay/config';
import { emptyStats, type RelayChannel } from '../../consumers/relay/relay-consumer';
import type { RelayTransport } from '../../consumers/relay/transport';
import { KafkaTransport } from './kafka';
import { NatsTransport } from './nats';
import { RabbitMqTransport } from './rabbitmq';
import { WebhookTransport } from './webhook';

export const createTransport = (target: RelayTarget): RelayTransport => {
  switch (target.type) {
    case 'rabbitmq':
      return new RabbitMqTransport(target);
    case 'nats':
      return new NatsTransport(target);
    case 'webhook':
      return new WebhookTransport(target);
    case 'kafka':
      return new KafkaTransport(target);
  }
};

/** One channel per configured target: its transport (not connected until the first publish) and counters. */
export const createRelayChannels = (config: RelayConfig): RelayChannel[] =>
  config.targets.map((target) => ({ target, transport: createTransport(target), stats: emptyStats() }));
