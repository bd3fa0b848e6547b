// Options of the embedded adapter, and their defaults.

export type Durability = 'fsync' | 'none';

export interface EmbeddedCoreOptions {
  /** Data directory (created if missing, unless read-only). One writer may hold it at a time. */
  dataDir: string;
  /**
   * Open without writing anything to the directory: no lock file, no directories created, no
   * torn tail truncated (it is skipped in memory), no segment rolls, no manifest writes. Works
   * on a directory the user cannot write or a read-only mount. Appends and tombstones are
   * refused (`forbidden`); a log that only a writer could repair refuses to open (`unavailable`).
   * What is read is the directory as it was at open: a writer's later appends are not seen. A
   * directory that does not exist reads as empty.
   */
  readOnly?: boolean;
  /**
   * `fsync` (default): an append resolves only after its bytes are on disk (group-committed).
   * `none`: UNSAFE, for benchmarks and throwaway data: appends resolve after the write() call,
   * so a crash of the machine (not just the process) can lose acknowledged events.
   */
  durability?: Durability;
  /** Largest accepted payload, in bytes of JSON (default 1 MiB). */
  maxPayloadBytes?: number;
  /** Keep a materialized state snapshot every N events of an entity (default 4), bounding an as-of fold to N - 1 steps. */
  snapshotEvery?: number;
  /** Seal the active log and roll it into a Parquet segment once it passes this many bytes (default 64 MiB). */
  walRollBytes?: number;
  /** Roll and read Parquet segments in worker threads (default true); false does it in-process (tests, debugging). */
  rollInWorker?: boolean;
  /** Where diagnostics go (default: stderr). Never stdout: stdout is the MCP channel in stdio mode. */
  log?: (line: string) => void;
  /** Clock in ms since the epoch (default Date.now); the store never lets timestamps go backwards. */
  now?: () => number;
}

export const EMBEDDED_DEFAULTS = {
  durability: 'fsync' as Durability,
  snapshotEvery: 4,
  walRollBytes: 64 * 1024 * 1024,
  rollInWorker: true,
};
