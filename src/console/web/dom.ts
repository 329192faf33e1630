import { ApiError, type Scope } from './api.js';

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | EventListener>;

/** Creates an element: attributes (on* are listeners, booleans toggle), then children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

let ids = 0;
/** A labelled form control: the label names it for screen readers and clicks. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement): HTMLElement {
  const id = control.id || `f${(ids += 1)}`;
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control);
}

export function select(options: ReadonlyArray<string>, attrs: Attrs = {}): HTMLSelectElement {
  const el = h('select', attrs);
  setOptions(el, options);
  return el;
}

export function setOptions(el: HTMLSelectElement, options: ReadonlyArray<string>): void {
  const current = el.value;
  el.replaceChildren(...options.map((o) => h('option', { value: o }, o)));
  if (options.includes(current)) el.value = current;
}

/** The current key's scopes; the page fills it after sign-in. */
export const session = { scopes: new Set<Scope>(), open: true, name: null as string | null };

export function holds(scope: Scope): boolean {
  return session.open || session.scopes.has('admin') || session.scopes.has(scope);
}

/**
 * A button for an action that needs `scope`: it says so, and is disabled with the reason when the
 * key lacks it (the server refuses the action anyway).
 */
export function action(text: string, scope: Scope, onClick: () => Promise<void> | void, attrs: Attrs = {}): HTMLElement {
  const allowed = holds(scope);
  const reasonId = `r${(ids += 1)}`;
  const button = h('button', { type: 'button', ...attrs, disabled: !allowed, 'aria-describedby': reasonId, 'data-scope': scope }, text);
  button.addEventListener('click', () => void onClick());
  const reason = allowed
    ? h('span', { class: 'scope', id: reasonId }, `needs ${scope}`)
    : h(
        'span',
        { class: 'scope denied', id: reasonId },
        `needs the ${scope} scope; this key has ${[...session.scopes].join(', ') || 'none'}`,
      );
  return h('span', { class: 'action' }, button, reason);
}

/** Runs `work`, showing "working" and then its error (with the code) in `status`. */
export async function busy(status: HTMLElement, work: () => Promise<void>): Promise<void> {
  status.className = 'status working';
  status.textContent = 'Working…';
  try {
    await work();
    status.className = 'status';
    status.textContent = '';
  } catch (err) {
    status.className = 'status error';
    status.setAttribute('role', 'alert');
    status.textContent = err instanceof ApiError ? `${err.code}: ${err.message}` : (err as Error).message;
  }
}

/** Labels with scores as horizontal bars, best first. */
export function bars(predictions: ReadonlyArray<{ label: string; score: number }>): HTMLElement {
  return h(
    'ol',
    { class: 'bars' },
    ...predictions.map((p) =>
      h(
        'li',
        {},
        h('span', { class: 'label' }, p.label),
        h('span', { class: 'bar', style: `width:${Math.max(0, Math.min(1, p.score)) * 100}%` }),
        h('span', { class: 'score' }, p.score.toFixed(3)),
      ),
    ),
  );
}

export function fileInput(accept: string): HTMLInputElement {
  return h('input', { type: 'file', accept });
}

/** Lets a file be dropped on `zone` as well as picked with `input`; calls `changed` either way. */
export function dropZone(zone: HTMLElement, input: HTMLInputElement, changed: () => void): void {
  input.addEventListener('change', changed);
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer?.files.length) {
      input.files = e.dataTransfer.files;
      changed();
    }
  });
}
