import { postJson, streamEvents } from './api.js';
import { action, bars, busy, clear, field, h } from './dom.js';
import { cosineMatrix } from './lib/similarity.js';
import { modelPicker } from './try-media.js';

/** Embeddings: cosine similarity of every pair of sentences, as a shaded matrix. */
export function similarityPanel(): HTMLElement {
  const text = h('textarea', { rows: 4 });
  text.value = 'The cat sat on the mat.\nA kitten rested on the rug.\nStock markets fell sharply today.';
  const model = modelPicker(['feature-extraction', 'sentence-similarity'], 'Embedding model');
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const status = h('p', { class: 'status' });
  const compare = () =>
    busy(status, async () => {
      const sentences = text.value
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean);
      if (sentences.length < 2) throw new Error('Write at least two sentences, one per line');
      const answer = await postJson<{ data: Array<{ index: number; embedding: number[] }> }>('/v1/embeddings', {
        model: model.select.value,
        input: sentences,
      });
      // Shading stops at 75 % so black digits keep a contrast of at least 5:1 on the darkest cell.
      const matrix = cosineMatrix(answer.data.sort((a, b) => a.index - b.index).map((d) => d.embedding));
      const head = h('tr', {}, h('td', {}), ...sentences.map((_, j) => h('th', { scope: 'col', title: sentences[j] }, `#${j + 1}`)));
      const rows = matrix.map((r, i) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, `#${i + 1} ${sentences[i]}`),
          ...r.map((v) =>
            h(
              'td',
              { class: 'sim', style: `background:rgba(29,78,216,${(0.75 * Math.max(0, v)).toFixed(3)})`, 'data-value': v },
              v.toFixed(3),
            ),
          ),
        ),
      );
      clear(
        results,
        h('table', { class: 'similarity' }, h('caption', {}, 'Cosine similarity'), h('thead', {}, head), h('tbody', {}, ...rows)),
      );
    });
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'try-similarity' },
    h('h3', { id: 'try-similarity' }, 'Text: sentence similarity'),
    field('Sentences, one per line', text),
    h('div', { class: 'row' }, model.el, action('Compare', 'infer', compare)),
    status,
    results,
  );
}

interface Entity {
  entity_group?: string;
  entity?: string;
  score: number;
  start: number;
  end: number;
}

/** Text classification (bars) and token classification (entities highlighted in the text). */
export function textClassPanel(): HTMLElement {
  const text = h('textarea', { rows: 2 });
  text.value = 'the storm brought heavy rain to the coast';
  const classifier = modelPicker(['text-classification'], 'Text classifier');
  const tagger = modelPicker(['token-classification'], 'Entity model');
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const status = h('p', { class: 'status' });
  const classify = () =>
    busy(status, async () => {
      const answer = await postJson<Array<{ label: string; score: number }>>('/v1/text/classify', {
        model: classifier.select.value,
        inputs: text.value,
        top_k: 5,
      });
      clear(results, h('h4', {}, `Labels (${classifier.select.value})`), bars(answer));
    });
  const entities = () =>
    busy(status, async () => {
      const source = text.value;
      const found = await postJson<Entity[]>('/v1/text/tokens', {
        model: tagger.select.value,
        inputs: source,
        aggregation_strategy: 'simple',
      });
      // start/end count Unicode code points, not UTF-16 units.
      const chars = [...source];
      const parts: Array<Node | string> = [];
      let at = 0;
      for (const e of [...found].sort((a, b) => a.start - b.start)) {
        if (e.start < at) continue;
        parts.push(chars.slice(at, e.start).join(''));
        const label = e.entity_group ?? e.entity ?? '?';
        parts.push(h('mark', { title: `${label} ${e.score.toFixed(2)}` }, chars.slice(e.start, e.end).join(''), h('sup', {}, label)));
        at = e.end;
      }
      parts.push(chars.slice(at).join(''));
      clear(results, h('h4', {}, `Entities (${found.length})`), h('p', { class: 'entities' }, ...parts));
    });
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'try-text' },
    h('h3', { id: 'try-text' }, 'Text: classification and entities'),
    field('Text', text),
    h('div', { class: 'row' }, classifier.el, action('Classify text', 'infer', classify)),
    h('div', { class: 'row' }, tagger.el, action('Find entities', 'infer', entities)),
    status,
    results,
  );
}

/** Chat with a text-generation model, tokens streamed as they are sampled. */
export function chatPanel(): HTMLElement {
  const text = h('textarea', { rows: 2 });
  text.value = 'Hello!';
  const model = modelPicker(['text-generation'], 'Chat model');
  const temperature = h('input', { type: 'number', min: 0, max: 2, step: 0.1, value: 0.7 });
  const maxTokens = h('input', { type: 'number', min: 1, max: 4096, value: 64 });
  const transcript = h('div', { class: 'chat', 'aria-live': 'polite' });
  const status = h('p', { class: 'status' });
  const messages: Array<{ role: string; content: string }> = [];
  const send = () =>
    busy(status, async () => {
      messages.push({ role: 'user', content: text.value });
      transcript.append(h('p', { class: 'user' }, text.value));
      const reply = h('p', { class: 'assistant' });
      transcript.append(reply);
      const body = JSON.stringify({
        model: model.select.value,
        messages,
        stream: true,
        temperature: Number(temperature.value),
        max_tokens: Number(maxTokens.value),
      });
      await streamEvents(
        '/v1/chat/completions',
        (data) => {
          if (data === '[DONE]') return;
          const chunk = JSON.parse(data) as { choices: Array<{ delta: { content?: string } }> };
          reply.textContent += chunk.choices[0]?.delta.content ?? '';
        },
        new AbortController().signal,
        { method: 'POST', body, headers: { 'content-type': 'application/json' } },
      );
      messages.push({ role: 'assistant', content: reply.textContent ?? '' });
    });
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'try-chat' },
    h('h3', { id: 'try-chat' }, 'Chat'),
    transcript,
    field('Message', text),
    h('div', { class: 'row' }, model.el, field('Temperature', temperature), field('Max tokens', maxTokens), action('Send', 'infer', send)),
    status,
  );
}
