// The embedder contract Prime uses to turn text into vectors. Two kinds exist: a deterministic,
// offline one (the default: no model, no key, no download; honest about being lexical) and a
// client for any OpenAI-compatible `/v1/embeddings` endpoint (semantic).

/** `lexical`: vectors from the words and characters themselves; `semantic`: a language model's. */
export type EmbedderKind = 'lexical' | 'semantic';

export interface Embedder {
  /** Stable name recorded with every stored vector, e.g. `hash-ngram-v1` or `openai:text-embedding-3-small`. */
  readonly name: string;
  readonly kind: EmbedderKind;
  /** Vector length; 0 until a remote embedder of unconfigured size has answered once. */
  readonly dims: number;
  /**
   * Same text, same vector, forever, in-process. Prime then recomputes node-text vectors while
   * folding the log instead of storing them; a non-deterministic embedder's vectors are stored.
   */
  readonly deterministic: boolean;
  /** Unit-length vectors, one per text, in order. Rejects with an AllSourceError (`unavailable`, `invalid`). */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  /** Synchronous form, present on deterministic in-process embedders (used while folding). */
  embedSync?(text: string): Float32Array;
  /** embedSync into a caller's buffer of `dims` (overwritten): a fold of many texts allocates no vector per text. */
  embedSyncInto?(text: string, out: Float32Array): void;
  /** What `prime_stats` and recall results say about it. */
  describe(): EmbedderInfo;
}

export interface EmbedderInfo {
  name: string;
  kind: EmbedderKind;
  dims: number;
  /** Where vectors come from: `offline` (in-process) or the endpoint's origin (never the key). */
  source: string;
}
