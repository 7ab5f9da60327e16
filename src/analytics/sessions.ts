import { add, toMoney, ZERO_MONEY, type Decimal } from '../metering/money.js';

/**
 * A session's calls as a cost tree: a call's parent is the call whose request id it carries in
 * parent_request_id. Calls without a parent are roots; so are calls whose parent is not in the session
 * (note PARENT_NOT_IN_SESSION: the parent was in another session, or outside what the reader may see) and
 * one call of each parent cycle (note CYCLE: ids are client-supplied, so a loop is possible and must not
 * hang the reader). Walks are iterative, so a chain of any depth cannot overflow the stack.
 */

export type SessionCall = {
  request_id: string;
  parent_request_id: string | null;
  ts: Date;
  bu_id: string;
  use_case_id: string;
  agent_id: string;
  model_served: string;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  cost: string;
};

export type NodeNote = 'PARENT_NOT_IN_SESSION' | 'CYCLE';

export type SessionNode = {
  call: SessionCall;
  depth: number;
  note: NodeNote | null;
  children: SessionNode[];
  /** Cost and tokens of this call and everything under it. */
  subtreeCost: string;
  subtreeTokens: number;
};

export type SessionTree = {
  sessionId: string;
  roots: SessionNode[];
  steps: number;
  agents: string[];
  businessUnits: string[];
  useCases: string[];
  tokens: number;
  cost: string;
  startedAt: Date | null;
  endedAt: Date | null;
  maxDepth: number;
};

export function buildSessionTree(sessionId: string, calls: readonly SessionCall[]): SessionTree {
  const ordered = [...calls].sort(byTime);
  const nodes = new Map<string, SessionNode>();
  for (const call of ordered) nodes.set(call.request_id, { call, depth: 0, note: null, children: [], subtreeCost: ZERO_MONEY, subtreeTokens: 0 });

  const roots: SessionNode[] = [];
  for (const node of nodes.values()) {
    const parentId = node.call.parent_request_id;
    if (parentId === null || parentId === '') roots.push(node);
    else if (!nodes.has(parentId)) {
      node.note = 'PARENT_NOT_IN_SESSION';
      roots.push(node);
    }
  }
  linkChildren(nodes, new Set(roots));

  const visited = new Set<SessionNode>();
  for (const root of roots) walk(root, visited);
  // Whatever no root reaches is on a cycle or hangs off one: cut each cycle at its earliest call.
  for (const node of nodes.values()) {
    if (visited.has(node)) continue;
    const cut = earliestOnCycle(node, nodes);
    cut.note = 'CYCLE';
    const parent = nodes.get(cut.call.parent_request_id!)!;
    parent.children = parent.children.filter((c) => c !== cut);
    roots.push(cut);
    walk(cut, visited);
  }
  roots.sort((a, b) => byTime(a.call, b.call));
  return summarize(sessionId, roots, ordered);
}

/** Pre-order (parents before children, siblings by time): the flat form GraphQL serves. */
export function flattenTree(roots: readonly SessionNode[]): SessionNode[] {
  const out: SessionNode[] = [];
  const stack = [...roots].reverse();
  while (stack.length > 0) {
    const node = stack.pop()!;
    out.push(node);
    for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]!);
  }
  return out;
}

export function tokensOf(c: SessionCall): number {
  return c.input_tokens + c.cached_input_tokens + c.cache_write_tokens + c.output_tokens;
}

/** Climbs parent links from `start` (which no root reaches, so the climb must loop) and returns the loop's earliest call. */
function earliestOnCycle(start: SessionNode, nodes: Map<string, SessionNode>): SessionNode {
  const seen = new Set<SessionNode>();
  let node = start;
  while (!seen.has(node)) {
    seen.add(node);
    node = nodes.get(node.call.parent_request_id!)!;
  }
  let earliest = node;
  for (let n = nodes.get(node.call.parent_request_id!)!; n !== node; n = nodes.get(n.call.parent_request_id!)!) {
    if (byTime(n.call, earliest.call) < 0) earliest = n;
  }
  return earliest;
}

function linkChildren(nodes: Map<string, SessionNode>, roots: Set<SessionNode>): void {
  for (const node of nodes.values()) {
    if (roots.has(node)) continue;
    nodes.get(node.call.parent_request_id!)!.children.push(node);
  }
}

/** Sets depths from `root` down, then subtree totals bottom-up; marks every node reached. */
function walk(root: SessionNode, visited: Set<SessionNode>): void {
  root.depth = 0;
  const order: SessionNode[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (visited.has(node)) continue;
    visited.add(node);
    order.push(node);
    for (const child of node.children) {
      child.depth = node.depth + 1;
      stack.push(child);
    }
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i]!;
    let cost: Decimal | string = node.call.cost;
    let tokens = tokensOf(node.call);
    for (const child of node.children) {
      cost = add(cost, child.subtreeCost);
      tokens += child.subtreeTokens;
    }
    node.subtreeCost = toMoney(cost);
    node.subtreeTokens = tokens;
  }
}

function summarize(sessionId: string, roots: SessionNode[], ordered: SessionCall[]): SessionTree {
  let cost: Decimal | string = ZERO_MONEY;
  let tokens = 0;
  let maxDepth = 0;
  for (const root of roots) {
    cost = add(cost, root.subtreeCost);
    tokens += root.subtreeTokens;
  }
  for (const node of flattenTree(roots)) maxDepth = Math.max(maxDepth, node.depth);
  const distinct = (pick: (c: SessionCall) => string) => [...new Set(ordered.map(pick))].sort();
  return {
    sessionId,
    roots,
    steps: ordered.length,
    agents: distinct((c) => c.agent_id),
    businessUnits: distinct((c) => c.bu_id),
    useCases: distinct((c) => c.use_case_id),
    tokens,
    cost: toMoney(cost),
    startedAt: ordered[0]?.ts ?? null,
    endedAt: ordered.at(-1)?.ts ?? null,
    maxDepth,
  };
}

function byTime(a: SessionCall, b: SessionCall): number {
  return a.ts.getTime() - b.ts.getTime() || (a.request_id < b.request_id ? -1 : a.request_id > b.request_id ? 1 : 0);
}
