// `allsource import-memory`: a memory.jsonl written by the reference memory server itself (driven
// over stdio) is imported into a data directory, in-process through runImportMemory and through
// the built CLI (`npm test` builds first), and read_graph then shows the same graph the reference
// shows. Re-importing adds nothing; a malformed file imports nothing and names its bad lines.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedCore } from '../src/index.js';
import { parseMemoryJsonl, runImportMemory, type ImportMemoryReport } from '../src/cli/importMemory.js';
import { createOutput } from '../src/cli/output.js';
import { createPrimeService } from '../src/prime/service.js';
import { createAllsourceServer } from '../tools/registry.js';
import { BIN, runCli, type CliRun } from './helpers/runCli.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-import-memory-'));
let dirCount = 0;
const freshData = () => join(root, `data-${++dirCount}`);

interface Graph {
  entities: Array<{ name: string; entityType: string; observations: string[] }>;
  relations: Array<{ from: string; to: string; relationType: string }>;
}

const memoryFile = join(root, 'memory.jsonl');
/** What the reference server's read_graph answered after writing memoryFile. */
let referenceGraph: Graph;

beforeAll(async () => {
  // Let the reference server write its own file.
  const require = createRequire(import.meta.url);
  const entry = join(dirname(require.resolve('@modelcontextprotocol/server-memory/package.json')), 'dist', 'index.js');
  const client = new Client({ name: 'import-test', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [entry], env: { ...getDefaultEnvironment(), MEMORY_FILE_PATH: memoryFile }, stderr: 'ignore' }));
  try {
    const call = async (name: string, args: Record<string, unknown>) => {
      const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
      expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
      return r.structuredContent as Record<string, unknown>;
    };
    await call('create_entities', {
      entities: [
        { name: 'Ada Lovelace', entityType: 'person', observations: ['Wrote the first program'] },
        { name: 'Analytical Engine', entityType: 'machine', observations: ['Designed by Babbage', 'Never finished'] },
        { name: 'London', entityType: 'city', observations: [] },
      ],
    });
    await call('create_relations', {
      relations: [
        { from: 'Ada Lovelace', to: 'Analytical Engine', relationType: 'programmed' },
        { from: 'Ada Lovelace', to: 'London', relationType: 'lived_in' },
      ],
    });
    await call('add_observations', { observations: [{ entityName: 'Ada Lovelace', contents: ['Daughter of Lord Byron'] }] });
    referenceGraph = (await call('read_graph', {})) as unknown as Graph;
  } finally {
    await client.close();
  }
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** An Output that collects what is written. */
function collector(): { out: ReturnType<typeof createOutput>; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { out: createOutput(stream), text: () => text };
}

/** read_graph (and prime_stats) through a real MCP client on the data directory. */
async function readGraph(dataDir: string, tenant = 'default'): Promise<{ graph: Graph & { next_cursor: string | null }; stats: { nodes: number; edges: number; events: number } }> {
  const store = await openEmbeddedCore({ dataDir, durability: 'none', log: () => {} });
  const prime = createPrimeService({ store, log: () => {} });
  const server = createAllsourceServer({ store, prime, tenant, mode: 'local', log: () => {} });
  const client = new Client({ name: 'import-test', version: '1.0.0' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  await client.connect(clientSide);
  try {
    const graph = ((await client.callTool({ name: 'read_graph', arguments: {} })) as CallToolResult).structuredContent as unknown as Graph & { next_cursor: string | null };
    const stats = ((await client.callTool({ name: 'prime_stats', arguments: {} })) as CallToolResult).structuredContent as unknown as { nodes: number; edges: number; events: number };
    return { graph, stats };
  } finally {
    await client.close();
    await server.close();
    await prime.close();
    await store.close();
  }
}

const sortRelations = (g: Graph) => [...g.relations].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

describe('import-memory in process', () => {
  it("imports the reference server's file; read_graph shows the same graph; a second import adds nothing", async () => {
    expect(referenceGraph.entities).toHaveLength(3);
    const dataDir = freshData();
    const first = collector();
    await runImportMemory({ dataDir, tenant: 'default', json: false }, memoryFile, first.out);
    expect(first.text()).toMatch(/^imported 3 entities and 2 relations from .*memory\.jsonl \(5 lines\) into tenant default\n$/);

    const { graph, stats } = await readGraph(dataDir);
    expect(graph.entities).toEqual(referenceGraph.entities);
    expect(sortRelations(graph)).toEqual(sortRelations(referenceGraph));
    expect(graph.next_cursor).toBeNull();
    expect(stats).toMatchObject({ nodes: 3, edges: 2, events: 5 });

    const second = collector();
    await runImportMemory({ dataDir, tenant: 'default', json: true }, memoryFile, second.out);
    const report = JSON.parse(second.text()) as ImportMemoryReport;
    expect(report).toMatchObject({ lines: 5, entities: { imported: 0, skipped: 3 }, relations: { imported: 0, skipped: 2, dangling: 0 }, events: 0, tenant: 'default' });
    expect((await readGraph(dataDir)).stats).toMatchObject({ nodes: 3, edges: 2, events: 5 });
    // Another tenant is untouched.
    expect((await readGraph(dataDir, 'other')).graph.entities).toEqual([]);
  });

  it('skips relations to missing entities and duplicates within the file, and reports them', async () => {
    const file = join(root, 'dangling.jsonl');
    writeFileSync(
      file,
      [
        '{"type":"entity","name":"A","entityType":"t","observations":["one"]}',
        '{"type":"entity","name":"A","entityType":"t","observations":["again"]}',
        '',
        '{"type":"relation","from":"A","to":"A","relationType":"self"}',
        '{"type":"relation","from":"A","to":"A","relationType":"self"}',
        '{"type":"relation","from":"A","to":"Ghost","relationType":"haunts"}',
      ].join('\n'),
    );
    const dataDir = freshData();
    const run = collector();
    await runImportMemory({ dataDir, tenant: 'team', json: false }, file, run.out);
    expect(run.text()).toContain('imported 1 entity and 1 relation');
    expect(run.text()).toContain('skipped 1 entity whose name already exists and 1 duplicate relation');
    expect(run.text()).toContain('line 6: A -[haunts]-> Ghost (no entity named "Ghost")');
    const { graph } = await readGraph(dataDir, 'team');
    expect(graph).toMatchObject({ entities: [{ name: 'A', entityType: 't', observations: ['one'] }], relations: [{ from: 'A', to: 'A', relationType: 'self' }] });
  });

  it('imports nothing from a file with malformed lines, and names every one', async () => {
    const file = join(root, 'bad.jsonl');
    writeFileSync(
      file,
      [
        '{"type":"entity","name":"Fine","entityType":"t","observations":[]}',
        '{"type":"entity","name":"No type"}',
        'not json',
        '{"type":"relation","from":"Fine","to":"Fine"}',
        '{"type":"widget"}',
        '{"type":"entity","name":"Obs","entityType":"t","observations":[1]}',
      ].join('\n'),
    );
    expect(parseMemoryJsonl(readFileSync(file, 'utf8')).problems.map((p) => p.line)).toEqual([2, 3, 4, 5, 6]);
    const dataDir = freshData();
    const run = collector();
    await expect(runImportMemory({ dataDir, tenant: 'default', json: false }, file, run.out)).rejects.toMatchObject({
      code: 'invalid',
      field: 'file',
      message: expect.stringMatching(/has 5 malformed lines, so nothing was imported: line 2: entityType must be a non-empty string; line 3: not valid JSON .*line 4: relationType .*line 5: type must be "entity" or "relation".*line 6: observations/),
    });
    expect(run.text()).toBe('');
    // The input is checked before the store is opened: not even the data directory was created.
    expect(existsSync(dataDir)).toBe(false);
  });

  it('fails with not_found for a missing file', async () => {
    const run = collector();
    await expect(runImportMemory({ dataDir: freshData(), tenant: 'default', json: false }, join(root, 'missing.jsonl'), run.out)).rejects.toMatchObject({ code: 'not_found', field: 'file' });
  });
});

function cli(args: string[]): Promise<CliRun> {
  return runCli(args, { ...process.env, HOME: root, ALLSOURCE_DATA: '', ALLSOURCE_DEBUG: '' });
}

describe('allsource import-memory (the built CLI)', () => {
  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does it)`);
  });

  it('imports with --json and --tenant, then read_graph shows it', async () => {
    const dataDir = freshData();
    const run = await cli(['import-memory', memoryFile, '--data', dataDir, '--tenant', 'lab', '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ tenant: 'lab', entities: { imported: 3, skipped: 0 }, relations: { imported: 2, skipped: 0, dangling: 0 }, events: 5 });
    const { graph } = await readGraph(dataDir, 'lab');
    expect(graph.entities).toEqual(referenceGraph.entities);
    expect(sortRelations(graph)).toEqual(sortRelations(referenceGraph));
  });

  it('exits 1 with one error line naming the bad lines', async () => {
    const file = join(root, 'bad-cli.jsonl');
    writeFileSync(file, '{"type":"entity","name":"A","entityType":"t","observations":[]}\n{oops\n');
    const run = await cli(['import-memory', file, '--data', freshData()]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^error: invalid: file: .*has 1 malformed line, so nothing was imported: line 2: not valid JSON/);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('is listed in --help', async () => {
    const run = await cli(['--help']);
    expect(run.stdout).toContain('import-memory');
  });
});
