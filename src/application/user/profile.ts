import { loadStream, type LoadedStream } from '../write/handle';
import type { EventStore } from '../event-store';
import type { PersonalDataVault } from '../ports';
import { isAccount, userDecider, userStreamId, type UserState } from '../../domain/user';

/** What a user's personal data reads as once the key is gone (docs/design.md, "Personal data"). */
export const ERASED = '[erased]';

/** `GET /v1/users/me` (CONTRACT.md "Accounts"); member names as they go over HTTP. */
export type Profile = {
  id: string;
  email: string;
  username: string | null;
  email_verified: boolean;
  status: 'pending_verification' | 'active' | 'deactivated';
  roles: string[];
  created_at: string;
  updated_at: string;
};

/**
 * The profile from the WRITE side: the user stream folded and its sealed values opened. It is current the
 * moment a command returns (read-your-writes without waiting for a projection). Null when there is no
 * account, or it was erased.
 */
export const getProfile = async (
  deps: { store: EventStore; vault: PersonalDataVault },
  userId: string,
  /** The stream folded moments ago in the same request (the bearer check), to save reading it again. */
  folded?: LoadedStream<UserState>,
): Promise<Profile | null> => {
  const loaded = folded ?? (await loadStream(deps.store, userDecider, userStreamId(userId)));
  const state = loaded.state;
  if (!isAccount(state)) return null;
  const [email, username] = await Promise.all([
    deps.vault.open(userId, state.email),
    state.username === null ? null : deps.vault.open(userId, state.username),
  ]);
  const last = loaded.last;
  const occurredAt = last?.metadata.occurred_at;
  return {
    id: userId,
    email: email ?? ERASED,
    username: state.username === null ? null : (username ?? ERASED),
    email_verified: state.emailVerified,
    status: state.status,
    roles: [...state.roles],
    created_at: state.registeredAt.toISOString(),
    updated_at:
      typeof occurredAt === 'string' ? occurredAt : (last?.createdAt ?? state.registeredAt).toISOString(),
  };
};
