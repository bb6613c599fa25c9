import type { RecordedEvent } from '../event-store';
import { SealedDataError, type PersonalDataVault } from '../ports';
import { catalogEntry, type FieldKind } from '../../catalog';

/**
 * Recorded events as the outside world sees them (CONTRACT "Events": event JSON over HTTP), shared by the
 * admin history, the CLI and the HTTP event feed.
 *
 * Data members go through an explicit ALLOW-list per event type, the catalogue's `fields` (src/catalog): a
 * member is shown only as the catalogue says, and a member added to an event does not compile until it
 * is described there. Secrets
 * (password hashes, token hashes, session nonces) are listed as `secret` and never shown;
 * an event type this code does not know shows no data at all. A `plain` member whose name or value looks
 * like a secret or sealed data is hidden too, as a second guard against a wrong entry.
 *
 * Personal data (sealed with the user's key) is opened only with `revealPersonalData` (the `pii:read` role,
 * admins, the CLI) and reads `"[erased]"` once the user's key is gone; otherwise it reads `"[redacted]"`.
 * Token ids stay: they are random ids, not secrets (docs/design.md, "One-time tokens").
 */

export type EventJson = {
  position: string;
  stream: string;
  revision: number;
  id: string;
  type: string;
  occurred_at: string;
  schema_version: number;
  data: Record<string, unknown>;
  metadata: {
    correlation_id?: string;
    causation_id?: string;
    actor?: { type: string; id: string | null };
    reason?: string;
  };
};

/** `vault` is required when `revealPersonalData` is true. */
export type PresentOptions = { revealPersonalData: boolean; vault?: Pick<PersonalDataVault, 'open'> };

export const ERASED = '[erased]';
/** Personal data shown to a caller who may not read it (no `pii:read`). */
export const REDACTED = '[redacted]';
/** A sealed value that does not open for a reason other than erasure (a defect, never plaintext). */
export const UNREADABLE = '[unreadable]';

const SECRET_NAME = /hash|nonce|secret|password|private|key|token(?!_?id$)/i;
const SEALED_VALUE = /^pii:v\d+:/;

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const looksSecret = (name: string, value: unknown): boolean =>
  SECRET_NAME.test(name) || (typeof value === 'string' && SEALED_VALUE.test(value));

/** The user whose key sealed the event's personal data. */
const ownerOf = (event: RecordedEvent, data: Record<string, unknown>): string | null => {
  if (event.streamId.startsWith('user-')) return event.streamId.slice('user-'.length);
  return typeof data.userId === 'string' ? data.userId : null;
};

const openValue = async (
  vault: Pick<PersonalDataVault, 'open'>,
  owner: string | null,
  value: string,
): Promise<string> => {
  if (owner === null) return UNREADABLE;
  try {
    return (await vault.open(owner, value)) ?? ERASED;
  } catch (e) {
    if (e instanceof SealedDataError || e instanceof TypeError) return UNREADABLE;
    throw e;
  }
};

const presentData = async (
  event: RecordedEvent,
  options: PresentOptions,
): Promise<Record<string, unknown>> => {
  const spec = catalogEntry(event.type)?.fields as Record<string, FieldKind> | undefined;
  const data = (typeof event.data === 'object' && event.data !== null ? event.data : {}) as Record<
    string,
    unknown
  >;
  if (!spec) return {};
  const owner = ownerOf(event, data);
  const out: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries(spec)) {
    if (!(name in data) || data[name] === undefined) continue;
    const value = data[name];
    if (kind === 'secret') continue;
    if (kind === 'personal') {
      if (typeof value !== 'string') out[snake(name)] = null;
      else if (!options.revealPersonalData) out[snake(name)] = REDACTED;
      else if (!options.vault) throw new Error('revealing personal data needs the vault');
      else out[snake(name)] = await openValue(options.vault, owner, value);
      continue;
    }
    if (looksSecret(name, value)) continue;
    out[snake(name)] = value;
  }
  return out;
};

const presentMetadata = (metadata: Record<string, unknown>): EventJson['metadata'] => {
  const out: EventJson['metadata'] = {};
  if (typeof metadata.correlation_id === 'string') out.correlation_id = metadata.correlation_id;
  if (typeof metadata.causation_id === 'string') out.causation_id = metadata.causation_id;
  const actor = metadata.actor as { type?: unknown; id?: unknown } | undefined;
  if (actor && typeof actor.type === 'string') {
    out.actor = { type: actor.type, id: typeof actor.id === 'string' ? actor.id : null };
  }
  if (typeof metadata.reason === 'string') out.reason = metadata.reason;
  return out;
};

export const presentEvent = async (event: RecordedEvent, options: PresentOptions): Promise<EventJson> => {
  const occurred = event.metadata.occurred_at;
  const version = event.metadata.schema_version;
  return {
    position: event.position,
    stream: event.streamId,
    revision: event.revision,
    id: event.id,
    type: event.type,
    occurred_at:
      typeof occurred === 'string' && !Number.isNaN(Date.parse(occurred))
        ? new Date(occurred).toISOString()
        : event.createdAt.toISOString(),
    schema_version: typeof version === 'number' ? version : 1,
    data: await presentData(event, options),
    metadata: presentMetadata(event.metadata),
  };
};

export const presentEvents = (events: RecordedEvent[], options: PresentOptions): Promise<EventJson[]> =>
  Promise.all(events.map((e) => presentEvent(e, options)));
