import type { CatalogEventType } from '../../catalog';

/**
 * Topic names (CONTRACT "Event relay"): `topics: seed` gives the names the consumers of the services this
 * one replaces already use, and snake_case of the type for every other event; `topics: type` the type.
 */
export const SEED_TOPICS: Partial<Record<CatalogEventType, string>> = {
  UserRegistered: 'user_registered',
  // A login is the session's start: the session stream's first event, which names the user.
  SessionStarted: 'user_logged_in',
  PasswordResetRequested: 'password_reset_requested',
  PasswordResetCompleted: 'password_reset_completed',
  UserDeactivated: 'user_deactivated',
  UserProfileUpdated: 'user_updated',
};

export const snakeCase = (type: string): string =>
  type
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();

export type TopicNaming = 'seed' | 'type';

export const topicOf = (type: string, naming: TopicNaming): string =>
  naming === 'type' ? type : (SEED_TOPICS[type as CatalogEventType] ?? snakeCase(type));

/** Each of `types` with its topic under both namings (published by `GET /v1/events/schema`). */
export const topicMapping = (types: readonly string[]): Record<string, { seed: string; type: string }> =>
  Object.fromEntries(types.map((type) => [type, { seed: topicOf(type, 'seed'), type }]));
