import type { SubscriptionHandler } from '../../application/subscription-handler';
import type { Projection } from './projection';
import type { RebuildDeps, RebuildProgress } from './rebuild';
import { SubscriptionRunner, type RunnerOptions, type SubscriptionStatus } from './runner';
import { upgradeProjections } from './upgrade';

export type SubscriptionRuntime = {
  runners: SubscriptionRunner[];
  runner: (name: string) => SubscriptionRunner | undefined;
  statuses: () => SubscriptionStatus[];
  start: () => void;
  stop: () => Promise<void>;
};

/**
 * One checkpointed runner per handler, and the upgrade of projections whose version changed, started and
 * stopped together. What the handlers are and what the runners run on comes from the composition
 * (src/infrastructure/runtime.ts).
 */
export const createSubscriptionRuntime = (
  handlers: readonly SubscriptionHandler[],
  options: RunnerOptions & {
    upgrade: {
      deps: RebuildDeps;
      projections: readonly Projection[];
      /** Each page a background rebuild applies (the rebuild-progress metric). */
      onProgress?: (progress: RebuildProgress) => void;
    };
  },
): SubscriptionRuntime => {
  const { upgrade, ...runnerOptions } = options;
  const runners = handlers.map((h) => new SubscriptionRunner(h, runnerOptions));
  const upgrades = new AbortController();
  let upgrading: Promise<unknown> = Promise.resolve();
  return {
    runners,
    runner: (name) => runners.find((r) => r.name === name),
    statuses: () => runners.map((r) => r.status()),
    start: () => {
      runners.forEach((r) => r.start());
      upgrading = upgradeProjections(
        { ...upgrade.deps, logger: options.logger, onProgress: upgrade.onProgress },
        upgrade.projections,
        upgrades.signal,
      ).catch((e: unknown) =>
        options.logger.warn(
          { err: (e as Error).message },
          'projection upgrade failed; it is retried at the next start',
        ),
      );
    },
    stop: async () => {
      upgrades.abort();
      await Promise.all([...runners.map((r) => r.stop()), upgrading]);
    },
  };
};
