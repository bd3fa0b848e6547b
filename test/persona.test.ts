// The generated persona benchmark (bench/persona.ts): the same seed gives the same conversation,
// every question's evidence is a turn of it, and an update question's evidence is the newer
// statement (the older one is only a distractor).

import { describe, expect, it } from 'vitest';
import { generatePersonaBenchmark, generatePersonaConversation } from '../bench/persona.js';

describe('persona benchmark generator', () => {
  it('is deterministic, and every question points at turns of its conversation', () => {
    expect(generatePersonaConversation(3)).toEqual(generatePersonaConversation(3));
    const conversations = generatePersonaBenchmark();
    expect(new Set(conversations.map((c) => c.id)).size).toBe(conversations.length);
    for (const conversation of conversations) {
      const ids = new Set(conversation.turns.map((t) => t.diaId));
      expect(ids.size).toBe(conversation.turns.length);
      expect(conversation.questions.length).toBeGreaterThan(10);
      for (const { evidence } of conversation.questions) {
        expect(evidence.length).toBeGreaterThan(0);
        for (const id of evidence) expect(ids.has(id), id).toBe(true);
      }
    }
  });

  it('answers "where does … live now" with the move, not the first address', () => {
    const conversation = generatePersonaConversation(5);
    const text = (id: string): string => conversation.turns.find((t) => t.diaId === id)?.text ?? '';
    const question = conversation.questions.find((q) => / live now\?$/.test(q.question));
    expect(question).toBeDefined();
    expect(question!.evidence).toHaveLength(1);
    expect(text(question!.evidence[0])).toMatch(/^Big news: we moved to /);
    const first = conversation.turns.find((t) => t.text.startsWith('I live in '));
    expect(first).toBeDefined();
    expect(question!.evidence).not.toContain(first!.diaId);
  });
});
