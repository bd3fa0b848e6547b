// Tenants and API keys of a Core server, kept as events in a reserved admin tenant of the same
// store (no second database), and folded here into an in-memory keyring. A key is shown once;
// the store keeps only an HMAC-SHA-256 of its secret under a server secret, looked up by the key's
// public id and compared in constant time. Every authentication first catches up with the admin
// log (one in-process watch), so a revocation holds from the next request on, whichever Core
// process recorded it.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { ConflictError, InvalidError, NotFoundError } from '../errors.js';
import type { EventStore, StoredEvent } from '../types.js';
import { checkId } from '../validate.js';

/** The tenant that holds tenants and keys. The REST layer never serves it as a data tenant. */
export const ADMIN_TENANT = 'allsource.admin';

const KEY_PREFIX = 'as_live_';
/** Public key ids: 12 lowercase hex characters (48 random bits: unique, not secret). */
const KEY_ID = /^[0-9a-f]{12}$/;
/** 32 random bytes, base64url: the secret half of a key. */
const SECRET_BYTES = 32;
const SECRET_LENGTH = 43;

/** What a request is allowed to do, once its key is known. */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'tenant'; tenant: string; key_id: string; read_only: boolean };

export interface TenantRecord {
  tenant: string;
  created_at: string;
  /** Keys not revoked. */
  active_keys: number;
}

export interface KeyRecord {
  key_id: string;
  tenant: string;
  read_only: boolean;
  label: string | null;
  created_at: string;
  revoked_at: string | null;
}

export interface CreatedKey extends KeyRecord {
  /** The whole key. Shown once: only its HMAC is stored. */
  key: string;
}

interface StoredKey extends KeyRecord {
  digest: Buffer;
}

/** Parses `as_live_<key id>_<secret>`; null for anything else. */
export function parseKey(token: string): { keyId: string; secret: string } | null {
  if (!token.startsWith(KEY_PREFIX)) return null;
  const keyId = token.slice(KEY_PREFIX.length, KEY_PREFIX.length + 12);
  if (!KEY_ID.test(keyId) || token[KEY_PREFIX.length + 12] !== '_') return null;
  const secret = token.slice(KEY_PREFIX.length + 13);
  if (secret.length !== SECRET_LENGTH) return null;
  return { keyId, secret };
}

/**
 * Constant-time check of a presented token against a secret, once the lengths agree (a length is
 * not worth hiding, and hashing both sides on every request costs more than the rest of the check).
 */
function matchesSecret(token: string, secret: Buffer): boolean {
  const presented = Buffer.from(token);
  return presented.length === secret.length && timingSafeEqual(presented, secret);
}

export interface KeyringOptions {
  store: EventStore;
  /** HMAC key for stored key digests (at least 32 bytes). Changing it invalidates every tenant key. */
  secret: Buffer;
  /** The admin key (`ALLSOURCE_ADMIN_KEY`); undefined when the server runs `--insecure-local`. */
  adminKey?: string;
}

/** The fold of the admin tenant: tenants and keys, plus the operations that append to it. */
export class Keyring {
  private readonly store: EventStore;
  private readonly secret: Buffer;
  private readonly adminKey: Buffer | undefined;
  /**
   * Tokens already checked against their digest, by token: a key presented again costs a map
   * lookup instead of an HMAC (revocation is still checked on every request).
   */
  private readonly verified = new LRUCache<string, string>({ max: 10_000 });
  private readonly tenants = new Map<string, { created_at: string }>();
  private readonly keys = new Map<string, StoredKey>();
  private position = 0;
  /** One catch-up at a time; concurrent requests share it. */
  private refreshing: Promise<void> | null = null;
  /** A digest to compare against when the key id is unknown, so a miss costs what a hit costs. */
  private readonly decoy: Buffer;

  constructor(options: KeyringOptions) {
    if (options.secret.length < 32) throw new InvalidError('secret', 'must be at least 32 bytes');
    this.store = options.store;
    this.secret = options.secret;
    this.adminKey = options.adminKey === undefined ? undefined : Buffer.from(options.adminKey);
    this.decoy = this.digest('decoy');
  }

  private digest(secret: string): Buffer {
    return createHmac('sha256', this.secret).update(secret).digest();
  }

  /** Folds whatever the admin log gained since the last call. */
  async refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        while (true) {
          const page = await this.store.watch(ADMIN_TENANT, { after: this.position, timeout_ms: 0, limit: 1000 });
          for (const event of page.events) this.apply(event);
          this.position = page.last_position;
          if (page.events.length < 1000) break;
        }
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private apply(event: StoredEvent): void {
    const p = event.payload as Record<string, unknown>;
    switch (event.event_type) {
      case 'tenant.created':
        this.tenants.set(String(p.tenant), { created_at: event.timestamp });
        break;
      case 'key.created':
        this.keys.set(String(p.key_id), {
          key_id: String(p.key_id),
          tenant: String(p.tenant),
          read_only: p.read_only === true,
          label: typeof p.label === 'string' ? p.label : null,
          created_at: event.timestamp,
          revoked_at: null,
          digest: Buffer.from(String(p.digest), 'hex'),
        });
        break;
      case 'key.revoked': {
        const key = this.keys.get(String(p.key_id));
        if (key !== undefined && key.revoked_at === null) key.revoked_at = event.timestamp;
        break;
      }
    }
  }

  /** Who holds `token`: the admin, a tenant key, or nobody (null: unknown, malformed or revoked). */
  async authenticate(token: string): Promise<Principal | null> {
    if (this.adminKey !== undefined && matchesSecret(token, this.adminKey)) return { kind: 'admin' };
    const parsed = parseKey(token);
    if (parsed === null) return null;
    await this.refresh();
    const key = this.keys.get(parsed.keyId);
    if (this.verified.get(token) !== parsed.keyId) {
      const matches = timingSafeEqual(this.digest(parsed.secret), key?.digest ?? this.decoy);
      if (key === undefined || !matches) return null;
      this.verified.set(token, parsed.keyId);
    }
    if (key === undefined || key.revoked_at !== null) return null;
    return { kind: 'tenant', tenant: key.tenant, key_id: key.key_id, read_only: key.read_only };
  }

  async createTenant(name: unknown): Promise<TenantRecord> {
    const tenant = checkDataTenant(name, 'tenant');
    await this.refresh();
    if (this.tenants.has(tenant)) throw new ConflictError(`tenant ${JSON.stringify(tenant)} already exists`, { field: 'tenant' });
    try {
      // expected_version 0: two Core processes creating the same tenant cannot both succeed.
      await this.store.append(ADMIN_TENANT, [{ entity_id: `tenant:${tenant}`, event_type: 'tenant.created', payload: { tenant }, expected_version: 0 }]);
    } catch (err) {
      if ((err as { code?: string }).code === 'conflict') throw new ConflictError(`tenant ${JSON.stringify(tenant)} already exists`, { field: 'tenant' });
      throw err;
    }
    await this.refresh();
    return this.tenantRecord(tenant);
  }

  private tenantRecord(tenant: string): TenantRecord {
    let active_keys = 0;
    for (const key of this.keys.values()) if (key.tenant === tenant && key.revoked_at === null) active_keys++;
    return { tenant, created_at: this.tenants.get(tenant)!.created_at, active_keys };
  }

  async listTenants(): Promise<TenantRecord[]> {
    await this.refresh();
    return [...this.tenants.keys()].sort().map((tenant) => this.tenantRecord(tenant));
  }

  /** Whether a tenant was created (quotas are set only for tenants that exist). */
  async hasTenant(tenant: string): Promise<boolean> {
    await this.refresh();
    return this.tenants.has(tenant);
  }

  async createKey(args: { tenant: unknown; read_only?: unknown; label?: unknown }): Promise<CreatedKey> {
    const tenant = checkDataTenant(args.tenant, 'tenant');
    if (args.read_only !== undefined && typeof args.read_only !== 'boolean') throw new InvalidError('read_only', 'must be true or false');
    if (args.label !== undefined && (typeof args.label !== 'string' || args.label.length > 200)) throw new InvalidError('label', 'must be a string of at most 200 characters');
    await this.refresh();
    if (!this.tenants.has(tenant)) throw new NotFoundError(`tenant ${JSON.stringify(tenant)} does not exist (create it first)`, { field: 'tenant' });
    const keyId = randomBytes(6).toString('hex');
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    const read_only = args.read_only === true;
    const label = typeof args.label === 'string' ? args.label : null;
    await this.store.append(ADMIN_TENANT, [
      {
        entity_id: `key:${keyId}`,
        event_type: 'key.created',
        payload: { key_id: keyId, tenant, read_only, label, digest: this.digest(secret).toString('hex') },
        expected_version: 0,
      },
    ]);
    await this.refresh();
    const { digest: _digest, ...record } = this.keys.get(keyId)!;
    return { ...record, key: `${KEY_PREFIX}${keyId}_${secret}` };
  }

  async listKeys(tenantArg?: unknown): Promise<KeyRecord[]> {
    const tenant = tenantArg === undefined ? undefined : checkDataTenant(tenantArg, 'tenant');
    await this.refresh();
    if (tenant !== undefined && !this.tenants.has(tenant)) throw new NotFoundError(`tenant ${JSON.stringify(tenant)} does not exist`, { field: 'tenant' });
    const out: KeyRecord[] = [];
    for (const { digest: _digest, ...record } of this.keys.values()) if (tenant === undefined || record.tenant === tenant) out.push(record);
    return out.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.key_id.localeCompare(b.key_id));
  }

  /** Revokes a key; revoking a revoked key is a no-op that reports when it was revoked. */
  async revokeKey(keyIdArg: unknown): Promise<KeyRecord> {
    if (typeof keyIdArg !== 'string' || !KEY_ID.test(keyIdArg)) throw new InvalidError('key_id', 'must be a key id of 12 hex characters (see `allsource keys list`)');
    await this.refresh();
    const key = this.keys.get(keyIdArg);
    if (key === undefined) throw new NotFoundError(`key ${keyIdArg} does not exist`, { field: 'key_id' });
    if (key.revoked_at === null) {
      await this.store.append(ADMIN_TENANT, [{ entity_id: `key:${keyIdArg}`, event_type: 'key.revoked', payload: { key_id: keyIdArg } }]);
      await this.refresh();
    }
    const { digest: _digest, ...record } = this.keys.get(keyIdArg)!;
    return record;
  }
}

/** A tenant a client may name: any valid tenant id except the admin tenant. */
export function checkDataTenant(value: unknown, field: string): string {
  const tenant = checkId(value, field);
  if (tenant === ADMIN_TENANT) throw new InvalidError(field, `${JSON.stringify(ADMIN_TENANT)} is reserved`);
  return tenant;
}
