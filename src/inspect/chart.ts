// A machine's statechart, read from its definition (never drawn by hand, so it cannot drift): as
// Mermaid (stateDiagram-v2, which GitHub renders in the README) and as a standalone SVG, drawn
// here (no Graphviz or browser needed on a Dom0): each compound state a box holding its children
// in a grid, each transition with a target an arrow labelled `event [guard]`, and the transitions
// that stay put (handled in every state, like the handshake) listed beside the chart.
import type { AnyStateMachine } from 'xstate';

interface Node {
  id: string;
  key: string;
  type: string;
  parent?: Node;
  states: Record<string, Node>;
  initial?: { target: Node[] };
  history?: string | false;
  transitions: Map<string, Transition[]>;
  always?: Transition[];
}
interface Transition {
  eventType: string;
  target?: Node[];
  guard?: unknown;
  actions: unknown[];
}

export interface ChartEdge {
  from: string;
  to: string;
  label: string;
}
/** A transition without a target: it runs its actions and the state stays. */
export interface ChartStay {
  state: string;
  label: string;
}
export interface Chart {
  id: string;
  /** Every state's id (e.g. guest.managed.selfAdjusting), parents before children. */
  states: string[];
  edges: ChartEdge[];
  stays: ChartStay[];
  mermaid: string;
  svg: string;
}

function nameOf(x: unknown): string | null {
  if (x === undefined || x === null) return null;
  if (typeof x === 'string') return x;
  if (typeof x === 'function') return x.name || 'inline';
  if (typeof x === 'object' && 'type' in x) {
    const t = (x as { type: unknown }).type;
    const p = (x as { params?: unknown }).params;
    if (typeof t !== 'string') return null;
    return p && typeof p === 'object' ? `${t}(${Object.values(p).join(', ')})` : t;
  }
  return null;
}

function labelOf(t: Transition): string {
  const guard = nameOf(t.guard);
  const ev = t.eventType === '' ? 'always' : t.eventType;
  return guard === null ? ev : `${ev} [${guard}]`;
}

function actionsOf(t: Transition): string {
  const names = t.actions.map(nameOf).filter((n): n is string => n !== null);
  return names.length === 0 ? '' : ` / ${names.join(', ')}`;
}

function walk(n: Node, out: Node[]): void {
  out.push(n);
  for (const c of Object.values(n.states)) walk(c, out);
}

const mid = (id: string) => id.replace(/[^A-Za-z0-9_]/g, '_');

function mermaidOf(root: Node, edges: ChartEdge[], stays: ChartStay[]): string {
  const lines = ['stateDiagram-v2'];
  const body = (n: Node, indent: string) => {
    const init = n.initial?.target[0];
    if (init) lines.push(`${indent}[*] --> ${mid(init.id)}`);
    for (const c of Object.values(n.states)) {
      if (c.type === 'history') lines.push(`${indent}state "H (${c.key})" as ${mid(c.id)}`);
      else if (Object.keys(c.states).length > 0) {
        lines.push(`${indent}state ${mid(c.id)} {`);
        body(c, indent + '  ');
        lines.push(`${indent}}`);
      } else lines.push(`${indent}${mid(c.id)}: ${c.key}`);
      if (c.type === 'final') lines.push(`${indent}${mid(c.id)} --> [*]`);
    }
  };
  lines.push(`  state ${mid(root.id)} {`);
  body(root, '    ');
  lines.push('  }');
  for (const e of edges) lines.push(`  ${mid(e.from)} --> ${mid(e.to)}: ${e.label.replace(/:/g, ' ')}`);
  const byState = new Map<string, string[]>();
  for (const s of stays) byState.set(s.state, [...(byState.get(s.state) ?? []), s.label.replace(/:/g, ' ')]);
  for (const [state, labels] of byState) lines.push(`  note right of ${mid(state)}\n    ${labels.join('<br/>\n    ')}\n  end note`);
  return lines.join('\n') + '\n';
}

// --- SVG -------------------------------------------------------------------------------------

const CHAR_W = 7.2; // px per character at 12 px sans-serif, roughly
const LEAF_H = 36;
const PAD = 18;
const TITLE_H = 22;
const GAP = 60;

interface Box {
  node: Node;
  w: number;
  h: number;
  x: number;
  y: number;
  children: Box[];
}

function measure(n: Node): Box {
  const kids = Object.values(n.states).map(measure);
  if (kids.length === 0) return { node: n, w: Math.max(110, n.key.length * CHAR_W + 28), h: LEAF_H, x: 0, y: 0, children: [] };
  const cols = Math.ceil(Math.sqrt(kids.length));
  const rows = Math.ceil(kids.length / cols);
  const colW = Array.from({ length: cols }, (_, c) => Math.max(...kids.filter((_, i) => i % cols === c).map((k) => k.w)));
  const rowH = Array.from({ length: rows }, (_, r) => Math.max(...kids.filter((_, i) => Math.floor(i / cols) === r).map((k) => k.h)));
  kids.forEach((k, i) => {
    const c = i % cols;
    const r = Math.floor(i / cols);
    k.x = PAD + colW.slice(0, c).reduce((s, w) => s + w + GAP, 0) + (colW[c]! - k.w) / 2;
    k.y = TITLE_H + PAD + rowH.slice(0, r).reduce((s, h) => s + h + GAP, 0) + (rowH[r]! - k.h) / 2;
  });
  const w = Math.max(PAD * 2 + colW.reduce((s, x) => s + x, 0) + GAP * (cols - 1), n.key.length * CHAR_W + 2 * PAD);
  const h = TITLE_H + PAD * 2 + rowH.reduce((s, x) => s + x, 0) + GAP * (rows - 1);
  return { node: n, w, h, x: 0, y: 0, children: kids };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function svgOf(root: Node, edges: ChartEdge[], stays: ChartStay[]): string {
  const top = measure(root);
  const at = new Map<string, { x: number; y: number; w: number; h: number }>();
  const shapes: string[] = [];
  const place = (b: Box, ox: number, oy: number) => {
    const x = ox + b.x;
    const y = oy + b.y;
    at.set(b.node.id, { x, y, w: b.w, h: b.h });
    const n = b.node;
    if (b.children.length > 0) {
      shapes.push(`<rect x="${x}" y="${y}" width="${b.w}" height="${b.h}" rx="10" fill="#f7f9fc" stroke="#5a6b86"/>`);
      shapes.push(`<text x="${x + 10}" y="${y + 16}" font-weight="bold">${esc(n.key)}</text>`);
      const init = n.initial?.target[0];
      if (init) shapes.push(`<circle data-initial="${esc(init.id)}" cx="${x + 10}" cy="${y + TITLE_H + 4}" r="4" fill="#222"/>`);
    } else {
      const fill = n.type === 'final' ? '#eee' : n.type === 'history' ? '#fff8e0' : '#e8f0ff';
      const label = n.type === 'history' ? `H (${n.key})` : n.key;
      shapes.push(`<rect x="${x}" y="${y}" width="${b.w}" height="${b.h}" rx="${n.type === 'history' ? 18 : 8}" fill="${fill}" stroke="#2f4a7a"${n.type === 'final' ? ' stroke-width="3"' : ''}/>`);
      shapes.push(`<text x="${x + b.w / 2}" y="${y + b.h / 2 + 4}" text-anchor="middle">${esc(label)}</text>`);
    }
    for (const c of b.children) place(c, x, y);
  };
  place(top, 10, 10);

  // Initial-state markers: an arrow from the parent's dot to its initial child.
  const arrows: string[] = [];
  const border = (r: { x: number; y: number; w: number; h: number }, tx: number, ty: number) => {
    const cx = r.x + r.w / 2;
    const cy = r.y + r.h / 2;
    const dx = tx - cx;
    const dy = ty - cy;
    if (dx === 0 && dy === 0) return { x: cx, y: cy };
    const s = Math.min(dx === 0 ? Infinity : r.w / 2 / Math.abs(dx), dy === 0 ? Infinity : r.h / 2 / Math.abs(dy));
    return { x: cx + dx * s, y: cy + dy * s };
  };
  const pairs = new Map<string, number>();
  for (const e of edges) {
    const a = at.get(e.from)!;
    const b = at.get(e.to)!;
    const key = [e.from, e.to].sort().join('|');
    const k = pairs.get(key) ?? 0;
    pairs.set(key, k + 1);
    const p = border(a, b.x + b.w / 2, b.y + b.h / 2);
    const q = border(b, a.x + a.w / 2, a.y + a.h / 2);
    // Parallel edges bow out by turns, so their labels do not sit on each other.
    const bow = (k % 2 === 0 ? 1 : -1) * (20 + 14 * Math.floor(k / 2)) * (e.from < e.to ? 1 : -1);
    const mx = (p.x + q.x) / 2;
    const my = (p.y + q.y) / 2;
    const len = Math.hypot(q.x - p.x, q.y - p.y) || 1;
    const cx = mx + (-(q.y - p.y) / len) * bow;
    const cy = my + ((q.x - p.x) / len) * bow;
    arrows.push(`<path d="M${p.x.toFixed(1)},${p.y.toFixed(1)} Q${cx.toFixed(1)},${cy.toFixed(1)} ${q.x.toFixed(1)},${q.y.toFixed(1)}" fill="none" stroke="#555" marker-end="url(#arrow)"/>`);
    arrows.push(`<text x="${((p.x + q.x) / 4 + cx / 2).toFixed(1)}" y="${((p.y + q.y) / 4 + cy / 2).toFixed(1)}" font-size="10" fill="#333" text-anchor="middle">${esc(e.label)}</text>`);
  }

  const listX = top.w + 40;
  const list = [`<text x="${listX}" y="28" font-weight="bold">In every state (stays, unless -> another):</text>`];
  stays.forEach((s, i) => list.push(`<text x="${listX}" y="${48 + i * 16}" font-size="11">${esc(`${s.state === root.id ? '' : s.state + ': '}${s.label}`)}</text>`));
  const width = listX + Math.max(300, ...stays.map((s) => (s.state.length + s.label.length + 2) * 6.4)) + 20;
  const height = Math.max(top.h + 20, 60 + stays.length * 16);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${Math.ceil(height)}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(root.id)} statechart</title>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ...shapes,
    ...arrows,
    ...list,
    '</svg>',
    '',
  ].join('\n');
}

/** The chart of a machine: its states, its transitions, and both drawings. */
export function chartOf(machine: AnyStateMachine): Chart {
  const root = machine.root as unknown as Node;
  const nodes: Node[] = [];
  walk(root, nodes);
  const edges: ChartEdge[] = [];
  const stays: ChartStay[] = [];
  for (const n of nodes) {
    const all = [...n.transitions.values()].flat().concat(n.always ?? []);
    for (const t of all) {
      const label = labelOf(t);
      if (t.target === undefined || t.target.length === 0) {
        // A guarded "stay" with no actions only stops the search (regimeTransitions): not drawn.
        if (t.actions.length > 0) stays.push({ state: n.id, label: label + actionsOf(t) });
        continue;
      }
      // From the machine itself (any state): listed with the stays, as "event -> target", since
      // an arrow from the chart's frame into it says nothing and Mermaid cannot draw one.
      if (n === root) for (const to of t.target) stays.push({ state: n.id, label: `${label} -> ${to.key}${actionsOf(t)}` });
      else for (const to of t.target) edges.push({ from: n.id, to: to.id, label });
    }
  }
  return { id: root.id, states: nodes.map((n) => n.id), edges, stays, mermaid: mermaidOf(root, edges, stays), svg: svgOf(root, edges, stays) };
}
