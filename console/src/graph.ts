// A flow drawn as a graph: the server's nodes and edges (GET /graph?format=json), laid out by dagre and drawn
// as SVG. Nodes are buttons (Tab, Enter); marks (errors, warnings, the path of a call) are classes.
import dagre from "@dagrejs/dagre";
import type { Action, Graph, GraphEdge } from "./api";

const svgNS = "http://www.w3.org/2000/svg";

export interface Marks {
  errors?: Set<number>; // action indexes
  warnings?: Set<number>;
  visited?: Set<string>; // action ids
  current?: string;
  taken?: Set<string>; // "from>to"
  selected?: number;
  /** Counts of a flow's executions: per node (by id) its line of figures, per edge ("from>to") how many took it. */
  stats?: { nodes: Map<string, string>; edges: Map<string, number> };
}

/** What the keyboard does on a node besides Enter: Delete, Alt+arrows. */
export interface NodeKeys {
  onDelete?: (index: number) => void;
  onMove?: (index: number, delta: number) => void;
}

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, parent?: Element): SVGElementTagNameMap[K] {
  const e = document.createElementNS(svgNS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent?.appendChild(e);
  return e;
}

/** What an edge says: its kind, with a branch's value and a goto's loop count. */
export function edgeText(e: GraphEdge, actions: Action[], byId: Map<string, number>): string {
  switch (e.kind) {
    case "branch":
      return `"${e.label ?? ""}"`;
    case "goto": {
      const a = actions[byId.get(e.from) ?? -1];
      const n = a?.option?.loop_count;
      return typeof n === "number" ? `goto ×${n}` : "goto (never)";
    }
    case "next":
      return "";
    default:
      return e.kind;
  }
}

const nodeW = 200;

interface Point {
  x: number;
  y: number;
}

/** Where everything goes: node centres, each edge's line and the centre of its label. */
interface Layout {
  width: number;
  height: number;
  nodes: Map<string, Point>;
  edges: { points: Point[]; x: number; y: number; width: number }[];
}

/** Up to this many actions, dagre lays the graph out; beyond, its cost grows too fast for a page that must be
 * ready within a second (a 200-action flow takes it most of one), and a simpler layered layout takes over. */
const dagreLimit = 80;

const labelWidth = (text: string) => (text ? text.length * 7 + 8 : 0);

function layoutDagre(g: Graph, texts: string[], nodeH: number): Layout {
  const layout = new dagre.graphlib.Graph({ multigraph: true });
  layout.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 40, edgesep: 12, marginx: 12, marginy: 12 });
  layout.setDefaultEdgeLabel(() => ({}));
  for (const n of g.nodes) layout.setNode(n.id, { width: nodeW, height: nodeH });
  g.edges.forEach((e, i) => layout.setEdge(e.from, e.to, { width: labelWidth(texts[i]), height: texts[i] ? 16 : 0, labelpos: "c" }, "e" + i));
  dagre.layout(layout);
  const size = layout.graph();
  return {
    width: size.width ?? 100, height: size.height ?? 100,
    nodes: new Map(g.nodes.map((n) => {
      const p = layout.node(n.id);
      return [n.id, { x: p.x ?? 0, y: p.y ?? 0 }];
    })),
    edges: g.edges.map((e, i) => {
      const info = layout.edge({ v: e.from, w: e.to, name: "e" + i });
      return { points: (info.points ?? []) as Point[], x: info.x ?? 0, y: info.y ?? 0, width: labelWidth(texts[i]) };
    }),
  };
}

/** A layered layout in linear time for large flows: an action's layer is the longest path to it along the moves
 * that go forward in the list (a flow is mostly written in the order it runs), actions of a layer side by side in
 * list order; a move back (a loop) curves along the right side. */
function layered(g: Graph, texts: string[], nodeH: number): Layout {
  const index = new Map(g.nodes.map((n) => [n.id, n.index]));
  const layer = g.nodes.map(() => 0);
  const forward = g.edges.map((e) => index.get(e.to)! > index.get(e.from)!);
  const byFrom = g.nodes.map((): number[] => []);
  g.edges.forEach((e, i) => forward[i] && byFrom[index.get(e.from)!].push(index.get(e.to)!));
  for (let i = 0; i < g.nodes.length; i++) for (const j of byFrom[i]) layer[j] = Math.max(layer[j], layer[i] + 1);
  const rows: number[][] = [];
  g.nodes.forEach((_, i) => (rows[layer[i]] ??= []).push(i));
  const gapX = 30;
  const gapY = 46;
  const widest = Math.max(...rows.map((r) => (r ? r.length : 0)));
  const margin = 12;
  const loopRoom = 60;
  const width = margin * 2 + widest * nodeW + (widest - 1) * gapX + loopRoom;
  const inner = width - loopRoom;
  const nodes = new Map<string, Point>();
  let y = margin + nodeH / 2;
  for (const row of rows) {
    if (!row) continue;
    const rowW = row.length * nodeW + (row.length - 1) * gapX;
    row.forEach((i, k) => nodes.set(g.nodes[i].id, { x: (inner - rowW) / 2 + nodeW / 2 + k * (nodeW + gapX), y }));
    y += nodeH + gapY;
  }
  const height = y - gapY - nodeH / 2 + margin;
  const edges = g.edges.map((e, i) => {
    const a = nodes.get(e.from)!;
    const b = nodes.get(e.to)!;
    let points: Point[];
    if (forward[i]) points = [{ x: a.x, y: a.y + nodeH / 2 }, { x: b.x, y: b.y - nodeH / 2 }];
    else {
      const side = inner - margin + loopRoom / 2 + (i % 3) * 8;
      points = [{ x: a.x + nodeW / 2, y: a.y }, { x: side, y: a.y }, { x: side, y: b.y }, { x: b.x + nodeW / 2, y: b.y }];
    }
    const mid = forward[i] ? { x: (a.x + b.x) / 2, y: (points[0].y + points[1].y) / 2 } : { x: points[1].x, y: (a.y + b.y) / 2 };
    return { points, x: mid.x, y: mid.y, width: labelWidth(texts[i]) };
  });
  return { width, height, nodes, edges };
}

/** Draws the graph into host, replacing what was there; onSelect gets the index of a node clicked. */
export function drawGraph(host: HTMLElement, g: Graph, actions: Action[], marks: Marks, onSelect: (index: number) => void, keys: NodeKeys = {}): void {
  const focused = host.contains(document.activeElement) ? (document.activeElement as Element).getAttribute("data-index") : null;
  host.replaceChildren();
  const nodeH = marks.stats ? 60 : 44;
  if (g.nodes.length === 0) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = "No actions yet.";
    host.append(p);
    return;
  }
  const byId = new Map(g.nodes.map((n) => [n.id, n.index]));
  const texts = g.edges.map((e) => {
    const count = marks.stats?.edges.get(e.from + ">" + e.to);
    const base = edgeText(e, actions, byId);
    return count === undefined ? base : (base ? base + " " : "") + "×" + count;
  });
  const size = g.nodes.length > dagreLimit ? layered(g, texts, nodeH) : layoutDagre(g, texts, nodeH);
  const svg = el("svg", { viewBox: `0 0 ${size.width ?? 100} ${size.height ?? 100}`, width: size.width ?? 100, height: size.height ?? 100, role: "group", "aria-label": "flow graph" });
  const defs = el("defs", {}, svg);
  for (const kind of ["plain", "taken"]) {
    const m = el("marker", { id: "arrow-" + kind, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow-" + kind }, m);
  }
  const edgeLayer = el("g", { class: "edges" }, svg);
  g.edges.forEach((e, i) => {
    const info = size.edges[i];
    const pts = info.points;
    const taken = marks.taken?.has(e.from + ">" + e.to) ?? false;
    const count = marks.stats?.edges.get(e.from + ">" + e.to);
    const group = el("g", { class: `edge kind-${e.kind}${taken ? " taken" : ""}${count ? " counted" : ""}`, "data-from": e.from, "data-to": e.to }, edgeLayer);
    if (count !== undefined) group.setAttribute("data-count", String(count));
    el("path", { d: "M" + pts.map((p: { x: number; y: number }) => `${p.x},${p.y}`).join(" L"), "marker-end": `url(#arrow-${taken ? "taken" : "plain"})` }, group);
    const text = texts[i];
    if (text) {
      el("rect", { x: info.x - info.width / 2, y: info.y - 8, width: info.width, height: 16, rx: 3, class: "edge-label-bg" }, group);
      const t = el("text", { x: info.x, y: info.y + 4, "text-anchor": "middle", class: "edge-label" }, group);
      t.textContent = text;
    }
  });
  const nodeLayer = el("g", { class: "nodes" }, svg);
  for (const n of g.nodes) {
    const p = size.nodes.get(n.id)!;
    const cls = ["node", "type-" + n.type];
    if (!n.reachable) cls.push("unreachable");
    if (marks.errors?.has(n.index)) cls.push("error");
    else if (marks.warnings?.has(n.index)) cls.push("warning");
    if (marks.visited?.has(n.id)) cls.push("visited");
    if (marks.current === n.id) cls.push("current");
    if (marks.selected === n.index) cls.push("selected");
    const x = p.x - nodeW / 2;
    const y = p.y - nodeH / 2;
    const group = el("g", { class: cls.join(" "), tabindex: 0, role: "button", "data-index": n.index, "data-id": n.id, "data-type": n.type }, nodeLayer);
    const tip = el("title", {}, group);
    el("rect", { x, y, width: nodeW, height: nodeH, rx: 8 }, group);
    const t1 = el("text", { x: x + 10, y: y + 18, class: "node-type" }, group);
    t1.textContent = `${n.index}. ${n.type}` + (n.reachable ? "" : " · unreachable");
    const t2 = el("text", { x: x + 10, y: y + 35, class: "node-label" }, group);
    const rest = n.label.startsWith(n.type) ? n.label.slice(n.type.length).replace(/^:\s*/, "") : n.label;
    // The accessible name is the title (SVG's own label), which holds the whole visible text (WCAG 2.5.3).
    el("tspan", {}, t2).textContent = rest.length > 28 ? rest.slice(0, 27) : rest;
    if (rest.length > 28) el("tspan", { "aria-hidden": "true" }, t2).textContent = "…";
    let name = `${t1.textContent} ${rest}`.trim();
    const figures = marks.stats?.nodes.get(n.id);
    if (figures !== undefined) {
      const t3 = el("text", { x: x + 10, y: y + 52, class: "node-stats" }, group);
      t3.textContent = figures;
      name += " " + figures;
    }
    tip.textContent = name;
    const pick = () => onSelect(n.index);
    group.addEventListener("click", pick);
    group.addEventListener("keydown", (ev) => {
      const focus = (i: number) => (svg.querySelector(`.node[data-index="${i}"]`) as SVGGElement | null)?.focus();
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        pick();
      } else if ((ev.key === "Delete" || ev.key === "Backspace") && keys.onDelete) {
        ev.preventDefault();
        keys.onDelete(n.index);
      } else if (ev.altKey && (ev.key === "ArrowUp" || ev.key === "ArrowDown") && keys.onMove) {
        ev.preventDefault();
        keys.onMove(n.index, ev.key === "ArrowUp" ? -1 : 1);
      } else if (ev.key === "ArrowDown" || ev.key === "ArrowRight") {
        ev.preventDefault();
        focus(n.index + 1);
      } else if (ev.key === "ArrowUp" || ev.key === "ArrowLeft") {
        ev.preventDefault();
        focus(n.index - 1);
      }
    });
  }
  host.append(svg);
  if (focused !== null) (svg.querySelector(`.node[data-index="${focused}"]`) as SVGGElement | null)?.focus();
}

/** The moves an execution made: consecutive executed actions, as "from>to". */
export function takenEdges(ids: string[]): Set<string> {
  const out = new Set<string>();
  for (let i = 1; i < ids.length; i++) out.add(ids[i - 1] + ">" + ids[i]);
  return out;
}
