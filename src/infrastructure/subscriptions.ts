import { mailConsumer } from '../consumers/mail/outbox-consumer';
import { relayHandler } from '../consumers/relay/relay-consumer';
import type { SubscriptionHandler } from '../application/subscription-handler';
import { projectionHandlers } from './projections';
import type { Services } from './services';

/** Every projection and side-effect consumer the service runs, each with its own checkpoint. */
export const subscriptionHandlers = (services: Services): SubscriptionHandler[] => [
  mailConsumer(),
  ...projectionHandlers(services),
  // One runner per relay target, each with its own checkpoint and lock (consumers/relay/).
  ...services.relay.map((channel) => relayHandler(channel, services)),
];
