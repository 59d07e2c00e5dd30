// Tutorial 8: talk to the /generator web service without reloading the page.
// Plain browser APIs only (fetch, DOM): no library to download.
'use strict';

const SERVICE = '/generator';

// Send one request to the service and return the response text.
// `fields` (an object) travels as a form-encoded body, like an HTML form.
async function callService(method, fields) {
  const options = {method, headers: {Accept: 'text/plain'}};
  if (fields) {
    options.body = new URLSearchParams(fields);
  }
  const response = await fetch(SERVICE, options);
  if (!response.ok) {
    // The error page is HTML meant for people; the status line is enough.
    throw new Error(`${response.status} ${response.statusText}`);
  }
  return response.text();
}

document.addEventListener('DOMContentLoaded', () => {
  const generateForm = document.getElementById('generate-form');
  const stringForm = document.getElementById('the-string');
  const stringInput = stringForm.elements.value;
  const status = document.getElementById('status');

  function show(value) {
    stringInput.value = value;
    stringForm.hidden = false;
  }

  // Run an action; report its outcome (or its failure) in the status line.
  async function attempt(action, done) {
    try {
      await action();
      status.textContent = done;
    } catch (error) {
      status.textContent = `Failed: ${error.message}`;
    }
  }

  generateForm.addEventListener('submit', (event) => {
    event.preventDefault();
    // Not `elements.length`: on a form's elements that is the control count.
    const length = generateForm.elements.namedItem('length').value;
    attempt(async () => show(await callService('POST', {length})), 'Generated!');
  });

  stringForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const fields = {another_string: stringInput.value};
    attempt(() => callService('PUT', fields), 'Replaced!');
  });

  document.getElementById('delete-string').addEventListener('click', () => {
    attempt(async () => {
      await callService('DELETE');
      stringForm.hidden = true;
    }, 'Deleted!');
  });

  // A string kept in the session from an earlier visit is shown at once.
  callService('GET').then(show, () => { /* 404: nothing stored yet */ });
});
