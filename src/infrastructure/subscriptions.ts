import { mailConsumer } from '../consumers/mail/outbox-consumer';
import type { SubscriptionHandler } from '../application/subscription-handler';
import { projectionHandlers } from './projections';
import type { Services } from './services';

/** Every projection and side-effect consumer the service runs, each with its own checkpoint. */
export const subscriptionHandlers = (_services: Services): SubscriptionHandler[] => [
  mailConsumer(),
  ...projectionHandlers(_services),
];
