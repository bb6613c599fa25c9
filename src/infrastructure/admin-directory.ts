import { setTimeout as sleep } from 'node:timers/promises';
import { StoreUnavailableError } from '../application/event-store';
import type { AdminDirectory } from '../application/ports';
import type { SqlClient } from '../application/sql';
import { listAdminIds } from '../projections/user-directory/queries';
import { backoffDelay } from '../application/backoff';

const LOCK = 'identity:admin-roster';
/** Revocations of `admin` are rare and quick: a caller waits this long for another one to finish. */
const WAIT_MS = 5_000;

/** The admin roster over the user directory read model and an advisory lock shared by every instance. */
export const sqlAdminDirectory = (sql: SqlClient): AdminDirectory => ({
  adminCandidates: () => listAdminIds(sql),
  exclusive: async <T>(fn: () => Promise<T>): Promise<T> => {
    const deadline = Date.now() + WAIT_MS;
    for (let attempt = 1; ; attempt++) {
      const release = await sql.tryLock(LOCK);
      if (release) {
        try {
          return await fn();
        } finally {
          await release();
        }
      }
      if (Date.now() > deadline)
        throw new StoreUnavailableError('another admin role change is still running');
      await sleep(backoffDelay(attempt, { minMs: 5, maxMs: 100 }));
    }
  },
});
