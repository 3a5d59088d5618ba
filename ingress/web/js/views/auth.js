// Sign in and sign up. Registering logs the new user in at once.
import { getJson, postJson } from '../api.js';
import { $, fromTemplate, showError } from '../dom.js';
import { describe } from '../errors.js';
import * as session from '../session.js';

async function signIn(email, password) {
  const { tokens } = await postJson('/api/auth/login', { email, password }, { auth: false });
  const { user } = await getJson('/api/auth/me', {
    auth: false,
    headers: { Authorization: `Bearer ${tokens.access_token}` },
  });
  session.start(tokens, { username: user.username, email: user.email });
}

function bind(main, name, submit, notice) {
  main.replaceChildren(fromTemplate(name));
  const form = $('[data-role=form]', main);
  const error = $('[data-role=error]', main);
  const button = $('button[type=submit]', form);
  if (notice) {
    const box = $('[data-role=notice]', main);
    box.textContent = notice;
    box.hidden = false;
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(error, '');
    if (!form.reportValidity()) return;
    button.disabled = true;
    try {
      await submit(Object.fromEntries(new FormData(form)));
    } catch (failure) {
      showError(error, describe(failure));
      button.disabled = false;
      $('input', form).focus();
    }
  });
  return { focus: $('input', form) };
}

export function login(main, { notice } = {}) {
  return bind(main, 'login', ({ email, password }) => signIn(email, password), notice);
}

export function register(main) {
  return bind(main, 'register', async ({ username, email, password }) => {
    await postJson('/api/auth/register', { username, email, password }, { auth: false });
    await signIn(email, password);
  });
}
