import { randomUUID } from 'node:crypto';
import { canonicalEmail } from '../canonical-email';
import { handle, type CommandContext } from '../write/handle';
import { userDecider, userStreamId } from '../../domain/user';
import type { AccountDeps } from './deps';
import { findAccountByEmail } from './find-account';

/**
 * BOOTSTRAP_ADMIN_EMAIL makes that address an admin whenever its account exists (CONTRACT.md,
 * "Administration"): at registration, and at start-up for an account registered before the setting was
 * made. The grant is recorded like any other, by the system actor with the setting as its reason.
 */
export const BOOTSTRAP_ADMIN_REASON = 'BOOTSTRAP_ADMIN_EMAIL';

const systemContext = (ctx: CommandContext): CommandContext => ({
  ...ctx,
  actor: { type: 'system', id: 'bootstrap-admin' },
  reason: BOOTSTRAP_ADMIN_REASON,
});

const grantAdmin = async (deps: AccountDeps, userId: string, ctx: CommandContext): Promise<boolean> => {
  const result = await handle(
    deps.store,
    userDecider,
    userStreamId(userId),
    { type: 'GrantRole', data: { role: 'admin', now: ctx.now } },
    systemContext(ctx),
  );
  return result.events.length > 0;
};

/** The canonical BOOTSTRAP_ADMIN_EMAIL, or null when it is not set. */
export const bootstrapAddress = (deps: Pick<AccountDeps, 'config'>): string | null => {
  const configured = deps.config.bootstrapAdminEmail;
  return configured ? canonicalEmail(configured) : null;
};

/** Called by registration with the canonical address it registered. */
export const grantBootstrapAdminIfDue = async (
  deps: AccountDeps,
  canonical: string,
  userId: string,
  ctx: CommandContext,
): Promise<void> => {
  if (bootstrapAddress(deps) !== canonical) return;
  await grantAdmin(deps, userId, ctx);
};

export type BootstrapAdminResult =
  | { status: 'not-configured' }
  | { status: 'no-account' }
  | { status: 'granted' | 'already-admin'; userId: string };

/**
 * The start-up routine: grants admin to the configured address's account if it exists and lacks the role.
 * Safe on every start and on every instance at once (a repeated grant records nothing).
 */
export const ensureBootstrapAdmin = async (
  deps: AccountDeps,
  now: Date = deps.clock.now(),
): Promise<BootstrapAdminResult> => {
  const canonical = bootstrapAddress(deps);
  if (canonical === null) return { status: 'not-configured' };
  const lookup = await findAccountByEmail(deps, canonical);
  const user = lookup?.user;
  if (!user || user.state.status === 'erased') return { status: 'no-account' };
  const id = randomUUID();
  const ctx: CommandContext = {
    correlationId: id,
    causationId: id,
    actor: { type: 'system', id: 'bootstrap-admin' },
    now,
  };
  const granted = await grantAdmin(deps, user.userId, ctx);
  return { status: granted ? 'granted' : 'already-admin', userId: user.userId };
};
