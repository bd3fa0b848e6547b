// The console's shell: reads /console/config.json, signs in (a tenant key on a hosted server,
// nothing on a local one), then shows one view at a time, chosen by the URL hash
// (#/overview, #/events, #/timeline/<entity>, #/graph/<node>, #/recall) so views can be linked
// and the back button works. The key is kept in sessionStorage: gone when the tab closes.

import { render } from 'preact';
import { lazy, Suspense } from 'preact/compat';
import { useEffect, useState } from 'preact/hooks';
import { Api, loadConfig, signIn, type ConsoleConfig } from './api.js';
import { EventsView } from './events.js';
import { Overview } from './overview.js';
import { RecallView } from './recall.js';
import { TimelineView } from './timeline.js';
import { route, VIEWS } from './nav.js';
import './style.css';

// sigma and graphology are most of the bundle: loaded when the graph is first opened.
const GraphView = lazy(() => import('./graph.js').then((m) => ({ default: m.GraphView })));

const KEY_STORE = 'allsource.console.key';
const TENANT_STORE = 'allsource.console.tenant';

function SignIn({ config, onSignedIn }: { config: ConsoleConfig; onSignedIn: (api: Api) => void }) {
  const [key, setKey] = useState('');
  const [tenant, setTenant] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const api = await signIn(config, key.trim(), tenant.trim() || undefined);
      sessionStorage.setItem(KEY_STORE, key.trim());
      if (tenant.trim()) sessionStorage.setItem(TENANT_STORE, tenant.trim());
      onSignedIn(api);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>allsource console</h1>
      <form onSubmit={submit} aria-describedby="signin-help">
        <p id="signin-help">Sign in with a tenant key (as_live_…). It is sent only in the Authorization header and forgotten when this tab closes.</p>
        <label>
          Key
          <input type="password" name="key" autoComplete="off" required value={key} onInput={(e) => setKey(e.currentTarget.value)} autoFocus />
        </label>
        {config.rest && (
          <label>
            Tenant <span class="hint">(only with the admin key)</span>
            <input name="tenant" value={tenant} onInput={(e) => setTenant(e.currentTarget.value)} />
          </label>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error !== null && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

function Shell({ api, onSignOut }: { api: Api; onSignOut: () => void }) {
  const [[view, arg, params], setRoute] = useState(route());
  useEffect(() => {
    const onHash = () => setRoute(route());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    document.title = `${VIEWS.find(([v]) => v === view)?.[1]} · allsource console`;
  }, [view]);
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <strong class="brand">allsource</strong>
        <nav aria-label="Views">
          {VIEWS.map(([name, label]) => (
            <a key={name} href={`#/${name}`} aria-current={name === view ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who">
          tenant <code data-testid="tenant">{api.tenant}</code>
          {api.config.auth === 'key' ? (
            <button type="button" class="link" onClick={onSignOut}>
              Sign out
            </button>
          ) : (
            <span class="hint"> (local, no key)</span>
          )}
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {view === 'overview' && <Overview api={api} />}
        {view === 'events' && <EventsView api={api} params={params} />}
        {view === 'timeline' && <TimelineView api={api} entity={arg} />}
        {view === 'graph' && (
          <Suspense fallback={<p>Loading the graph…</p>}>
            <GraphView api={api} nodeId={arg} />
          </Suspense>
        )}
        {view === 'recall' && <RecallView api={api} />}
      </main>
    </>
  );
}

function App() {
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [api, setApi] = useState<Api | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    loadConfig()
      .then(async (c) => {
        setConfig(c);
        // A key kept from earlier in this tab signs in again by itself.
        const kept = sessionStorage.getItem(KEY_STORE);
        if (c.auth === 'none' || kept !== null) setApi(await signIn(c, kept, sessionStorage.getItem(TENANT_STORE) ?? undefined).catch(() => null));
      })
      .catch((err: Error) => setError(err.message));
  }, []);
  if (error !== null) return <p role="alert" class="error">The console could not start: {error}</p>;
  if (config === null) return <p>Loading…</p>;
  if (api === null) return <SignIn config={config} onSignedIn={setApi} />;
  return (
    <Shell
      api={api}
      onSignOut={() => {
        sessionStorage.removeItem(KEY_STORE);
        sessionStorage.removeItem(TENANT_STORE);
        setApi(null);
      }}
    />
  );
}

render(<App />, document.getElementById('app')!);
