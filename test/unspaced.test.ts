// Text in scripts written without spaces (Chinese, Japanese, Thai): a word inside a sentence is
// found by search_events, prime_search and prime_recall, through a real MCP client.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenize } from '../src/core/embedded/searchIndex.js';
import { openEmbeddedCore, type EmbeddedCore } from '../src/index.js';
import { terms } from '../src/prime/text.js';
import { unspacedTokens } from '../src/text/unspaced.js';
import { connectClient } from './helpers/toolHarness.js';

describe('tokens of unspaced scripts', () => {
  it('splits a run into its character pairs, keeping Latin parts whole', () => {
    expect(unspacedTokens('北京市')).toEqual(['北京', '京市']);
    expect(unspacedTokens('iphone手机')).toEqual(['iphone', '手机']);
    expect(unspacedTokens('猫')).toEqual(['猫']);
    // Both tokenizers see the pair inside a long sentence (once one 40+ character "word", dropped).
    const sentence = '我们上个月搬到了北京市朝阳区的一套新公寓，离公司很近，每天走路上班只要十分钟左右就到了';
    expect(terms(sentence)).toContain('北京');
    expect(tokenize(sentence)).toContain('北京');
    expect(terms('東京でラーメンを食べた')).toContain('東京');
    expect(terms('I moved to Paris')).toEqual(['move', 'pari']); // spaced scripts are unchanged
  });
});

describe('through the tools', () => {
  let store: EmbeddedCore;
  let connected: Awaited<ReturnType<typeof connectClient>>;
  const root = mkdtempSync(join(tmpdir(), 'allsource-unspaced-'));
  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await connected.call(name, args);
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    return result.structuredContent as Record<string, unknown>;
  };

  beforeAll(async () => {
    store = await openEmbeddedCore({ dataDir: join(root, 'data'), durability: 'none', log: () => {} });
    connected = await connectClient({ store, tenant: 't', mode: 'local' });
  });
  afterAll(async () => {
    await connected.close();
    await store.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('finds a Chinese word inside a sentence in events, nodes and recall', async () => {
    await call('ingest_event', { entity_id: 'user-1', event_type: 'user.moved', payload: { note: '她上个月搬到了北京，住在朝阳区' } });
    await call('ingest_event', { entity_id: 'user-2', event_type: 'user.moved', payload: { note: '他去年去了上海工作' } });
    const events = (await call('search_events', { query: '北京' })) as { hits: Array<{ event: { entity_id: string } }> };
    expect(events.hits.map((hit) => hit.event.entity_id)).toEqual(['user-1']);

    const beijing = (await call('prime_add_node', { type: 'memory', properties: { text: '玛雅上个月搬到了北京' } })) as { id: string };
    await call('prime_add_node', { type: 'memory', properties: { text: '玛雅喜欢喝绿茶' } });
    await call('prime_add_node', { type: 'memory', properties: { text: 'タロウは東京でラーメンを食べた' } });
    const searched = (await call('prime_search', { text: '北京' })) as { nodes: Array<{ id: string }> };
    expect(searched.nodes.map((node) => node.id)).toEqual([beijing.id]);
    const recalled = (await call('prime_recall', { text: '玛雅住在北京吗' })) as { results: Array<{ node: { id: string } }> };
    expect(recalled.results[0].node.id).toBe(beijing.id);
    const tokyo = (await call('prime_search', { text: '東京' })) as { nodes: Array<{ properties: { text: string } }> };
    expect(tokyo.nodes.map((node) => node.properties.text)).toEqual(['タロウは東京でラーメンを食べた']);
  });
});
