/**
 * The API token lives in sessionStorage (this tab only, gone when it closes). A link may carry it in the
 * fragment (/council#token=…), which browsers never send to the server; it is moved to storage and the
 * fragment is cleared at once, so that it stays out of history, bookmarks and screenshots.
 */

const KEY = 'tollgate.council.token';

export function tokenFromFragment(): string | null {
  if (!location.hash) return null;
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token === null) return null;
  history.replaceState(history.state, '', location.pathname + location.search);
  return token.trim() || null;
}

export function storedToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}
