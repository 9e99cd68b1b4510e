//! Property tests: relabelling, input order, gauge, pair-order additivity and
//! the gradient at the solution.

use arena_ratings::{Comparisons, FitOptions, PairCounts, fit};
use proptest::prelude::*;

/// A connected random tournament on `n` models: a cycle of pairs where each
/// side takes points (so the MLE is finite) plus random extra pairs.
fn tournament() -> impl Strategy<Value = (usize, Vec<(usize, usize, [u64; 4])>)> {
    (3usize..8).prop_flat_map(|n| {
        let cycle = proptest::collection::vec((1u64..20, 1u64..20, 0u64..5, 0u64..3), n);
        let extra =
            proptest::collection::vec((0..n, 0..n, (0u64..20, 0u64..20, 0u64..5, 0u64..3)), 0..10);
        (Just(n), cycle, extra).prop_map(|(n, cycle, extra)| {
            let mut pairs: Vec<(usize, usize, [u64; 4])> = cycle
                .into_iter()
                .enumerate()
                .map(|(k, (a, b, t, bb))| (k, (k + 1) % n, [a, b, t, bb]))
                .collect();
            pairs.extend(
                extra
                    .into_iter()
                    .filter(|(a, b, _)| a != b)
                    .map(|(a, b, (w, l, t, bb))| (a, b, [w, l, t, bb])),
            );
            (n, pairs)
        })
    })
}

fn build(pairs: &[(usize, usize, [u64; 4])], name: impl Fn(usize) -> String) -> Comparisons {
    let mut c = Comparisons::new();
    for &(a, b, [w, l, t, bb]) in pairs {
        c.add(&name(a), &name(b), PairCounts::new(w, l, t, bb))
            .unwrap();
    }
    c
}

fn name(k: usize) -> String {
    format!("m{k}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn relabelling_permutes_the_ratings((n, pairs) in tournament(), shift in 1usize..7) {
        let base = fit(&build(&pairs, name), &FitOptions::default()).unwrap();
        // model k is renamed to m((k + shift) mod n)
        let relabelled = fit(&build(&pairs, |k| name((k + shift) % n)), &FitOptions::default()).unwrap();
        for k in 0..n {
            let a = base.rating(&name(k)).unwrap();
            let b = relabelled.rating(&name((k + shift) % n)).unwrap();
            prop_assert!((a - b).abs() < 1e-7, "{a} vs {b}");
        }
    }

    #[test]
    fn input_order_does_not_matter((n, pairs) in tournament()) {
        let forward = fit(&build(&pairs, name), &FitOptions::default()).unwrap();
        let mut reversed_pairs = pairs.clone();
        reversed_pairs.reverse();
        let backward = fit(&build(&reversed_pairs, name), &FitOptions::default()).unwrap();
        for k in 0..n {
            let (a, b) = (forward.rating(&name(k)).unwrap(), backward.rating(&name(k)).unwrap());
            prop_assert!((a - b).abs() < 1e-7);
        }
    }

    #[test]
    fn anchoring_shifts_all_ratings_equally((n, pairs) in tournament(), value in -2000.0f64..3000.0) {
        let c = build(&pairs, name);
        let free = fit(&c, &FitOptions::default()).unwrap();
        let anchored = fit(&c, &FitOptions {
            anchor: Some((name(0), value)),
            ..FitOptions::default()
        }).unwrap();
        prop_assert!((anchored.rating(&name(0)).unwrap() - value).abs() < 1e-9);
        let shift = value - free.rating(&name(0)).unwrap();
        for k in 0..n {
            let d = anchored.rating(&name(k)).unwrap() - free.rating(&name(k)).unwrap();
            prop_assert!((d - shift).abs() < 1e-7);
        }
    }

    #[test]
    fn both_orders_equal_the_summed_counts(
        (n, pairs) in tournament(),
        w in 0u64..30, l in 0u64..30, t in 0u64..10, bb in 0u64..5,
        w2 in 0u64..30, l2 in 0u64..30, t2 in 0u64..10, bb2 in 0u64..5,
    ) {
        let mut split = build(&pairs, name);
        split.add(&name(0), &name(1), PairCounts::new(w, l, t, bb)).unwrap();
        split.add(&name(1), &name(0), PairCounts::new(w2, l2, t2, bb2)).unwrap();
        let mut summed = build(&pairs, name);
        summed.add(&name(0), &name(1), PairCounts::new(w + l2, l + w2, t + t2, bb + bb2)).unwrap();
        prop_assert_eq!(split.counts(&name(0), &name(1)), summed.counts(&name(0), &name(1)));
        let (a, b) = (fit(&split, &FitOptions::default()).unwrap(), fit(&summed, &FitOptions::default()).unwrap());
        for k in 0..n {
            prop_assert!((a.rating(&name(k)).unwrap() - b.rating(&name(k)).unwrap()).abs() < 1e-9);
        }
    }

    #[test]
    fn gradient_at_the_solution_is_tiny((_n, pairs) in tournament()) {
        let board = fit(&build(&pairs, name), &FitOptions::default()).unwrap();
        prop_assert!(board.diagnostics.converged);
        prop_assert!(board.diagnostics.gradient_norm <= 1e-10, "{}", board.diagnostics.gradient_norm);
    }
}
