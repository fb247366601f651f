// The page imports dagre from /static/vendor/dagre.js, which the admin plane serves from the
// installed package (src/admin/static-files.ts). The package's own declarations do not resolve
// under NodeNext (their relative imports have no extensions, so every type becomes any): this
// declares the part of dagre the page uses, for the page's type check.

export interface EdgeRef { v: string, w: string, name?: string }

export interface GraphLabel {
  rankdir?: 'LR' | 'TB' | 'RL' | 'BT'
  ranksep?: number
  nodesep?: number
  edgesep?: number
  marginx?: number
  marginy?: number
  // Set by layout().
  width?: number
  height?: number
}

export interface NodeLabel {
  width: number
  height: number
  // Set by layout(): the centre.
  x?: number
  y?: number
  // During layout (customOrder): the rank and the place in it; edgeObj on the nodes dagre adds on
  // an edge that spans ranks.
  rank?: number
  order?: number
  edgeObj?: EdgeRef
}

export interface EdgeLabel {
  width?: number
  height?: number
  minlen?: number
  labelpos?: 'l' | 'c' | 'r'
  labeloffset?: number
  // Set by layout(): the label's centre and the edge's points.
  x?: number
  y?: number
  points?: Array<{ x: number, y: number }>
}

export declare class Graph {
  constructor (opts?: { directed?: boolean, multigraph?: boolean, compound?: boolean })
  setGraph (label: GraphLabel): this
  graph (): GraphLabel
  setDefaultEdgeLabel (label: () => EdgeLabel): this
  setNode (v: string, label: NodeLabel): this
  node (v: string): NodeLabel
  nodes (): string[]
  setEdge (v: string, w: string, label?: EdgeLabel, name?: string): this
  edge (e: EdgeRef): EdgeLabel
  edges (): EdgeRef[]
}

export interface LayoutOptions {
  // Replaces dagre's ordering of each rank; `order` is dagre's own, to run first if wanted.
  customOrder?: (graph: Graph, order: (graph: Graph) => void) => void
}

declare const dagre: {
  graphlib: { Graph: typeof Graph }
  layout: (g: Graph, opts?: LayoutOptions) => Graph
  version: string
}
export default dagre
