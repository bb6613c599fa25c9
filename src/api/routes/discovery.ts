import type { Response } from 'express';
import type { AccessTokens } from '../../application/ports';
import { DiscoveryDocument, Jwks } from '../openapi/schemas';
import { ok, text, type RouteDef } from './route';

export type DiscoveryDeps = {
  accessTokens: Pick<AccessTokens, 'jwks'>;
  /** `iss` of our access tokens. */
  issuer: string;
  /** PUBLIC_URL: published URLs come from configuration, never from request headers. */
  publicUrl: string;
};

// Long enough to spare downstream verifiers a fetch per token, short enough that a key added by
// `keys rotate` is picked up well before the old one stops verifying (15 min after its retirement).
const PUBLIC_CACHE = 'public, max-age=300';

// Both documents are public and meant for browsers too (SPAs verifying tokens), hence CORS.
const publicDocument = (res: Response, body: unknown): void => {
  res.setHeader('Cache-Control', PUBLIC_CACHE);
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.json(body);
};

/**
 * `/.well-known/jwks.json` (RFC 7517) and a discovery document. This service is NOT an OpenID Connect
 * provider: it issues no ID tokens, has no authorization endpoint and no OIDC userinfo, so the document
 * carries only members that are true of it (RFC 8414 names them): issuer, the JWKS, and the token
 * endpoint, which is login with the password grant. Members OIDC requires of a provider
 * (`id_token_signing_alg_values_supported`, `response_types_supported`, `subject_types_supported`) are
 * left out on purpose rather than filled with claims a relying party would act on.
 */
export const DISCOVERY_ROUTES: RouteDef<DiscoveryDeps>[] = [
  {
    method: 'get',
    path: '/.well-known/jwks.json',
    summary: 'Public keys that verify access tokens',
    tag: 'Discovery',
    responses: { 200: text('application/jwk-set+json', 'JWK Set', Jwks) },
    handler: (deps) => (_req, res) => {
      // jwks() holds public members only (kty, crv, x, y, kid, use, alg): never `d`.
      res.type('application/jwk-set+json');
      publicDocument(res, deps.accessTokens.jwks());
    },
  },
  {
    method: 'get',
    path: '/.well-known/openid-configuration',
    summary: 'Discovery document: issuer, JWKS and token endpoint',
    tag: 'Discovery',
    responses: { 200: ok('Metadata', DiscoveryDocument) },
    handler: (deps) => (_req, res) => {
      publicDocument(res, {
        issuer: deps.issuer,
        jwks_uri: `${deps.publicUrl}/.well-known/jwks.json`,
        token_endpoint: `${deps.publicUrl}/v1/auth/login`,
        grant_types_supported: ['password'],
        // Public clients: no client authentication at the token endpoint.
        token_endpoint_auth_methods_supported: ['none'],
      });
    },
  },
];
