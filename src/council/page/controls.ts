import { ApiError, describeError } from './api.js';
import { byId, showError } from './dom.js';
import { MONTH } from './format.js';
import { forgetToken } from './token.js';

/**
 * The sign-in and period controls the council and finance pages share: the token form (a pasted token signs in,
 * the field is cleared at once), sign-out, and the month picker, which keeps the chosen month in the URL.
 */
export type PageControls = {
  signIn(token: string): void;
  showSignIn(message: string | null): void;
  period(): string;
  /** A new valid month was picked (the URL already names it). */
  periodChanged(period: string): void;
};

export function wireControls(page: PageControls): void {
  byId<HTMLFormElement>('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = byId<HTMLInputElement>('token');
    const token = input.value.trim();
    input.value = '';
    if (!token) return page.showSignIn('Paste an API token first.');
    page.signIn(token);
  });
  byId('sign-out').addEventListener('click', () => {
    forgetToken();
    page.showSignIn(null);
  });
  byId<HTMLFormElement>('period-form').addEventListener('submit', (event) => event.preventDefault());
  byId<HTMLInputElement>('period').addEventListener('change', (event) => {
    const value = (event.target as HTMLInputElement).value;
    if (!MONTH.test(value) || value === page.period()) return;
    const url = new URL(location.href);
    url.searchParams.set('period', value);
    history.replaceState(history.state, '', url.pathname + url.search);
    page.periodChanged(value);
  });
}

/**
 * Runs one panel's work, its error slot cleared first: a token no longer accepted signs the page out (the reason
 * on the sign-in form), any other failure is shown in the slot. Undefined when it failed.
 */
export async function inSection<T>(errorSlot: string, work: () => Promise<T>, showSignIn: (message: string | null) => void): Promise<T | undefined> {
  showError(byId(errorSlot), null);
  try {
    return await work();
  } catch (err) {
    if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') {
      forgetToken();
      showSignIn(`The token is no longer accepted: ${describeError(err)}`);
    } else {
      showError(byId(errorSlot), describeError(err));
    }
    return undefined;
  }
}
