// A second retrieval benchmark, generated from a seeded script so it ships with the package and
// its answers are known by construction: a user talks to an assistant over many weekly sessions,
// mentions facts about their life among small talk, later changes some of them (a move, a new
// job), corrects one, and names people whose own facts come up in other sessions. Questions ask
// for the current value of a fact (knowledge updates: only the newest statement is evidence),
// for a correction, for a second hop through a named person, and for when something happened.
// Shaped unlike LoCoMo on purpose: the defaults were never tuned on it.

import { mulberry32 } from './workload.js';
import type { Conversation, LocomoTurn } from './locomo.js';

const USERS = ['Maya', 'Tomas', 'Ingrid', 'Kofi', 'Aiko', 'Rafael', 'Leena', 'Omar'];
const CITIES = ['Berlin', 'Lisbon', 'Osaka', 'Denver', 'Nairobi', 'Valencia', 'Tallinn', 'Quebec', 'Hobart', 'Porto'];
const EMPLOYERS = ['a bakery', 'the city library', 'a shipping company', 'a robotics startup', 'the regional hospital', 'a bike shop', 'an architecture studio', 'a public school'];
const HOBBIES = ['the cello', 'rock climbing', 'pottery', 'sailing', 'chess', 'watercolour painting', 'salsa dancing', 'beekeeping'];
const PETS = ['a beagle', 'a grey cat', 'two rabbits', 'a parrot', 'a corgi', 'a tortoise'];
const PET_NAMES = ['Biscuit', 'Pepper', 'Miso', 'Juniper', 'Waffles', 'Comet'];
const RELATIVES = ['sister', 'brother', 'cousin', 'best friend'];
const RELATIVE_NAMES = ['Ines', 'Jonas', 'Priya', 'Mateo', 'Freya', 'Samir', 'Lucia', 'Anton'];
const FIELDS = ['marine biology', 'medieval history', 'civil engineering', 'nursing', 'film editing', 'economics'];
const ALLERGIES = ['peanuts', 'shellfish', 'penicillin', 'cat hair'];
const SMALL_TALK = [
  'The weather has been strange this week, sunny one day and stormy the next.',
  'I finally finished that long book I was reading, the ending surprised me.',
  'Work was busy but nothing special happened, just meetings.',
  'I tried a new recipe for dinner, it turned out better than expected.',
  'My phone battery keeps dying, I might need a new one soon.',
  'We watched a documentary about volcanoes last night.',
  'I have been sleeping badly, too much coffee probably.',
  'The neighbours are renovating and it is very noisy in the mornings.',
  'I went for a long walk by the river on Sunday.',
  'I am thinking about planning a trip somewhere warm this winter.',
];
const REPLIES = [
  'That sounds lovely, thanks for telling me.',
  'I will remember that. How are you feeling about it?',
  'Interesting! Tell me more whenever you like.',
  'Good to know. Anything else on your mind this week?',
  'I hope the rest of your week goes well.',
];

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** "10:00 am on 3 March, 2024", the LoCoMo date style the turn text already uses. */
function sessionDate(ms: number): string {
  const d = new Date(ms);
  return `10:00 am on ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}, ${d.getUTCFullYear()}`;
}

/** One generated conversation: `sessions` weekly sessions of one user, with its questions. */
export function generatePersonaConversation(seed: number, sessions = 14): Conversation {
  const rand = mulberry32(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];
  const pickOther = <T>(list: readonly T[], not: T): T => {
    let value = pick(list);
    while (value === not) value = pick(list);
    return value;
  };
  const user = USERS[seed % USERS.length];
  const id = `persona-${seed}`;
  const turns: LocomoTurn[] = [];
  const questions: Conversation['questions'] = [];
  const start = Date.UTC(2024, 0, 8 + (seed % 20));
  // Per session: the user's statements (text plus a label to refer to it), the rest is small talk.
  const plan: Array<Array<{ text: string; key?: string }>> = Array.from({ length: sessions }, () => []);
  const say = (session: number, text: string, key?: string): void => void plan[session].push({ text, key });

  const city = pick(CITIES);
  const newCity = pickOther(CITIES, city);
  const employer = pick(EMPLOYERS);
  const newEmployer = pickOther(EMPLOYERS, employer);
  const hobby = pick(HOBBIES);
  const pet = pick(PETS);
  const petName = pick(PET_NAMES);
  const relative = pick(RELATIVES);
  const relativeName = pick(RELATIVE_NAMES);
  const wrongName = pickOther(RELATIVE_NAMES, relativeName);
  const field = pick(FIELDS);
  const allergy = pick(ALLERGIES);

  say(0, `I live in ${city}, in a small flat near the old market.`, 'city');
  say(1, `I work at ${employer}; the commute is about twenty minutes.`, 'employer');
  say(2, `I started learning ${hobby} this month, it is harder than it looks.`, 'hobby');
  say(3, `My ${relative} is called ${wrongName}, we talk almost every day.`, 'relative-wrong');
  say(4, `Sorry, I mixed that up earlier: my ${relative}'s name is ${relativeName}, not ${wrongName}.`, 'relative');
  say(5, `We adopted ${pet} named ${petName} on Saturday, the flat feels livelier already.`, 'pet');
  say(6, `${relativeName} just got accepted to study ${field} at university!`, 'field');
  say(7, `The doctor confirmed I am allergic to ${allergy}, so I have to read labels now.`, 'allergy');
  say(9, `Big news: we moved to ${newCity} last week, boxes everywhere.`, 'new-city');
  say(11, `I left my old job and joined ${newEmployer} on Monday.`, 'new-employer');
  say(12, `${petName} chewed through a charging cable again, I need to hide them better.`, 'pet-later');

  const keyed = new Map<string, string>();
  for (let session = 0; session < sessions; session++) {
    const atStart = start + session * 7 * 24 * 3_600_000;
    const date = sessionDate(atStart);
    const lines: Array<{ speaker: string; text: string; key?: string }> = [];
    const chatter = SMALL_TALK.slice().sort(() => rand() - 0.5).slice(0, 3);
    const statements = plan[session];
    // Small talk around the statements, each answered by the assistant.
    const userLines = [chatter[0], ...statements.map((s) => s.text), chatter[1], chatter[2]];
    userLines.forEach((text, i) => {
      const statement = statements.find((s) => s.text === text);
      lines.push({ speaker: user, text, key: statement?.key });
      lines.push({ speaker: 'Assistant', text: pick(REPLIES) });
      if (i === 0 && session > 0) lines.push({ speaker: user, text: 'Anyway, how have you been?' });
    });
    lines.forEach((line, position) => {
      const diaId = `D${session + 1}:${position + 1}`;
      if (line.key !== undefined) keyed.set(line.key, diaId);
      turns.push({ diaId, speaker: line.speaker, text: line.text, session: session + 1, sessionDate: date, atMs: atStart + position * 60_000 });
    });
  }
  const ask = (question: string, ...keys: string[]): void => void questions.push({ question, evidence: keys.map((key) => keyed.get(key) as string) });
  // Knowledge updates: only the newest statement answers.
  ask(`Where does ${user} live now?`, 'new-city');
  ask(`Which city is ${user} living in these days?`, 'new-city');
  ask(`Where does ${user} work at the moment?`, 'new-employer');
  ask(`What is ${user}'s current job?`, 'new-employer');
  // A correction: the corrected statement, not the mistaken one.
  ask(`What is the name of ${user}'s ${relative}?`, 'relative');
  // Plain facts, asked in other words than they were said.
  ask(`What instrument or hobby is ${user} learning?`, 'hobby');
  ask(`What is ${user} allergic to?`, 'allergy');
  ask(`What kind of pet does ${user} have?`, 'pet');
  ask(`What is the name of ${user}'s pet?`, 'pet');
  // Two hops: the person is named in one turn, their news is in another.
  ask(`What does ${user}'s ${relative} study?`, 'relative', 'field');
  ask(`What trouble has ${user}'s pet caused?`, 'pet', 'pet-later');
  // When: the session date is in the turn text.
  ask(`When did ${user} move to ${newCity}?`, 'new-city');
  ask(`When did ${user} adopt ${petName}?`, 'pet');
  ask(`When did ${user} start the new job at ${newEmployer.replace(/^(a|an|the) /, '')}?`, 'new-employer');
  return { id, turns, questions };
}

/** The benchmark: `count` conversations from consecutive seeds. */
export function generatePersonaBenchmark(count = 8, firstSeed = 1): Conversation[] {
  return Array.from({ length: count }, (_, i) => generatePersonaConversation(firstSeed + i));
}
