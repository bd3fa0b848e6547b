// What a server tells the model about its tools must name only tools it serves: with --toolsets or
// --read-only, "use prime_add_node" would send the agent after a tool that is not there. The
// server instructions are sentences, each kept only when every tool it names is served, and a
// tool description loses the sentences that point to a tool outside the selection.

/**
 * The instructions, one sentence per entry; each names the tools it relies on in its text. An
 * entry `[sentence, tool]` is said only when `tool` is not served (it stands in for a sentence
 * that names it).
 */
const INSTRUCTION_SENTENCES: ReadonlyArray<string | readonly [string, string]> = [
  'allsource is long-term memory on an immutable event log.',
  'For knowledge about people, projects and facts, use the graph: prime_add_node (a node with a type and properties; text properties are indexed) and prime_add_edge (a typed relation).',
  'When something already remembered changes (a move, a new job, a correction), find its node with prime_recall or prime_search and change it with prime_update_node rather than adding a second node; the old value stays readable with as_of.',
  'prime_recall remembers what is relevant to a question (words, vectors, graph links, recency) and prime_context gives a ready markdown briefing.',
  "The reference memory server's tools (create_entities, add_observations, search_nodes, …) work on the same graph.",
  ["The reference memory server's read tools (search_nodes, open_nodes, read_graph) read the same graph.", 'create_entities'],
  "For raw facts, record events about an entity with ingest_event; an entity's state is the JSON merge-patch of its payloads.",
  'reconstruct_state folds an entity\'s state; query_events and search_events read events.',
  'Events are read by the event tools, not by prime_recall or prime_context, which see the graph.',
  'Nothing is overwritten: every read can be asked as of a past instant (as_of).',
  'Instants are ISO-8601; a date alone means its midnight UTC and no zone means UTC.',
  'Lists are paged: pass next_cursor back as cursor.',
];

/** The server instructions for a server that serves `served` (out of the tools named `known`). */
export function serverInstructions(served: ReadonlySet<string>, known: readonly string[]): string {
  return INSTRUCTION_SENTENCES.flatMap((entry) => {
    const [sentence, unless] = typeof entry === 'string' ? [entry, undefined] : entry;
    return namesOnly(sentence, served, known) && (unless === undefined || !served.has(unless)) ? [sentence] : [];
  }).join(' ');
}

/** `text` without the sentences that name a tool outside `served`. */
export function forServedTools(text: string, served: ReadonlySet<string>, known: readonly string[]): string {
  return sentences(text)
    .filter((sentence) => namesOnly(sentence, served, known))
    .join(' ');
}

/** The tools among `known` that `text` names (tool names are snake_case words). */
export function toolsNamed(text: string, known: readonly string[]): string[] {
  const words = new Set(text.match(/[a-z][a-z0-9]*(?:_[a-z0-9]+)+/g) ?? []);
  return known.filter((name) => words.has(name));
}

function namesOnly(sentence: string, served: ReadonlySet<string>, known: readonly string[]): boolean {
  return toolsNamed(sentence, known).every((name) => served.has(name));
}

/** Sentences of a description: split after `.`, `!` or `?` and a space, except after "e.g." or "i.e.". */
function sentences(text: string): string[] {
  const out: string[] = [];
  for (const piece of text.split(/(?<=[.!?])\s+/)) {
    const last = out.length - 1;
    if (last >= 0 && /\b(e\.g|i\.e|etc)\.$/.test(out[last])) out[last] += ` ${piece}`;
    else out.push(piece);
  }
  return out;
}
