//! Checks on the comparison graph that decide whether the maximum-likelihood
//! ratings exist: the graph must be connected (otherwise ratings in different
//! components are not comparable) and, within it, every group of models must
//! have both taken and conceded points against the rest (Zermelo/Ford: the
//! directed "scored against" graph must be strongly connected).

use crate::model::Problem;

/// Connected components (undirected, pairs with at least one vote), each
/// sorted, largest first.
pub(crate) fn components(p: &Problem) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..p.n).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for k in 0..p.i.len() {
        if p.wins_i[k] + p.wins_j[k] + p.ties[k] > 0.0 {
            let (a, b) = (find(&mut parent, p.i[k]), find(&mut parent, p.j[k]));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for m in 0..p.n {
        let r = find(&mut parent, m);
        groups.entry(r).or_default().push(m);
    }
    let mut out: Vec<Vec<usize>> = groups.into_values().collect();
    out.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    out
}

/// Models in source and sink strongly connected components of the directed
/// graph `a → b` ("a took at least half a point from b"), when it is not
/// strongly connected: `(never_lost, never_won)`. `None` when the MLE exists.
/// Assumes the undirected graph is connected.
pub(crate) fn infinite_groups(p: &Problem) -> Option<(Vec<usize>, Vec<usize>)> {
    let n = p.n;
    let mut out_edges = vec![Vec::new(); n];
    let mut in_edges = vec![Vec::new(); n];
    for k in 0..p.i.len() {
        let (a, b) = (p.i[k], p.j[k]);
        if p.wins_i[k] + p.ties[k] > 0.0 {
            out_edges[a].push(b);
            in_edges[b].push(a);
        }
        if p.wins_j[k] + p.ties[k] > 0.0 {
            out_edges[b].push(a);
            in_edges[a].push(b);
        }
    }
    let comp = kosaraju(n, &out_edges, &in_edges);
    let n_comp = comp.iter().copied().max().map_or(0, |m| m + 1);
    if n_comp <= 1 {
        return None;
    }
    let mut has_in = vec![false; n_comp];
    let mut has_out = vec![false; n_comp];
    for a in 0..n {
        for &b in &out_edges[a] {
            if comp[a] != comp[b] {
                has_out[comp[a]] = true;
                has_in[comp[b]] = true;
            }
        }
    }
    let never_lost = (0..n).filter(|&m| !has_in[comp[m]]).collect();
    let never_won = (0..n).filter(|&m| !has_out[comp[m]]).collect();
    Some((never_lost, never_won))
}

/// Whether the directed "took at least half a point from" graph is strongly
/// connected, i.e. the MLE exists (this implies the undirected graph is
/// connected). Two breadth-first searches from model 0 over compressed
/// adjacency arrays: cheap enough to run on every bootstrap resample.
pub(crate) fn strongly_connected(p: &Problem) -> bool {
    let n = p.n;
    if n <= 1 {
        return true;
    }
    // edges (from, to): `from` took points from `to`
    let mut edges = Vec::with_capacity(2 * p.i.len());
    for k in 0..p.i.len() {
        let (a, b) = (p.i[k], p.j[k]);
        if p.wins_i[k] + p.ties[k] > 0.0 {
            edges.push((a, b));
        }
        if p.wins_j[k] + p.ties[k] > 0.0 {
            edges.push((b, a));
        }
    }
    let reaches_all = |forward: bool| -> bool {
        let mut start = vec![0usize; n + 1];
        for &(a, b) in &edges {
            start[if forward { a } else { b } + 1] += 1;
        }
        for m in 0..n {
            start[m + 1] += start[m];
        }
        let mut fill = start.clone();
        let mut adj = vec![0usize; edges.len()];
        for &(a, b) in &edges {
            let (from, to) = if forward { (a, b) } else { (b, a) };
            adj[fill[from]] = to;
            fill[from] += 1;
        }
        let mut seen = vec![false; n];
        let mut stack = vec![0usize];
        seen[0] = true;
        let mut count = 1;
        while let Some(v) = stack.pop() {
            for &w in &adj[start[v]..start[v + 1]] {
                if !seen[w] {
                    seen[w] = true;
                    count += 1;
                    stack.push(w);
                }
            }
        }
        count == n
    };
    reaches_all(true) && reaches_all(false)
}

/// Strongly connected component id of every node (iterative Kosaraju).
fn kosaraju(n: usize, out_edges: &[Vec<usize>], in_edges: &[Vec<usize>]) -> Vec<usize> {
    let mut visited = vec![false; n];
    let mut order = Vec::with_capacity(n);
    for s in 0..n {
        if visited[s] {
            continue;
        }
        visited[s] = true;
        let mut stack = vec![(s, 0usize)];
        while let Some((v, idx)) = stack.last_mut() {
            if let Some(&w) = out_edges[*v].get(*idx) {
                *idx += 1;
                if !visited[w] {
                    visited[w] = true;
                    stack.push((w, 0));
                }
            } else {
                order.push(*v);
                stack.pop();
            }
        }
    }
    let mut comp = vec![usize::MAX; n];
    let mut c = 0;
    for &s in order.iter().rev() {
        if comp[s] != usize::MAX {
            continue;
        }
        comp[s] = c;
        let mut stack = vec![s];
        while let Some(v) = stack.pop() {
            for &w in &in_edges[v] {
                if comp[w] == usize::MAX {
                    comp[w] = c;
                    stack.push(w);
                }
            }
        }
        c += 1;
    }
    comp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(n: usize, pairs: &[(usize, usize, f64, f64, f64)]) -> Problem {
        Problem {
            n,
            i: pairs.iter().map(|p| p.0).collect(),
            j: pairs.iter().map(|p| p.1).collect(),
            wins_i: pairs.iter().map(|p| p.2).collect(),
            wins_j: pairs.iter().map(|p| p.3).collect(),
            ties: pairs.iter().map(|p| p.4).collect(),
        }
    }

    /// The fast check agrees with the component and source/sink analysis.
    #[test]
    fn strong_connectivity_matches_the_full_analysis() {
        let cases = [
            problem(3, &[(0, 1, 1.0, 1.0, 0.0), (1, 2, 1.0, 1.0, 0.0)]),
            problem(3, &[(0, 1, 1.0, 0.0, 0.0), (1, 2, 1.0, 1.0, 0.0)]),
            problem(
                3,
                &[
                    (0, 1, 1.0, 0.0, 0.0),
                    (1, 2, 1.0, 0.0, 0.0),
                    (0, 2, 0.0, 1.0, 0.0),
                ],
            ),
            problem(3, &[(0, 1, 0.0, 0.0, 1.0), (1, 2, 0.0, 2.0, 0.0)]),
            problem(4, &[(0, 1, 1.0, 1.0, 0.0), (2, 3, 1.0, 1.0, 0.0)]),
            problem(1, &[]),
        ];
        let expected = [true, false, true, false, false, true];
        for (p, want) in cases.iter().zip(expected) {
            let full = components(p).len() <= 1 && infinite_groups(p).is_none();
            assert_eq!(strongly_connected(p), want);
            assert_eq!(full, want);
        }
    }
}
