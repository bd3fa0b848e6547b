// `allsource tenants …` (including their daily quotas of tool calls) and `allsource keys …`: the
// admin side of a running Core, over HTTP with the admin key from ALLSOURCE_ADMIN_KEY. Human output
// by default; `--json` for scripts.

import { InvalidError } from '../core/errors.js';
import type { CoreAdminClient } from '../core/http/adminClient.js';
import type { QuotaRecord } from '../core/http/quotas.js';
import type { CliContext } from './context.js';
import type { Output } from './output.js';

export interface AdminFlags {
  core?: string;
}

/** The Core URL: `--core`, else ALLSOURCE_CORE_URL, else http://127.0.0.1:3900. */
export function coreUrl(flags: AdminFlags, env: NodeJS.ProcessEnv = process.env): string {
  return flags.core ?? (env.ALLSOURCE_CORE_URL || 'http://127.0.0.1:3900');
}

async function withAdmin<T>(flags: AdminFlags, fn: (client: CoreAdminClient) => Promise<T>, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const [{ CoreAdminClient }, { isLoopbackUrl }] = await Promise.all([import('../core/http/adminClient.js'), import('../core/http/wire.js')]);
  const key = env.ALLSOURCE_ADMIN_KEY || undefined;
  if (key === undefined && !isLoopbackUrl(coreUrl(flags, env))) throw new InvalidError('ALLSOURCE_ADMIN_KEY', 'is not set (the admin key of the Core)');
  const client = new CoreAdminClient({ url: coreUrl(flags, env), key, retryForMs: 2000 });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

export async function runTenantsCreate(ctx: CliContext, tenant: string, flags: AdminFlags, out: Output): Promise<void> {
  const record = await withAdmin(flags, (c) => c.createTenant(tenant));
  if (ctx.json) await out.json(record);
  else await out.write(`created tenant ${record.tenant}\n`);
}

export async function runTenantsList(ctx: CliContext, flags: AdminFlags, out: Output): Promise<void> {
  const tenants = await withAdmin(flags, (c) => c.listTenants());
  if (ctx.json) return out.json({ tenants });
  if (tenants.length === 0) return out.write('no tenants (create one: allsource tenants create <tenant>)\n');
  for (const t of tenants) await out.write(`${t.tenant}\t${t.active_keys} active key${t.active_keys === 1 ? '' : 's'}\tcreated ${t.created_at}\n`);
}

/** One line for people: the quota, today's usage and when it resets. */
export function formatQuota(q: QuotaRecord): string {
  if (q.daily_tool_calls === null) return `tenant ${q.tenant}: unlimited\n`;
  return `tenant ${q.tenant}: ${q.daily_tool_calls} tool call${q.daily_tool_calls === 1 ? '' : 's'} per day, ${q.leased_today} leased today (resets ${q.resets_at})\n`;
}

/** Shows a tenant's daily quota of tool calls; with `--daily N` or `--unlimited`, sets it first. */
export async function runTenantsQuota(ctx: CliContext, tenant: string, flags: AdminFlags & { daily?: number; unlimited?: boolean }, out: Output): Promise<void> {
  const record = await withAdmin(flags, (c) => (flags.daily !== undefined ? c.setQuota(tenant, flags.daily) : flags.unlimited ? c.setQuota(tenant, null) : c.getQuota(tenant)));
  if (ctx.json) await out.json(record);
  else await out.write(formatQuota(record));
}

export async function runKeysCreate(ctx: CliContext, flags: AdminFlags & { tenant: string; readOnly?: boolean; label?: string }, out: Output): Promise<void> {
  const created = await withAdmin(flags, (c) => c.createKey({ tenant: flags.tenant, read_only: flags.readOnly === true, ...(flags.label !== undefined ? { label: flags.label } : {}) }));
  if (ctx.json) return out.json({ key: created.key, key_id: created.key_id, tenant: created.tenant, read_only: created.read_only });
  await out.write(`${created.key}\n`);
  process.stderr.write(`key ${created.key_id} for tenant ${created.tenant}${created.read_only ? ' (read-only)' : ''}: store it now, it is not shown again\n`);
}

export async function runKeysList(ctx: CliContext, flags: AdminFlags & { tenant?: string }, out: Output): Promise<void> {
  const keys = await withAdmin(flags, (c) => c.listKeys(flags.tenant));
  if (ctx.json) return out.json({ keys });
  if (keys.length === 0) return out.write('no keys\n');
  for (const k of keys) {
    await out.write(`${k.key_id}\t${k.tenant}\t${k.read_only ? 'read-only' : 'read-write'}\t${k.revoked_at ? `revoked ${k.revoked_at}` : 'active'}\tcreated ${k.created_at}${k.label ? `\t${k.label}` : ''}\n`);
  }
}

export async function runKeysRevoke(ctx: CliContext, keyId: string, flags: AdminFlags, out: Output): Promise<void> {
  const record = await withAdmin(flags, (c) => c.revokeKey(keyId));
  if (ctx.json) await out.json(record);
  else await out.write(`revoked key ${record.key_id} (tenant ${record.tenant}) at ${record.revoked_at}\n`);
}
