import { ApiError, keyStore, whenUnauthorized, whoami } from './api.js';
import { clear, field, h, session } from './dom.js';
import { fineTuningView } from './fine-tuning-view.js';
import { catalog } from './models.js';
import { modelsView } from './models-view.js';
import { audioPanel, imagePanel } from './try-media.js';
import { chatPanel, similarityPanel, textClassPanel } from './try-text.js';

/**
 * Lathe Console: one page over Lathe's public API. Views are built after sign-in, so every action
 * knows the key's scopes; the key lives in session storage and goes only in Authorization headers.
 */
const VIEWS = [
  { id: 'models', title: 'Models' },
  { id: 'try', title: 'Try it' },
  { id: 'fine-tuning', title: 'Fine-tuning' },
] as const;
type ViewId = (typeof VIEWS)[number]['id'];

const app = document.getElementById('app')!;

function signIn(reason?: string): void {
  const key = h('input', { type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const form = h(
    'form',
    { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h2', { id: 'sign-in-title' }, 'Sign in'),
    h('p', {}, 'This Lathe server needs an API key. It is kept in this tab only (session storage) and sent as a Bearer header.'),
    reason ? h('p', { class: 'status error', role: 'alert' }, reason) : null,
    field('API key', key),
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    keyStore.set(key.value.trim());
    void start();
  });
  clear(app, header(null), h('main', {}, form));
  key.focus();
}

function header(nav: HTMLElement | null): HTMLElement {
  const who = session.open
    ? 'open server (no API keys configured)'
    : session.name
      ? `key ${session.name}: ${[...session.scopes].join(', ')}`
      : 'not signed in';
  const out = h('button', { type: 'button', class: 'link' }, 'Sign out');
  out.addEventListener('click', () => {
    keyStore.clear();
    stopViews();
    history.replaceState(null, '', location.pathname);
    signIn();
  });
  return h(
    'header',
    {},
    h('h1', {}, 'Lathe Console'),
    nav,
    h('p', { class: 'who' }, h('span', { class: 'signed-in' }, who), session.name ? out : null),
  );
}

/** Stops what the signed-in views run in the background (the models view's refresh). */
let stopViews = (): void => undefined;

async function start(): Promise<void> {
  stopViews();
  let me;
  try {
    me = await whoami();
  } catch (err) {
    // A missing or wrong key has already brought up the sign-in prompt (whenUnauthorized).
    if (err instanceof ApiError && (err.code === 'MISSING_API_KEY' || err.code === 'INVALID_API_KEY')) return;
    clear(app, h('p', { class: 'status error', role: 'alert' }, `Lathe did not answer: ${(err as Error).message}`));
    return;
  }
  session.open = me.open;
  session.name = me.name;
  session.scopes = new Set(me.scopes);
  catalog.listeners = [];
  const models = modelsView();
  const fineTuning = fineTuningView();
  stopViews = () => {
    models.hide();
    fineTuning.close();
  };
  const tryIt = h(
    'section',
    { id: 'try-view', 'aria-labelledby': 'try-title' },
    h('h2', { id: 'try-title' }, 'Try it'),
    h('div', { class: 'panels' }, imagePanel(), audioPanel(), similarityPanel(), textClassPanel(), chatPanel()),
  );
  const roots: Record<ViewId, HTMLElement> = { models: models.root, try: tryIt, 'fine-tuning': fineTuning.root };
  const tabs = VIEWS.map((v) => h('a', { href: `#${v.id}`, id: `tab-${v.id}` }, v.title));
  const nav = h('nav', { 'aria-label': 'Views' }, ...tabs);
  const main = h('main', {}, ...Object.values(roots));
  clear(app, header(nav), main);
  const show = () => {
    const id = (VIEWS.find((v) => `#${v.id}` === location.hash)?.id ?? 'models') as ViewId;
    for (const v of VIEWS) {
      roots[v.id].hidden = v.id !== id;
      document.getElementById(`tab-${v.id}`)!.toggleAttribute('aria-current', v.id === id);
    }
    if (id === 'models') models.show();
    else {
      models.hide();
      // The model selects follow the repository (a fine-tuned model appears once every replica has indexed it).
      void catalog.refresh().catch(() => undefined);
    }
    if (id === 'fine-tuning') fineTuning.show();
  };
  window.onhashchange = show;
  await catalog.refresh().catch(() => undefined);
  show();
}

whenUnauthorized((error) => {
  keyStore.clear();
  stopViews();
  signIn(error.code === 'MISSING_API_KEY' ? undefined : `${error.code}: ${error.message}`);
});
void start();
