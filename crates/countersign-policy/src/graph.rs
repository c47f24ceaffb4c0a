//! Walks over the reference graphs of a policy (groups including groups, rules referring
//! to rules), without recursion and in time linear in the graph's size.
//!
//! A policy file is untrusted input: a chain of twenty thousand groups must not overflow
//! the stack, and rules that share sub-rules at every level (a "diamond") must not take
//! exponential time. Tarjan's algorithm finds every cycle once, as a strongly connected
//! component, and yields the components in an order where each comes after everything it
//! refers to, so measures such as nesting depth are computed in one pass.

/// Nodes `0..edges.len()`; `edges[v]` lists the nodes `v` refers to, in file order.
pub(crate) type Edges = [Vec<usize>];

/// The strongly connected components of a graph.
#[derive(Debug)]
pub(crate) struct Components {
    /// Every node in exactly one component. A component comes after every component it
    /// has an edge into (reverse topological order), so walking them in order visits what
    /// a node refers to before the node.
    pub components: Vec<Vec<usize>>,
    /// Nodes entered plus edges followed: the work done, for tests that prove it linear.
    pub steps: usize,
}

/// Tarjan's strongly connected components, with an explicit stack.
pub(crate) fn components(edges: &Edges) -> Components {
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    // The DFS "call stack": a node and the position of the next edge to follow from it.
    let mut calls: Vec<(usize, usize)> = Vec::new();
    let mut next = 0usize;
    let mut out = Components { components: Vec::new(), steps: 0 };
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        calls.push((root, 0));
        out.steps += 1;
        while let Some(top) = calls.last_mut() {
            let v = top.0;
            if let Some(&w) = edges[v].get(top.1) {
                top.1 += 1;
                out.steps += 1;
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                    out.steps += 1;
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                component.sort_unstable();
                out.components.push(component);
            }
        }
    }
    out
}

/// Whether a component is a cycle: more than one node, or one node that refers to itself.
pub(crate) fn is_cycle(edges: &Edges, component: &[usize]) -> bool {
    component.len() > 1 || component.first().is_some_and(|&v| edges[v].contains(&v))
}

/// One cycle through `start` inside its component, as the nodes in order, each with the
/// position (in `edges[node]`) of the edge it leaves by; the last edge leads back to
/// `start`. Linear in the component's size: a depth-first search that enters each node
/// once.
pub(crate) fn cycle_through(edges: &Edges, component: &[usize], start: usize) -> Vec<(usize, usize)> {
    let inside = |v: usize| component.binary_search(&v).is_ok();
    let mut entered = std::collections::HashSet::new();
    entered.insert(start);
    let mut path: Vec<(usize, usize)> = vec![(start, 0)];
    while let Some(top) = path.last_mut() {
        let (v, position) = *top;
        let Some(&w) = edges[v].get(position) else {
            path.pop();
            if let Some(parent) = path.last_mut() {
                parent.1 += 1;
            }
            continue;
        };
        if w == start {
            return path;
        }
        if inside(w) && entered.insert(w) {
            path.push((w, 0));
        } else {
            top.1 += 1;
        }
    }
    // Unreachable for a cycle component; a self-loop is found on its first edge.
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_come_after_what_they_refer_to() {
        // 0 -> 1 -> 2 -> 1, 2 -> 3
        let edges = vec![vec![1], vec![2], vec![1, 3], vec![]];
        let c = components(&edges);
        assert_eq!(c.components, vec![vec![3], vec![1, 2], vec![0]]);
        assert!(is_cycle(&edges, &[1, 2]));
        assert!(!is_cycle(&edges, &[3]));
        assert!(is_cycle(&[vec![0]], &[0]));
        assert_eq!(cycle_through(&edges, &[1, 2], 1), vec![(1, 0), (2, 0)]);
    }

    #[test]
    fn a_long_chain_needs_no_deep_stack() {
        let n = 200_000;
        let edges: Vec<Vec<usize>> = (0..n).map(|i| if i + 1 < n { vec![i + 1] } else { vec![0] }).collect();
        let c = components(&edges);
        assert_eq!(c.components.len(), 1);
        assert_eq!(cycle_through(&edges, &c.components[0], 0).len(), n);
    }

    #[test]
    fn work_is_linear_in_a_diamond() {
        // Layers of two nodes, each node referring to both nodes of the next layer: the
        // number of paths doubles with every layer, the work must not.
        for layers in [10usize, 20, 40, 80] {
            let n = 2 * layers;
            let edges: Vec<Vec<usize>> = (0..n)
                .map(|v| {
                    let next = (v / 2 + 1) * 2;
                    if next < n { vec![next, next + 1] } else { vec![] }
                })
                .collect();
            let edge_count: usize = edges.iter().map(Vec::len).sum();
            let c = components(&edges);
            assert_eq!(c.steps, n + edge_count, "{layers} layers");
        }
    }
}
