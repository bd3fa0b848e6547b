// hnswlib-node, loaded at most once per process, and what its absence means. It is an optional
// dependency (it compiles from source at install), so it is required lazily: the vector index can
// then say at once whether HNSW is there, and without it every search stays an exact scan.

import { createRequire } from 'node:module';
import type { Hnswlib } from './hnswWorker.js';

type HnswlibProbe = { ok: true; lib: Hnswlib; path: string } | { ok: false; installed: boolean; reason: string };
let hnswlibProbe: HnswlibProbe | undefined;
const loggedOnce = new Set<string>();

export const HNSW_SWITCHED_OFF = 'exact: HNSW is switched off (ALLSOURCE_HNSW=off); answers are exact';

/**
 * hnswlib-node, or why not. It is CommonJS (`module.exports` holds the classes) and optional, so
 * it is required lazily and synchronously: status() can then say at once whether it is there.
 */
export function loadHnswlib(): HnswlibProbe {
  if (hnswlibProbe !== undefined) return hnswlibProbe;
  const require = createRequire(import.meta.url);
  let path: string;
  try {
    path = require.resolve('hnswlib-node');
  } catch (error) {
    return (hnswlibProbe = { ok: false, installed: false, reason: describe(error) });
  }
  try {
    const mod = require(path) as Partial<Hnswlib> & { default?: Partial<Hnswlib> };
    const lib = typeof mod.HierarchicalNSW === 'function' ? mod : mod.default;
    if (typeof lib?.HierarchicalNSW !== 'function') throw new Error('it exports no HierarchicalNSW class');
    hnswlibProbe = { ok: true, lib: lib as Hnswlib, path };
  } catch (error) {
    hnswlibProbe = { ok: false, installed: true, reason: describe(error) };
  }
  return hnswlibProbe;
}

/** True when ALLSOURCE_HNSW=off (read when an index is made). */
export function hnswSwitchedOff(): boolean {
  return process.env.ALLSOURCE_HNSW?.toLowerCase() === 'off';
}

/**
 * Whether this process can build HNSW indexes, and a sentence saying why not (the switch, or
 * hnswlib-node missing: it compiles from source at install and is optional). Without it every
 * vector search is an exact scan, which stays correct and only gets slower with size.
 */
export function hnswAvailability(): { available: boolean; note: string } {
  if (hnswSwitchedOff()) return { available: false, note: HNSW_SWITCHED_OFF };
  const probe = loadHnswlib();
  if (probe.ok) return { available: true, note: 'HNSW available (hnswlib-node); spaces switch from exact scans to HNSW as they grow' };
  const note = probe.installed
    ? `exact: hnswlib-node failed to load (${probe.reason}); answers are exact`
    : 'exact: hnswlib-node is not installed (it builds from source at install); answers are exact';
  return { available: false, note };
}

/** The build worker script: next to this module, or the compiled one when running from sources. */
export function hnswWorkerUrl(moduleUrl: string = import.meta.url): URL {
  if (moduleUrl.endsWith('.ts')) return new URL('../../dist/src/prime/hnswWorker.js', moduleUrl);
  return new URL('./hnswWorker.js', moduleUrl);
}

/** Logs a line once per process (a missing library is worth saying once, not per space). */
export function logOnce(log: (line: string) => void, line: string): void {
  if (loggedOnce.has(line)) return;
  loggedOnce.add(line);
  log(line);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
