// The answer panel's script. It renders the entries the extension sends (HTML the extension already
// escaped and rendered), and sends back citation clicks, follow-up questions and cancel requests.
// Loaded with the page's nonce; the page's CSP allows nothing else.
(function () {
  const vscode = acquireVsCodeApi();
  const list = document.getElementById('entries');
  const empty = document.getElementById('empty');
  const form = document.getElementById('ask');
  const question = document.getElementById('question');
  const kind = document.getElementById('kind');
  const shown = new Map(); // entry id -> version rendered
  const state = vscode.getState() || { done: {} }; // plan checkboxes ticked, by "entry:step"

  const LABELS = { ask: 'Question', plan: 'Plan', explain: 'Explain' };
  const STATES = { running: 'running', done: '', partial: 'partial answer', cancelled: 'cancelled', error: 'failed' };

  function render(entry) {
    let section = document.getElementById('entry-' + entry.id);
    if (!section) {
      section = document.createElement('section');
      section.id = 'entry-' + entry.id;
      section.className = 'entry';
      list.appendChild(section);
    }
    section.dataset.entry = String(entry.id);
    section.dataset.state = entry.state;
    section.dataset.kind = entry.kind;
    section.replaceChildren();

    const head = document.createElement('header');
    const label = document.createElement('span');
    label.className = 'kind';
    label.textContent = LABELS[entry.kind] || entry.kind;
    const title = document.createElement('h2');
    title.textContent = entry.title;
    head.append(label, title);
    if (STATES[entry.state]) {
      const badge = document.createElement('span');
      badge.className = 'badge ' + entry.state;
      badge.textContent = STATES[entry.state];
      head.append(badge);
    }
    if (entry.state === 'running') {
      const cancel = document.createElement('button');
      cancel.className = 'cancel';
      cancel.type = 'button';
      cancel.textContent = 'Cancel';
      cancel.addEventListener('click', () => vscode.postMessage({ type: 'cancel', id: entry.id }));
      head.append(cancel);
    }
    section.append(head);

    if (entry.state === 'running' || entry.state === 'error') {
      const p = document.createElement('p');
      p.className = entry.state === 'error' ? 'error' : 'progress';
      p.textContent = entry.progress;
      section.append(p);
    }
    if (entry.html) {
      const body = document.createElement('div');
      body.className = 'answer';
      body.innerHTML = entry.html; // rendered by the extension: raw HTML in the Markdown was escaped
      section.append(body);
    }
    if (entry.meta) {
      const meta = document.createElement('p');
      meta.className = 'meta';
      meta.textContent = entry.meta;
      section.append(meta);
    }
    for (const box of section.querySelectorAll('input.step-done')) {
      const key = entry.id + ':' + box.dataset.step;
      box.checked = !!state.done[key];
      box.addEventListener('change', () => {
        state.done[key] = box.checked;
        vscode.setState(state);
      });
    }
    return section;
  }

  window.addEventListener('message', (event) => {
    const message = event.data;
    if (!message || message.type !== 'entries') {
      return;
    }
    let last;
    for (const entry of message.entries) {
      if (shown.get(entry.id) !== entry.version) {
        shown.set(entry.id, entry.version);
        last = render(entry);
      }
    }
    empty.hidden = message.entries.length > 0;
    if (last) {
      last.scrollIntoView({ block: 'nearest' });
    }
  });

  document.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('a.cite') : null;
    if (!link) {
      return;
    }
    event.preventDefault();
    const section = link.closest('section.entry');
    vscode.postMessage({
      type: 'open',
      path: link.dataset.path,
      start: Number(link.dataset.start),
      end: Number(link.dataset.end),
      entry: section ? Number(section.dataset.entry) : undefined,
    });
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = question.value.trim();
    if (text) {
      vscode.postMessage({ type: 'ask', kind: kind.value, text });
      question.value = '';
    }
  });

  question.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  vscode.postMessage({ type: 'ready' });
})();
