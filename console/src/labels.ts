// How nodes are named on screen (shared by the graph and recall views, so the graph's heavy
// modules stay out of the recall view's chunk).

import type { PrimeNode } from './api.js';

/** What a person calls a node: its name or title, else the start of its text, else its id. */
export function nodeLabelOf(node: PrimeNode): string {
  const p = node.properties;
  for (const key of ['name', 'title', 'label']) if (typeof p[key] === 'string' && p[key]) return p[key] as string;
  if (typeof p.text === 'string' && p.text) return p.text.length > 40 ? `${p.text.slice(0, 39)}…` : p.text;
  return node.id;
}
