// Questions about the current state of something that changes: where someone lives, where they
// work, who they are with, what something is called. Memories of a change rarely repeat the
// question's words ("Where does Maya live?" / "Maya moved to Lisbon last week"), and the memory
// that does ("Maya lives in Berlin") is the one that is out of date. For such a question recall
// also looks for the words people use when that state changes, and the newest of the memories
// found weighs more than the oldest. An English lexicon, as the tokenizer's stemming is.

import { terms } from './text.js';

/** One kind of changing state: the words a question about it uses, and the words a change uses. */
interface StateKind {
  asks: readonly string[];
  changes: readonly string[];
}

const STATE_KINDS: readonly StateKind[] = [
  { asks: ['live', 'living', 'lives', 'reside', 'home', 'city', 'address', 'based', 'located'], changes: ['moved', 'relocated', 'settled'] },
  { asks: ['work', 'works', 'working', 'job', 'employer', 'company', 'employed', 'occupation'], changes: ['joined', 'hired', 'started', 'left', 'quit', 'promoted'] },
  { asks: ['married', 'partner', 'dating', 'girlfriend', 'boyfriend', 'husband', 'wife', 'relationship', 'single'], changes: ['engaged', 'married', 'divorced', 'separated'] },
  { asks: ['name', 'called'], changes: ['actually', 'correction', 'renamed'] },
];

/** Words that ask for the present value of anything. */
const NOW_WORDS = ['now', 'current', 'currently', 'these days', 'at the moment', 'anymore', 'still', 'latest', 'today'];

const stemmed = (words: readonly string[]): Set<string> => new Set(words.flatMap((word) => terms(word)));
const KINDS = STATE_KINDS.map((kind) => ({ asks: stemmed(kind.asks), changes: [...stemmed(kind.changes)] }));
const NOW = new RegExp(`\\b(${NOW_WORDS.join('|')})\\b`, 'i');

/** What recall should do differently for `text`: nothing (null), or look for change words too. */
export interface StateQuestion {
  /** Index terms of the words a change of the asked state is told with (none for a bare "now"). */
  changeTerms: string[];
  /**
   * Index terms a memory about the asked state holds: the question's own state words and the
   * change words. Empty for a bare "now" question, whose every match is about its state.
   */
  topicTerms: Set<string>;
}

/** Whether `text` asks for the present value of a changing state, and how its changes are told. */
export function stateQuestion(text: string): StateQuestion | null {
  const asked = new Set(terms(text));
  const changeTerms = new Set<string>();
  const topicTerms = new Set<string>();
  for (const kind of KINDS) {
    const asks = [...kind.asks].filter((term) => asked.has(term));
    if (asks.length === 0) continue;
    for (const term of asks) topicTerms.add(term);
    for (const term of kind.changes) {
      topicTerms.add(term);
      if (!asked.has(term)) changeTerms.add(term);
    }
  }
  if (topicTerms.size === 0 && !NOW.test(text)) return null;
  return { changeTerms: [...changeTerms], topicTerms };
}
