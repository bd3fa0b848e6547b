// Where the console is: the view and its argument live in the URL hash, so every view can be
// linked to and the back button works.

export const VIEWS = [
  ['overview', 'Overview'],
  ['events', 'Events'],
  ['timeline', 'Timeline'],
  ['graph', 'Graph'],
  ['recall', 'Recall'],
] as const;
export type ViewName = (typeof VIEWS)[number][0];

/**
 * The view, its argument and its parameters from the hash, e.g. #/timeline/user-1 →
 * ['timeline', 'user-1'], #/events?event_type=user.created → ['events', '', {event_type}].
 */
export function route(): [ViewName, string, URLSearchParams] {
  const [path, query = ''] = location.hash.split('?', 2);
  const [, name = 'overview', ...rest] = path.split('/');
  const view = VIEWS.some(([v]) => v === name) ? (name as ViewName) : 'overview';
  let arg = rest.join('/');
  try {
    arg = decodeURIComponent(arg);
  } catch {
    // a hand-typed hash that is not valid percent-encoding: taken as it is
  }
  return [view, arg, new URLSearchParams(query)];
}

/** The href of a view. */
export function href(view: ViewName, arg = '', params?: Record<string, string>): string {
  const query = params === undefined ? '' : new URLSearchParams(params).toString();
  return `#/${view}${arg ? `/${encodeURIComponent(arg)}` : ''}${query ? `?${query}` : ''}`;
}

/** Moves to a view (the hash change re-renders). */
export function go(view: ViewName, arg = '', params?: Record<string, string>): void {
  location.hash = href(view, arg, params);
}
