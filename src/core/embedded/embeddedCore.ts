// (work in progress: the real implementation replaces this file)
import type { EventStore } from '../types.js';
import type { EmbeddedCoreOptions } from './options.js';

export interface EmbeddedCore extends EventStore {
  readonly dataDir: string;
  /** Seal the active log and roll it into a segment now; resolves when the manifest names it. */
  rollNow(): Promise<void>;
  /** Resolves when no segment roll is in progress. */
  idle(): Promise<void>;
}

export async function openEmbeddedCore(_options: EmbeddedCoreOptions): Promise<EmbeddedCore> {
  throw new Error('not implemented yet');
}
