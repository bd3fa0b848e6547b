// The embedded adapter's public face: open a data directory as an EventStore.
export { openEmbeddedCore, type EmbeddedCore } from './embeddedCore.js';
export type { EmbeddedCoreOptions, Durability } from './options.js';
