// A trigram index over node text, for substring search (the reference memory server's
// `search_nodes` rule: a case-insensitive substring of the name, the type or an observation).
// Every lower-cased text of a node is cut into its three-character pieces; a query of three or
// more characters can only be inside texts that hold all of its pieces, so the intersection of
// their postings is a small candidate set the caller then checks with `includes`. Texts are
// indexed one by one, so no piece spans two of them, and a candidate is never missed.

/** The distinct three-character pieces of `text` (UTF-16 code units, as `includes` compares them). */
function trigrams(text: string, into: Set<string>): void {
  for (let i = 0; i + 3 <= text.length; i++) into.add(text.slice(i, i + 3));
}

export class SubstringIndex {
  private readonly postings = new Map<string, Set<string>>();
  private readonly gramsOf = new Map<string, string[]>();

  get size(): number {
    return this.gramsOf.size;
  }

  /** Indexes the texts of `id` (already lower-cased), replacing what it held. */
  set(id: string, texts: readonly string[]): void {
    this.remove(id);
    const grams = new Set<string>();
    for (const text of texts) trigrams(text, grams);
    for (const gram of grams) {
      let ids = this.postings.get(gram);
      if (ids === undefined) this.postings.set(gram, (ids = new Set()));
      ids.add(id);
    }
    this.gramsOf.set(id, [...grams]);
  }

  remove(id: string): void {
    const grams = this.gramsOf.get(id);
    if (grams === undefined) return;
    for (const gram of grams) {
      const ids = this.postings.get(gram);
      if (ids === undefined) continue;
      ids.delete(id);
      if (ids.size === 0) this.postings.delete(gram);
    }
    this.gramsOf.delete(id);
  }

  /**
   * Ids whose texts may contain `query` (lower-cased): a superset of the true matches, to be
   * checked. Null when the query is shorter than three characters and cannot narrow anything.
   */
  candidates(query: string): Set<string> | null {
    if (query.length < 3) return null;
    const grams = new Set<string>();
    trigrams(query, grams);
    const lists: Array<Set<string>> = [];
    for (const gram of grams) {
      const ids = this.postings.get(gram);
      if (ids === undefined) return new Set();
      lists.push(ids);
    }
    lists.sort((a, b) => a.size - b.size);
    let result = new Set(lists[0]);
    for (let i = 1; i < lists.length && result.size > 0; i++) {
      const next = new Set<string>();
      for (const id of result) if (lists[i].has(id)) next.add(id);
      result = next;
    }
    return result;
  }
}

/** The texts a node is searched by: its type, and every string property or string in an array property, lower-cased. */
export function nodeTexts(type: string, properties: Readonly<Record<string, unknown>>): string[] {
  const texts = [type.toLowerCase()];
  for (const value of Object.values(properties)) {
    if (typeof value === 'string') texts.push(value.toLowerCase());
    else if (Array.isArray(value)) for (const item of value) if (typeof item === 'string') texts.push(item.toLowerCase());
  }
  return texts;
}
