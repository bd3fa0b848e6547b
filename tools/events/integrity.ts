// Integrity: verify_integrity walks the hash chain.

import { z } from 'zod';
import { defineTool } from '../define.js';
import { READ } from './shared.js';

export const verifyIntegrity = defineTool({
  name: 'verify_integrity',
  title: 'Verify log integrity',
  description: "Recompute this memory's sha256 hash chain over every event and report whether the log is intact, or the first position where it was altered.",
  group: 'events',
  writes: false,
  inputSchema: {},
  outputSchema: {
    ok: z.boolean(),
    checked: z.number().int().describe('Events checked.'),
    head_hash: z.string().nullable().describe('Hash of the last event (null when empty).'),
    first_broken_position: z.number().int().nullable(),
    message: z.string(),
  },
  annotations: READ,
  async handler(_args, ctx) {
    return { ...(await ctx.store.verify(ctx.tenant)) };
  },
  render: (r) => (r.ok ? `Intact: ${r.checked} events verified; head ${r.head_hash ?? '(empty)'}.` : `BROKEN at position ${r.first_broken_position}: ${r.message}`),
});
