import type { Config } from '../infrastructure/config';
import { openServices } from '../infrastructure/container';
import { createLogger } from '../infrastructure/logger';
import type { Services } from '../infrastructure/services';

/**
 * Opens the service graph the way the service does (same stores, same keys), runs `fn`, closes everything.
 * Logs go to stderr so command output on stdout stays clean.
 */
export const withServices = async <T>(config: Config, fn: (services: Services) => Promise<T>): Promise<T> => {
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', process.stderr as never);
  const { services, close } = await openServices(config, logger);
  try {
    return await fn(services);
  } finally {
    await close();
  }
};
