// The admin side of a Core server, as a client: tenants, keys and quotas (the `allsource tenants`
// and `allsource keys` commands use it, and so does the MCP edge to lease tool calls). It takes the
// admin key; every call is one request.

import { CoreConnection, type CoreConnectionOptions } from './connection.js';
import type { CreatedKey, KeyRecord, TenantRecord } from './keys.js';
import type { LeaseResult, QuotaRecord } from './quotas.js';

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

  private quotaPath(tenant: string): string {
    return this.path(`/tenants/${encodeURIComponent(tenant)}/quota`);
  }

  /** Sets a tenant's daily quota of tool calls (null: unlimited). Setting a value is idempotent, so it is retried. */
  setQuota(tenant: string, daily_tool_calls: number | null): Promise<QuotaRecord> {
    return this.connection.call('PUT', this.quotaPath(tenant), { body: JSON.stringify({ daily_tool_calls }), retryable: true });
  }

  getQuota(tenant: string): Promise<QuotaRecord> {
    return this.connection.call('GET', this.quotaPath(tenant), { retryable: true });
  }

  /**
   * Reserves up to `calls` of the tenant's tool calls for today. Not retried: a lost answer may
   * hide a recorded lease, and sending it again would lease twice (the first lease is then unused,
   * which under-serves the tenant, never over-serves it).
   */
  leaseQuota(tenant: string, calls: number): Promise<LeaseResult> {
    return this.connection.call('POST', `${this.quotaPath(tenant)}/lease`, { body: JSON.stringify({ calls }), retryable: false });
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
