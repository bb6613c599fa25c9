import path from 'node:path';
import { readFileIfExists, writeFileAtomic, type AccountEvent } from '../../../packages/subscriber/src';

/** A user whose address is verified, as this service knows them. */
export type VerifiedUser = {
  user_id: string;
  /** Plaintext when the feed reader holds `pii:read`, "[redacted]" otherwise; null once erased. */
  email: string | null;
  username: string | null;
  verified_at: string;
};

/** The effect this service exists for: one welcome per verified user, never two. */
export type Welcome = { user_id: string; email: string | null; event_id: string; sent_at: string };

type State = {
  /**
   * The highest revision applied per stream. Delivery is at-least-once, so an event may come again after
   * a crash or a stop; a revision at or below this one has already had its effect and is passed over.
   */
  applied: Record<string, number>;
  /** Registered, not yet verified: kept only to know the address when the verification comes. */
  pending: Record<string, { email: string | null; username: string | null }>;
  users: Record<string, VerifiedUser>;
  welcomes: Welcome[];
};

const empty = (): State => ({ applied: {}, pending: {}, users: {}, welcomes: [] });

const USER_STREAM = 'user-';

/**
 * The service's own table of verified users, kept in one JSON file. Each event's change and its dedupe
 * mark are written in ONE atomic file replacement, so applying an event is all or nothing and a
 * redelivered event changes nothing: exactly-once in effect on top of at-least-once delivery.
 */
export class WelcomeStore {
  private constructor(
    private readonly file: string,
    private state: State,
  ) {}

  static async open(dataDir: string): Promise<WelcomeStore> {
    const file = path.resolve(dataDir, 'welcome.json');
    const text = await readFileIfExists(file);
    return new WelcomeStore(file, text === null ? empty() : (JSON.parse(text) as State));
  }

  verifiedUsers(): VerifiedUser[] {
    return Object.values(this.state.users);
  }

  welcomes(): Welcome[] {
    return [...this.state.welcomes];
  }

  /** Applies one event; false when it had been applied before. */
  async apply(event: AccountEvent, now: Date = new Date()): Promise<boolean> {
    if (!event.stream.startsWith(USER_STREAM)) return false;
    if (event.revision <= (this.state.applied[event.stream] ?? -1)) return false;
    // Work on a copy: a failed write must leave the state as the file has it, or a retry would see the
    // event as applied.
    const next = structuredClone(this.state);
    const userId = event.stream.slice(USER_STREAM.length);
    switch (event.type) {
      case 'UserRegistered':
        next.pending[userId] = { email: event.data.email, username: event.data.username ?? null };
        break;
      case 'PendingRegistrationReplaced': {
        const pending = next.pending[userId];
        // The latest registration wins whole: no username in it means none.
        if (pending) pending.username = event.data.username ?? null;
        break;
      }
      case 'EmailVerified': {
        const pending = next.pending[userId] ?? { email: null, username: null };
        delete next.pending[userId];
        next.users[userId] = { user_id: userId, ...pending, verified_at: event.data.at };
        next.welcomes.push({
          user_id: userId,
          email: pending.email,
          event_id: event.id,
          sent_at: now.toISOString(),
        });
        break;
      }
      case 'UserProfileUpdated': {
        const known = next.users[userId] ?? next.pending[userId];
        if (known) known.username = event.data.username;
        break;
      }
      case 'UserErased':
        // The person is gone upstream; their personal data goes here too. The welcome stays, anonymous.
        delete next.pending[userId];
        delete next.users[userId];
        for (const w of next.welcomes) if (w.user_id === userId) w.email = null;
        break;
      default:
        break;
    }
    next.applied[event.stream] = event.revision;
    await writeFileAtomic(this.file, JSON.stringify(next));
    this.state = next;
    return true;
  }
}
