import type { RecordedEvent } from '../../application/event-store';
import { presentEvent } from '../../application/events/present';
import { topicOf, type TopicNaming } from '../../application/events/topics';
import type { PersonalDataVault } from '../../application/ports';
import type { RelayMessage } from './transport';

export type MessageOptions = {
  topics: TopicNaming;
  pii: boolean;
  vault: Pick<PersonalDataVault, 'open'>;
};

/** The user an event is about: the account stream's id, or a session event's `userId`. */
const userIdOf = (event: RecordedEvent): string | null => {
  if (event.streamId.startsWith('user-')) return event.streamId.slice('user-'.length);
  const data = event.data as { userId?: unknown } | null;
  return data && typeof data.userId === 'string' ? data.userId : null;
};

/**
 * One event as every target receives it: the body is exactly what `GET /v1/events` shows for it (the same
 * allow-list, secrets never, personal data `"[redacted]"` unless the target says `pii: true`).
 */
export const relayMessageOf = async (
  event: RecordedEvent,
  options: MessageOptions,
): Promise<RelayMessage> => {
  const json = await presentEvent(event, { revealPersonalData: options.pii, vault: options.vault });
  const headers: Record<string, string> = {
    type: json.type,
    stream: json.stream,
    position: json.position,
    schema_version: String(json.schema_version),
  };
  if (json.metadata.correlation_id) headers.correlation_id = json.metadata.correlation_id;
  const userId = userIdOf(event);
  if (userId) headers.user_id = userId;
  return {
    id: json.id,
    topic: topicOf(json.type, options.topics),
    key: json.stream,
    headers,
    body: Buffer.from(JSON.stringify(json)),
    occurredAt: new Date(json.occurred_at),
  };
};
