// allsource's public API: the EventStore port, its error family, and the embedded adapter.
export * from './core/types.js';
export * from './core/errors.js';
export { openEmbeddedCore, type EmbeddedCore, type EmbeddedCoreOptions, type Durability } from './core/embedded/index.js';
