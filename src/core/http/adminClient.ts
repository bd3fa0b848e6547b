// The admin side of a Core server, as a client: tenants and keys (the `allsource tenants` and
// `allsource keys` commands use it). It takes the admin key; every call is one request.

import { CoreConnection, type CoreConnectionOptions } from './connection.js';
import type { CreatedKey, KeyRecord, TenantRecord } from './keys.js';

export class CoreAdminClient {
  private readonly connection: CoreConnection;

  constructor(options: CoreConnectionOptions) {
    this.connection = new CoreConnection(options);
  }

  private path(rest: string): string {
    return `${this.connection.base}/admin${rest}`;
  }

  createTenant(tenant: string): Promise<TenantRecord> {
    return this.connection.call('POST', this.path('/tenants'), { body: JSON.stringify({ tenant }), retryable: false });
  }

  async listTenants(): Promise<TenantRecord[]> {
    return (await this.connection.call<{ tenants: TenantRecord[] }>('GET', this.path('/tenants'), { retryable: true })).tenants;
  }

  createKey(args: { tenant: string; read_only?: boolean; label?: string }): Promise<CreatedKey> {
    return this.connection.call('POST', this.path('/keys'), { body: JSON.stringify(args), retryable: false });
  }

  async listKeys(tenant?: string): Promise<KeyRecord[]> {
    const query = tenant === undefined ? '' : `?tenant=${encodeURIComponent(tenant)}`;
    return (await this.connection.call<{ keys: KeyRecord[] }>('GET', this.path(`/keys${query}`), { retryable: true })).keys;
  }

  /** Revoking is idempotent, so it is retried like a read. */
  revokeKey(keyId: string): Promise<KeyRecord> {
    return this.connection.call('DELETE', this.path(`/keys/${encodeURIComponent(keyId)}`), { retryable: true });
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
