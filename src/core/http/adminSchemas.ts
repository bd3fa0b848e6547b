// JSON Schemas of the Core's admin routes (admin key only): tenants, keys and per-tenant daily
// quotas of tool calls. They join the data routes in schemas.ts's ROUTES table, so fastify
// validates them and the OpenAPI document lists them like every other route.

import { bool, int, nullable, object, str, type RouteSpec, type Schema } from './schemaKit.js';

const tenantRecord = object({ tenant: str('Tenant id.'), created_at: str('When it was created.'), active_keys: int('Keys not revoked.') }, ['tenant', 'created_at', 'active_keys']);
const keyProperties = {
  key_id: str('Public id of the key (the part after as_live_).'),
  tenant: str('The tenant it is bound to.'),
  read_only: bool('True when it may only read.'),
  label: nullable(str('A note for people.')),
  created_at: str('When it was created.'),
  revoked_at: nullable(str('When it was revoked, or null.')),
};
const keyRecord = object(keyProperties, Object.keys(keyProperties));
const quotaParams = object({ tenant: str('The tenant (created with POST /api/v1/admin/tenants).') }, ['tenant']);
const quotaFields = {
  tenant: str('The tenant.'),
  daily_tool_calls: nullable(int('MCP tool calls allowed per UTC day; null = unlimited (the default).')),
  day: str('The UTC day the counts are about (YYYY-MM-DD).'),
};
const resetsAt = str('The next UTC midnight, when the count starts again (ISO-8601).');
const quotaRecord: Schema = object(
  { ...quotaFields, leased_today: int('Calls leased to MCP edges today (an upper bound of the calls served).'), remaining_today: nullable(int('Calls left today; null when unlimited.')), resets_at: resetsAt },
  ['tenant', 'daily_tool_calls', 'day', 'leased_today', 'remaining_today', 'resets_at'],
);
const leaseResult: Schema = object(
  { ...quotaFields, granted: int('Calls granted to this lease: all asked for when unlimited, else at most what is left today (0 = none left).'), leased_today: int('Calls leased today, this lease included.'), resets_at: resetsAt },
  ['tenant', 'day', 'daily_tool_calls', 'granted', 'leased_today', 'resets_at'],
);
const quotaUrl = '/api/v1/admin/tenants/:tenant/quota';

export const ADMIN_ROUTES = {
  createTenant: {
    method: 'POST',
    url: '/api/v1/admin/tenants',
    summary: 'Create a tenant (admin key).',
    writes: true,
    admin: true,
    schema: { body: object({ tenant: str('Tenant id.') }, ['tenant']), response: { 201: tenantRecord } },
  },
  listTenants: {
    method: 'GET',
    url: '/api/v1/admin/tenants',
    summary: 'List tenants (admin key).',
    writes: false,
    admin: true,
    schema: { response: { 200: object({ tenants: { type: 'array', items: tenantRecord } }, ['tenants']) } },
  },
  createKey: {
    method: 'POST',
    url: '/api/v1/admin/keys',
    summary: 'Create a key bound to one tenant; the key is in this answer only (admin key).',
    writes: true,
    admin: true,
    schema: {
      body: object({ tenant: str('Tenant the key is bound to.'), read_only: bool('May only read (default false).'), label: str('A note for people.') }, ['tenant']),
      response: { 201: object({ ...keyProperties, key: str('The key. Store it now: it is not shown again.') }, [...Object.keys(keyProperties), 'key']) },
    },
  },
  listKeys: {
    method: 'GET',
    url: '/api/v1/admin/keys',
    summary: "List keys (never their secrets), all or one tenant's (admin key).",
    writes: false,
    admin: true,
    schema: { querystring: object({ tenant: str('Only this tenant.') }), response: { 200: object({ keys: { type: 'array', items: keyRecord } }, ['keys']) } },
  },
  revokeKey: {
    method: 'DELETE',
    url: '/api/v1/admin/keys/:key_id',
    summary: 'Revoke a key; it fails from the next request on (admin key).',
    writes: true,
    admin: true,
    schema: { params: object({ key_id: str('The key id.') }, ['key_id']), response: { 200: keyRecord } },
  },  setQuota: {
    method: 'PUT',
    url: quotaUrl,
    summary: "Set a tenant's daily quota of MCP tool calls, or null for unlimited; every MCP edge holds it within seconds (admin key).",
    writes: true,
    admin: true,
    strictBody: true,
    schema: {
      params: quotaParams,
      body: object({ daily_tool_calls: nullable(int('Tool calls per UTC day, 0-1e12; null = unlimited.')) }, ['daily_tool_calls']),
      response: { 200: quotaRecord },
    },
  },
  getQuota: {
    method: 'GET',
    url: quotaUrl,
    summary: "A tenant's daily quota and today's usage (admin key).",
    writes: false,
    admin: true,
    schema: { params: quotaParams, response: { 200: quotaRecord } },
  },
  leaseQuota: {
    method: 'POST',
    url: `${quotaUrl}/lease`,
    summary: "Reserve up to `calls` of today's tool calls for an MCP edge; recorded only for tenants with a quota, and never past it (admin key).",
    writes: true,
    admin: true,
    strictBody: true,
    schema: { params: quotaParams, body: object({ calls: int('Calls to reserve, 1-100000.') }, ['calls']), response: { 200: leaseResult } },
  },
} satisfies Record<string, RouteSpec>;
