// Tutorial 10: the string generator as a single-page application.
// The page is drawn from the state below; user actions call the
// /generator web service and then change the state, which redraws.
import {h, mount} from './tiny.js';

const SERVICE = '/generator';

// Send one request; return the response text or throw on an error status.
async function callService(method, fields) {
  const options = {method, headers: {Accept: 'text/plain'}};
  if (fields) {
    options.body = new URLSearchParams(fields);
  }
  const response = await fetch(SERVICE, options);
  if (!response.ok) {
    throw new Error(`${response.status} ${response.statusText}`);
  }
  return response.text();
}

// mode "create": ask for a length; mode "edit": show the string to change.
const initialState = {mode: 'create', length: '8', string: '', status: ''};

// The form for the current mode. `actions` are the box's event handlers.
function StringGeneratorForm(state, actions) {
  if (state.mode === 'create') {
    return h('form', {id: 'create-form', onSubmit: actions.generate},
      h('input', {id: 'length', type: 'text', inputMode: 'numeric', value: state.length,
                  ariaLabel: 'Length', onInput: actions.lengthChanged}),
      h('button', {id: 'generate-string', type: 'submit'}, 'Give it now!'));
  }
  return h('form', {id: 'edit-form', onSubmit: actions.replace},
    h('input', {id: 'the-string', type: 'text', value: state.string,
                ariaLabel: 'Your string', onInput: actions.stringChanged}),
    h('button', {id: 'replace-string', type: 'submit'}, 'Replace'),
    h('button', {id: 'delete-string', type: 'button', onClick: actions.remove}, 'Delete it'));
}

// The whole application: the form plus a status line.
function StringGeneratorBox(state, setState) {
  // Run a service call; on failure, say so in the status line.
  async function attempt(action) {
    try {
      setState(await action());
    } catch (error) {
      setState({status: `Failed: ${error.message}`});
    }
  }

  const actions = {
    generate(event) {
      event.preventDefault();
      attempt(async () => {
        const string = await callService('POST', {length: state.length});
        return {mode: 'edit', string, status: 'Generated!'};
      });
    },
    replace(event) {
      event.preventDefault();
      attempt(async () => {
        await callService('PUT', {another_string: state.string});
        return {status: 'Replaced!'};
      });
    },
    remove() {
      attempt(async () => {
        await callService('DELETE');
        return {...initialState, status: 'Deleted!'};
      });
    },
    // Typing only records the value: the state always matches the page.
    lengthChanged(event) {
      setState({length: event.target.value});
    },
    stringChanged(event) {
      setState({string: event.target.value});
    },
  };

  return h('div', {className: 'string-gen-box'},
    StringGeneratorForm(state, actions),
    h('p', {id: 'status', className: 'status', role: 'status'}, state.status));
}

const app = mount(document.getElementById('generator'), initialState, StringGeneratorBox);

// Show the string this visitor already has, if any (404 means none yet).
callService('GET').then(
  (string) => app.setState({mode: 'edit', string}),
  () => {},
);
