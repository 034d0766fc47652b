// The "start an execution" form: a workflow, an optional name and JSON input checked as it is
// typed (the error names the line and column), posted to POST /executions.

import {api, ApiError} from './api.js';
import {h} from './dom.js';

let formCount = 0;

/**
 * Find the first syntax error of JSON text (browsers' JSON.parse messages do not all say
 * where): {at, message} with `at` the character index, or null when the text looks valid.
 */
export function locateJsonError(text) {
  let i = 0;
  const fail = (message) => {
    throw {at: i, message};
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i += 1;
  };
  function string() {
    i += 1;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i += 1;
        return;
      }
      if (c === '\\') {
        if (!'"\\/bfnrtu'.includes(text[i + 1])) fail('invalid escape in a string');
        i += 2;
      } else if (c < ' ') {
        fail('line break or control character inside a string');
      } else {
        i += 1;
      }
    }
    fail('string not closed (missing ")');
  }
  function number() {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) fail('invalid number');
    i += m[0].length;
  }
  function sequence(close, item) {
    i += 1;
    ws();
    if (text[i] === close) {
      i += 1;
      return;
    }
    for (;;) {
      item();
      ws();
      if (text[i] === ',') {
        i += 1;
        ws();
        if (text[i] === close) fail(`trailing comma before '${close}'`);
      } else if (text[i] === close) {
        i += 1;
        return;
      } else {
        fail(i >= text.length ? `missing '${close}'` : `expected ',' or '${close}'`);
      }
    }
  }
  function member() {
    ws();
    if (text[i] !== '"') fail('expected a "quoted" key');
    string();
    ws();
    if (text[i] !== ':') fail("expected ':' after the key");
    i += 1;
    value();
  }
  function value() {
    ws();
    const c = text[i];
    if (c === '{') return sequence('}', member);
    if (c === '[') return sequence(']', value);
    if (c === '"') return string();
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return undefined;
      }
    }
    return fail(c === undefined ? 'unexpected end of the input' : `unexpected ${JSON.stringify(c)}`);
  }
  try {
    value();
    ws();
    if (i < text.length) fail('unexpected text after the JSON value');
    return null;
  } catch (error) {
    if (error && typeof error.at === 'number') return error;
    throw error;
  }
}

/** Line and column (1-based) of a character index. */
export function lineColumn(text, index) {
  const lines = text.slice(0, index).split('\n');
  return {line: lines.length, column: lines[lines.length - 1].length + 1};
}

/** Check JSON input text: {ok: true, value} or {ok: false, message}. */
export function checkJson(text) {
  if (!text.trim()) return {ok: true, value: {}};
  try {
    return {ok: true, value: JSON.parse(text)};
  } catch (error) {
    const found = locateJsonError(text);
    if (!found) return {ok: false, message: `Invalid JSON: ${error.message}`};
    const {line, column} = lineColumn(text, found.at);
    return {ok: false, message: `Invalid JSON at line ${line}, column ${column}: ${found.message}.`};
  }
}

/**
 * A start form. `workflows`: names to choose from (a fixed `workflow` hides the choice);
 * `onStarted(record)` gets the started execution.
 */
export function startForm({workflow, workflows = [], input = '{}', onStarted}) {
  formCount += 1;
  const id = `start-${formCount}`;
  const inputArea = h('textarea', {
    id: `${id}-input`, name: 'input', rows: '8', spellcheck: 'false', class: 'code-input',
    'aria-describedby': `${id}-input-help ${id}-input-error`,
  });
  inputArea.value = input;
  const inputError = h('p', {id: `${id}-input-error`, class: 'field-error', 'aria-live': 'polite'});
  const nameInput = h('input', {
    id: `${id}-name`, name: 'name', type: 'text', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'generated when empty', pattern: '[A-Za-z0-9_.\\-]{1,80}',
    'aria-describedby': `${id}-name-help`,
  });
  const formError = h('div', {class: 'form-error', role: 'alert'});
  const submit = h('button', {class: 'btn btn-primary', type: 'submit'}, 'Start execution');
  let select = null;
  if (!workflow) {
    select = h('select', {id: `${id}-workflow`, name: 'workflow', required: true},
      workflows.map((name) => h('option', {value: name}, name)));
  }

  function validate() {
    const result = checkJson(inputArea.value);
    inputError.textContent = result.ok ? '' : result.message;
    inputArea.setAttribute('aria-invalid', result.ok ? 'false' : 'true');
    const missing = !workflow && (!select || !select.value);
    submit.disabled = !result.ok || missing;
    return result;
  }
  inputArea.addEventListener('input', validate);

  const form = h('form', {class: 'start-form', novalidate: true, 'aria-label': 'Start an execution'},
    select ? h('div', {class: 'field'}, h('label', {for: select.id}, 'Workflow'), select) : null,
    h('div', {class: 'field'},
      h('label', {for: inputArea.id}, 'Input (JSON)'),
      inputArea,
      h('p', {id: `${id}-input-help`, class: 'help'}, 'An empty input starts with {}.'),
      inputError),
    h('div', {class: 'field'},
      h('label', {for: nameInput.id}, 'Execution name (optional)'),
      nameInput,
      h('p', {id: `${id}-name-help`, class: 'help'},
        'Unique per workflow; starting the same name with the same input again returns that execution.')),
    formError,
    h('div', {class: 'actions'}, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    formError.replaceChildren();
    const result = validate();
    if (!result.ok) {
      inputArea.focus();
      return;
    }
    const body = {workflow: workflow || select.value, input: result.value};
    if (nameInput.value.trim()) body.name = nameInput.value.trim();
    submit.disabled = true;
    submit.textContent = 'Starting…';
    try {
      const record = await api('/executions', {method: 'POST', body});
      if (onStarted) onStarted(record);
    } catch (error) {
      formError.append(h('p', {class: 'notice notice-error'},
        error instanceof ApiError ? error.message : String(error)));
    } finally {
      submit.textContent = 'Start execution';
      validate();
    }
  });
  validate();
  return form;
}
