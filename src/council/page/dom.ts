/** A few DOM helpers: the page builds its markup with these (never innerHTML), so data cannot inject any. */

export type Child = Node | string | number | null | undefined | false;
export type Props = Record<string, string | number | boolean | null | undefined>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(key, value === true ? '' : String(value));
  }
  node.append(...children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map((c) => (typeof c === 'number' ? String(c) : c)));
  return node;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node as T;
}

/** Shows `message` in an error slot, or hides the slot when message is null. */
export function showError(slot: HTMLElement, message: string | null): void {
  slot.textContent = message ?? '';
  slot.hidden = message === null;
}

/** Text for screen readers (a polite live region), e.g. after an action. */
export function announce(message: string): void {
  byId('announcer').textContent = message;
}
