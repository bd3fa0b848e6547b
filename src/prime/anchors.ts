// The names a query may mention: its words and runs of two or three words, as written and with a
// capital first letter, possessives dropped ("Melanie's kids" → "Melanie"). Recall looks each one
// up among node names (an exact match, as prime_add_node keeps names); the memories linked to a
// node the question names are about what it asks. Cheap by construction: a question of n words
// gives at most 6n look-ups in a Map.

const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’.-]*/gu;
/** Longest run of words tried as one name. */
const MAX_NAME_WORDS = 3;
/** Queries longer than this are pasted text, not questions: only their first words are tried. */
const MAX_WORDS = 40;

export function nameCandidates(text: string): string[] {
  const words = (text.match(WORD) ?? []).slice(0, MAX_WORDS).map((word) => word.replace(/['’]s$/u, '').replace(/[.'’-]+$/u, ''));
  const out = new Set<string>();
  for (let i = 0; i < words.length; i++) {
    for (let n = 1; n <= MAX_NAME_WORDS && i + n <= words.length; n++) {
      const name = words.slice(i, i + n).join(' ');
      if (name.length === 0) continue;
      out.add(name);
      out.add(name.charAt(0).toUpperCase() + name.slice(1));
    }
  }
  return [...out];
}
