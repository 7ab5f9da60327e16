import Graph from 'graphology';
import Sigma from 'sigma';
import { buColors, faded, FADED, HIGHLIGHT, weightColor } from './colors.js';
import { el } from './dom.js';
import { fixed, money } from './format.js';
import { evidenceList } from './evidence.js';
import { pairKey, type AdjacencyEdge, type AdjacencyGraph } from './types.js';

/**
 * The adjacency graph with sigma.js: nodes at the server's layout, sized by spend and colored by BU;
 * edges sized and colored by weight. Hovering an edge shows its signals; clicking (or choosing an alert)
 * keeps it highlighted. The container carries data-nodes / data-edges: what was actually drawn.
 */

type NodeAttrs = { x: number; y: number; size: number; color: string; label: string; bu: string };
type EdgeAttrs = { size: number; color: string; edge: AdjacencyEdge };

const NODE_SIZE = { min: 6, max: 22 };
const EDGE_SIZE = { min: 1, max: 9 };
/** Extra width right of the layout, as a share of its span, for the labels. */
const LABEL_ROOM = 0.45;
/** Each signal's weight field, its AdjacencySignal name (in `fired`) and its label. */
const SIGNALS: [keyof AdjacencyEdge['signals'], string, string][] = [
  ['sharedTools', 'SHARED_TOOLS', 'Shared tools'], ['leadLag', 'LEAD_LAG', 'Lead-lag'],
  ['classCoupling', 'CLASS_COUPLING', 'Class coupling'], ['interactions', 'INTERACTIONS', 'Interactions'],
];

export type GraphElements = { container: HTMLElement; legend: HTMLElement; details: HTMLElement; communities: HTMLElement; summary: HTMLElement };

export class AdjacencyView {
  private readonly graph = new Graph<NodeAttrs, EdgeAttrs>({ type: 'undirected', multi: false });
  private sigma: Sigma<NodeAttrs, EdgeAttrs> | null = null;
  private selected: string | null = null;
  private hovered: string | null = null;
  private community: Set<string> | null = null;
  private names = new Map<string, string>();
  private currency = 'USD';

  constructor(private readonly ui: GraphElements) {}

  /** The use case's display name (its id until the graph has loaded). */
  name(useCase: string): string {
    return this.names.get(useCase) ?? useCase;
  }

  render(data: AdjacencyGraph): void {
    this.currency = data.currency;
    this.names = new Map(data.nodes.map((n) => [n.id, n.useCase?.name ?? n.id]));
    this.selected = this.hovered = null;
    this.community = null;
    this.fill(data);
    const sigma = this.ensureSigma();
    sigma?.setCustomBBox(labelRoom(data));
    sigma?.refresh();
    const { container } = this.ui;
    container.dataset.nodes = String(this.graph.order);
    container.dataset.edges = String(this.graph.size);
    container.dataset.state = this.sigma ? 'ready' : 'failed';
    container.setAttribute('aria-label', `Adjacency graph: ${this.graph.order} use cases, ${this.graph.size} cross-BU edges`);
    container.classList.toggle('empty', this.graph.order === 0);
    this.ui.summary.textContent = `${this.graph.order} use cases · ${this.graph.size} cross-BU edges · run ${data.run.id} by ${data.run.triggeredBy}`;
    this.renderLegend(data);
    this.renderCommunities(data);
    this.showDetails(null);
  }

  /** Highlights the edge between two use cases (null: none); returns whether the graph has it. */
  select(a: string | null, b?: string): boolean {
    const key = a && b ? pairKey(a, b) : null;
    this.selected = key && this.graph.hasEdge(key) ? key : null;
    this.ui.container.dataset.highlightedEdge = this.selected ?? '';
    this.showDetails(this.selected);
    this.sigma?.refresh({ skipIndexation: true });
    return this.selected !== null;
  }

  private fill(data: AdjacencyGraph): void {
    const g = this.graph;
    g.clear();
    const colors = buColors(data.nodes.map((n) => n.bu));
    const maxSpend = Math.max(0, ...data.nodes.map((n) => Number(n.spend)));
    for (const n of data.nodes) {
      const size = NODE_SIZE.min + (maxSpend > 0 ? Math.sqrt(Number(n.spend) / maxSpend) : 0) * (NODE_SIZE.max - NODE_SIZE.min);
      g.addNode(n.id, { x: n.x, y: n.y, size, color: colors.get(n.bu)!, label: this.name(n.id), bu: n.bu });
    }
    for (const e of data.edges) {
      if (!g.hasNode(e.source) || !g.hasNode(e.target)) continue;
      const size = EDGE_SIZE.min + e.weight * (EDGE_SIZE.max - EDGE_SIZE.min);
      g.addUndirectedEdgeWithKey(pairKey(e.source, e.target), e.source, e.target, { size, color: weightColor(e.weight), edge: e });
    }
  }

  private ensureSigma(): Sigma<NodeAttrs, EdgeAttrs> | null {
    if (this.sigma) return this.sigma;
    try {
      this.sigma = new Sigma(this.graph, this.ui.container, {
        enableEdgeEvents: true,
        zIndex: true,
        labelRenderedSizeThreshold: 0,
        labelFont: 'Inter, system-ui, sans-serif',
        labelSize: 13,
        labelWeight: '500',
        labelColor: { color: '#1e293b' },
        stagePadding: 40,
        nodeReducer: (node, attrs) => this.nodeLook(node, attrs),
        edgeReducer: (edge, attrs) => this.edgeLook(edge, attrs),
      });
    } catch (err) {
      this.ui.container.replaceChildren(el('p', { class: 'error' }, `The graph cannot be drawn in this browser: ${(err as Error).message}`));
      return null;
    }
    this.sigma.on('enterEdge', ({ edge }) => this.hover(edge));
    this.sigma.on('leaveEdge', () => this.hover(null));
    this.sigma.on('clickEdge', ({ edge }) => {
      const { source, target } = this.graph.getEdgeAttribute(edge, 'edge');
      this.select(source, target);
    });
    this.sigma.on('clickStage', () => this.select(null));
    return this.sigma;
  }

  private hover(edge: string | null): void {
    this.hovered = edge;
    this.ui.container.classList.toggle('pointing', edge !== null);
    this.showDetails(edge ?? this.selected);
    this.sigma?.refresh({ skipIndexation: true });
  }

  private focusEdge(): string | null {
    return this.hovered ?? this.selected;
  }

  private nodeLook(node: string, attrs: NodeAttrs): Partial<NodeAttrs & { forceLabel: boolean; zIndex: number }> {
    const edge = this.focusEdge();
    const focused = edge ? this.graph.hasExtremity(edge, node) : this.community?.has(node);
    if (focused === undefined) return attrs;
    return focused ? { ...attrs, forceLabel: true, zIndex: 2 } : { ...attrs, color: faded(attrs.color), zIndex: 0 };
  }

  private edgeLook(edge: string, attrs: EdgeAttrs): Partial<EdgeAttrs & { zIndex: number }> {
    const focus = this.focusEdge();
    if (focus === edge) return { ...attrs, color: HIGHLIGHT, size: attrs.size + 3, zIndex: 2 };
    if (focus || this.community) return { ...attrs, color: FADED, zIndex: 0 };
    return { ...attrs, zIndex: 1 };
  }

  private showDetails(edgeKey: string | null): void {
    if (!edgeKey || !this.graph.hasEdge(edgeKey)) {
      this.ui.details.replaceChildren(el('p', { class: 'muted' }, 'Hover or click an edge to see its signals.'));
      return;
    }
    const e = this.graph.getEdgeAttribute(edgeKey, 'edge');
    const meters = SIGNALS.map(([key, name, text]) => {
      const value = e.signals[key];
      const id = `signal-${key}`;
      return el('li', { class: e.fired.includes(name) ? 'fired' : 'quiet' },
        el('label', { for: id }, text),
        el('meter', { id, min: 0, max: 1, value: value.toFixed(3) }, fixed(value)),
        el('span', { class: 'num' }, fixed(value)));
    });
    this.ui.details.replaceChildren(
      el('p', { class: 'pair' }, el('strong', {}, this.name(e.source)), ' ↔ ', el('strong', {}, this.name(e.target))),
      el('p', { class: 'muted' }, `${e.sourceBu} ↔ ${e.targetBu} · weight `, el('strong', { class: 'num', 'data-edge-weight': e.weight }, fixed(e.weight))),
      el('ul', { class: 'signals' }, ...meters),
      evidenceList(e.evidence, (id) => this.name(id)),
    );
  }

  private renderLegend(data: AdjacencyGraph): void {
    const colors = buColors(data.nodes.map((n) => n.bu));
    const items = [...colors].map(([bu, color]) => el('li', {}, swatch(color), bu));
    const ramp = el('li', { class: 'ramp' }, el('span', { class: 'ramp-bar', 'aria-hidden': 'true' }), 'edge weight 0 → 1');
    this.ui.legend.replaceChildren(...items, ramp);
  }

  private renderCommunities(data: AdjacencyGraph): void {
    const colors = buColors(data.nodes.map((n) => n.bu));
    if (data.communities.length === 0) {
      this.ui.communities.replaceChildren(el('li', { class: 'muted' }, 'None spans two or more BUs this month.'));
      return;
    }
    this.ui.communities.replaceChildren(...data.communities.map((c) => {
      const button = el('button', { type: 'button', class: 'link', 'aria-pressed': 'false' }, `Community ${c.id}`);
      const members = new Set(c.useCases);
      button.addEventListener('click', () => this.toggleCommunity(button, members));
      return el('li', {},
        el('div', { class: 'community-head' }, button, el('span', { class: 'muted' }, `${c.bus.length} BUs · ${money(c.spend, this.currency)}`)),
        el('ul', { class: 'chips' }, ...c.useCases.map((u) => el('li', {}, swatch(colors.get(data.nodes.find((n) => n.id === u)?.bu ?? '') ?? FADED), this.name(u)))));
    }));
  }

  private toggleCommunity(button: HTMLButtonElement, members: Set<string>): void {
    const on = button.getAttribute('aria-pressed') !== 'true';
    for (const b of this.ui.communities.querySelectorAll('button[aria-pressed]')) b.setAttribute('aria-pressed', 'false');
    button.setAttribute('aria-pressed', String(on));
    this.community = on ? members : null;
    this.sigma?.refresh({ skipIndexation: true });
  }
}

/**
 * The layout's bounding box, widened to the right: labels are drawn right of their node, and sigma fits
 * the nodes (not their labels) to the canvas, so the rightmost names would otherwise be cut.
 */
function labelRoom(data: AdjacencyGraph): { x: [number, number]; y: [number, number] } | null {
  if (data.nodes.length === 0) return null;
  const xs = data.nodes.map((n) => n.x);
  const ys = data.nodes.map((n) => n.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const span = Math.max(x1 - x0, y1 - y0, 1e-6);
  return { x: [x0, x1 + span * LABEL_ROOM], y: [y0, y1] };
}

function swatch(color: string): HTMLElement {
  const s = el('span', { class: 'swatch', 'aria-hidden': 'true' });
  s.style.backgroundColor = color;
  return s;
}
