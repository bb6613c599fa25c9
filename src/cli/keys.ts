import type { CliCommand } from './command';
import { withServices } from './open';

/**
 * Adds a new access-token signing key and retires the current one. The retired key stays in the JWKS and
 * keeps verifying until every token it signed has expired (the access-token lifetime, at most 15 min), so
 * nobody is signed out; running instances pick the new key up within a minute.
 */
export const keysRotate: CliCommand = {
  name: 'keys rotate',
  summary: 'add a new access-token signing key; the old one verifies until its tokens expire',
  options: {},
  run: async (_args, config) =>
    withServices(config, async (services) => {
      const kid = await services.accessTokens.rotate();
      process.stdout.write(`signing key rotated; new kid: ${String(kid)}\n`);
      return 0;
    }),
};
