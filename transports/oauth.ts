// OAuth 2.1 resource server for the hosted MCP edge, as the MCP authorization spec describes:
// access tokens are JWTs from one configured issuer, checked here (signature against the issuer's
// JWKS, found through its RFC 8414 / OpenID metadata and cached by jose; issuer; audience = this
// server's resource URL; expiry required), and a configured claim names the tenant. The server
// publishes RFC 9728 Protected Resource Metadata so clients can find the issuer, and a 401 points
// to it. Scopes: `allsource:write` may write; any other valid token reads only.

import { createRemoteJWKSet, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import { InvalidError, UnavailableError } from '../src/core/errors.js';
import { checkTenant } from '../src/core/validate.js';
import type { Caller } from './http.js';

export interface OAuthOptions {
  /** The authorization server's issuer identifier (URL). */
  issuer: string;
  /** This server's resource identifier, the tokens' required audience (default: its /mcp URL). */
  resource?: string;
  /** The claim that holds the tenant (default `tenant`). */
  tenantClaim?: string;
}

export const SCOPES = { read: 'allsource:read', write: 'allsource:write' } as const;

/** Where RFC 9728 metadata is served, relative to the server's origin. */
export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource';

export interface OAuthVerifier {
  /** The caller a token stands for, or null for an invalid, expired or foreign token. */
  verify(token: string): Promise<Caller | null>;
  /** RFC 9728 Protected Resource Metadata of this server. */
  metadata(): Record<string, unknown>;
  /** The `WWW-Authenticate` value of a 401. */
  challenge(origin: string): string;
}

/** `resource` may be given later (once the server knows the URL it listens on). */
export function createOAuthVerifier(options: OAuthOptions, resource: () => string): OAuthVerifier {
  let issuerUrl: URL;
  try {
    issuerUrl = new URL(options.issuer);
  } catch {
    throw new InvalidError('oauth-issuer', `${JSON.stringify(options.issuer)} is not a URL`);
  }
  const tenantClaim = options.tenantClaim ?? 'tenant';
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;

  /** The issuer's JWKS URI, from its authorization-server (or OpenID) metadata. */
  const keySet = async (): Promise<ReturnType<typeof createRemoteJWKSet>> => {
    if (jwks !== undefined) return jwks;
    const path = issuerUrl.pathname.replace(/\/$/, '');
    const candidates = [`${issuerUrl.origin}/.well-known/oauth-authorization-server${path}`, `${issuerUrl.origin}${path}/.well-known/openid-configuration`];
    for (const candidate of candidates) {
      try {
        const response = await fetch(candidate, { signal: AbortSignal.timeout(5000) });
        if (!response.ok) continue;
        const meta = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
        if (meta.issuer !== options.issuer || typeof meta.jwks_uri !== 'string') continue;
        jwks = createRemoteJWKSet(new URL(meta.jwks_uri), { timeoutDuration: 5000 });
        return jwks;
      } catch {
        // try the next well-known location
      }
    }
    throw new UnavailableError(`the OAuth issuer ${options.issuer} publishes no usable metadata (tried ${candidates.join(', ')})`);
  };

  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, await keySet(), { issuer: options.issuer, audience: resource(), requiredClaims: ['exp'] }));
      } catch (err) {
        if (err instanceof UnavailableError) throw err;
        if (err instanceof joseErrors.JOSEError) return null;
        throw err;
      }
      const tenant = payload[tenantClaim];
      if (typeof tenant !== 'string') return null;
      let checked: string;
      try {
        checked = checkTenant(tenant);
      } catch {
        return null;
      }
      const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : Array.isArray(payload.scp) ? payload.scp.map(String) : [];
      return { tenant: checked, readOnly: !scopes.includes(SCOPES.write) };
    },
    metadata: () => ({
      resource: resource(),
      authorization_servers: [options.issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: [SCOPES.read, SCOPES.write],
      resource_name: 'allsource memory',
    }),
    challenge: (origin) => `Bearer resource_metadata="${origin}${PROTECTED_RESOURCE_PATH}/mcp"`,
  };
}
