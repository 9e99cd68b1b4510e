use super::*;

fn all_criteria() -> [Criterion; 3] {
    [
        Criterion::WidestInterval,
        Criterion::TotalVariance,
        Criterion::ChatbotArena,
    ]
}

fn options(criterion: Criterion) -> ActiveOptions {
    ActiveOptions {
        criterion,
        ..ActiveOptions::default()
    }
}

/// Every pair of `n` models with `votes` votes.
fn round_robin(n: usize, votes: u64) -> Vec<PairVotes> {
    (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| PairVotes { a, b, votes }))
        .collect()
}

#[test]
fn pair_index_is_lexicographic() {
    let n = 5;
    let mut k = 0;
    for a in 0..n {
        for b in a + 1..n {
            assert_eq!(pair_index(n, a, b), Some(k));
            assert_eq!(pair_index(n, b, a), Some(k));
            k += 1;
        }
    }
    assert_eq!(k, pair_count(n));
    assert_eq!(pair_index(n, 2, 2), None);
    assert_eq!(pair_index(n, 1, 5), None);
    assert_eq!(pair_count(0), 0);
    assert_eq!(pair_count(1), 0);
}

#[test]
fn probabilities_sum_to_one_and_respect_the_floor() {
    let theta = [0.8, 0.3, 0.0, -0.2, -1.1, 0.05];
    let mut votes = round_robin(6, 40);
    votes.push(PairVotes {
        a: 3,
        b: 0,
        votes: 500,
    });
    for criterion in all_criteria() {
        for floor in [0.0, 0.1, 0.5, 1.0] {
            let opts = ActiveOptions {
                floor,
                ..options(criterion)
            };
            let pairs = pair_probabilities(&theta, &votes, &opts).unwrap();
            assert_eq!(pairs.len(), 15);
            let total: f64 = pairs.iter().map(|p| p.probability).sum();
            assert!(
                (total - 1.0).abs() < 1e-12,
                "{criterion:?} {floor}: {total}"
            );
            for p in &pairs {
                assert!(p.score >= 0.0 && p.score.is_finite());
                assert!(p.probability >= floor / 15.0 - 1e-15);
                assert!(p.a < p.b);
            }
            if floor == 1.0 {
                assert!(
                    pairs
                        .iter()
                        .all(|p| (p.probability - 1.0 / 15.0).abs() < 1e-15)
                );
            }
        }
    }
}

#[test]
fn zero_scores_give_uniform_probabilities() {
    let p = sampling_probabilities(&[0.0, 0.0, 0.0, 0.0], 0.2).unwrap();
    assert_eq!(p, vec![0.25; 4]);
    let p = sampling_probabilities(&[0.0, f64::NAN, 3.0, -1.0], 0.0).unwrap();
    assert_eq!(p, vec![0.0, 0.0, 1.0, 0.0]);
    assert!(sampling_probabilities(&[1.0], 1.5).is_err());
    assert!(sampling_probabilities(&[1.0], -0.1).is_err());
    assert!(sampling_probabilities(&[], 0.1).unwrap().is_empty());
}

#[test]
fn a_pair_never_voted_on_outranks_a_heavily_voted_one() {
    // four models of similar strength: (0,1) has 1,000 votes, (2,3) none
    let theta = [0.1, 0.0, 0.05, -0.05];
    let votes = [
        PairVotes {
            a: 0,
            b: 1,
            votes: 1000,
        },
        PairVotes {
            a: 0,
            b: 2,
            votes: 100,
        },
        PairVotes {
            a: 1,
            b: 3,
            votes: 100,
        },
    ];
    for criterion in all_criteria() {
        let s = pair_scores(&theta, &votes, &options(criterion)).unwrap();
        let heavy = s[pair_index(4, 0, 1).unwrap()];
        let fresh = s[pair_index(4, 2, 3).unwrap()];
        assert!(fresh > 2.0 * heavy, "{criterion:?}: {fresh} vs {heavy}");
    }
}

#[test]
fn a_model_without_votes_comes_first() {
    let theta = [0.5, 0.0, -0.5, 0.0];
    // model 3 has never played
    let votes = round_robin(3, 300);
    for criterion in [Criterion::WidestInterval, Criterion::TotalVariance] {
        let s = pair_scores(&theta, &votes, &options(criterion)).unwrap();
        let newcomer = (0..3)
            .map(|a| s[pair_index(4, a, 3).unwrap()])
            .fold(f64::INFINITY, f64::min);
        let rated = (0..3)
            .flat_map(|a| (a + 1..3).map(move |b| (a, b)))
            .map(|(a, b)| s[pair_index(4, a, b).unwrap()])
            .fold(0.0, f64::max);
        assert!(
            newcomer > 10.0 * rated,
            "{criterion:?}: {newcomer} vs {rated}"
        );
    }
}

#[test]
fn a_lopsided_pair_scores_below_a_close_one() {
    // (0,1) is close, (0,2) lopsided, both with 200 votes; the partners 1
    // and 2 are both well known (many votes against the others), so only
    // the gap tells the two pairs apart
    let theta = [0.0, 0.1, 3.0, 3.1];
    let mut votes = round_robin(4, 5000);
    votes[0].votes = 200; // (0,1)
    votes[1].votes = 200; // (0,2)
    votes[2].votes = 200; // (0,3)
    for criterion in all_criteria() {
        let s = pair_scores(&theta, &votes, &options(criterion)).unwrap();
        let close = s[pair_index(4, 0, 1).unwrap()];
        let far = s[pair_index(4, 0, 2).unwrap()];
        assert!(close > far, "{criterion:?}: {close} vs {far}");
    }
}

#[test]
fn total_variance_score_is_the_exact_trace_reduction() {
    let theta = [0.4, -0.2, 0.0, 0.9];
    let mut votes = round_robin(4, 30);
    votes[1].votes = 5;
    let opts = options(Criterion::TotalVariance);
    let s = pair_scores(&theta, &votes, &opts).unwrap();
    let trace = |votes: &[PairVotes]| {
        let mut counts = vec![0.0; 6];
        for v in votes {
            counts[pair_index(4, v.a, v.b).unwrap()] += v.votes as f64;
        }
        let c = covariance(&theta, &counts, 1.0);
        // trace of the centred covariance: Σ C_ii − ΣC / n
        let diagonal: f64 = (0..4).map(|i| c.get(i, i)).sum();
        diagonal - c.data.iter().sum::<f64>() / 4.0
    };
    let before = trace(&votes);
    for (a, b) in [(0, 1), (1, 3), (2, 3)] {
        let mut more = votes.clone();
        more.push(PairVotes { a, b, votes: 1 });
        let drop = before - trace(&more);
        let k = pair_index(4, a, b).unwrap();
        assert!(
            (drop - s[k]).abs() < 1e-12 * before.max(1.0),
            "{drop} vs {}",
            s[k]
        );
    }
}

#[test]
fn edge_cases() {
    for criterion in all_criteria() {
        let opts = options(criterion);
        assert!(pair_scores(&[], &[], &opts).unwrap().is_empty());
        assert!(pair_scores(&[0.3], &[], &opts).unwrap().is_empty());
        assert!(pair_probabilities(&[0.3], &[], &opts).unwrap().is_empty());
        // two models, no votes: the single pair gets everything
        let one = pair_probabilities(&[0.0, 0.0], &[], &opts).unwrap();
        assert_eq!(one.len(), 1);
        assert!((one[0].probability - 1.0).abs() < 1e-15);
        assert!(one[0].score > 0.0);
    }
    let opts = ActiveOptions::default();
    let bad_pair = [PairVotes {
        a: 0,
        b: 2,
        votes: 1,
    }];
    assert!(pair_scores(&[0.0, 0.0], &bad_pair, &opts).is_err());
    let self_pair = [PairVotes {
        a: 1,
        b: 1,
        votes: 1,
    }];
    assert!(pair_scores(&[0.0, 0.0], &self_pair, &opts).is_err());
    assert!(pair_scores(&[0.0, f64::NAN], &[], &opts).is_err());
    let no_prior = ActiveOptions {
        prior_precision: 0.0,
        ..ActiveOptions::default()
    };
    assert!(pair_scores(&[0.0, 0.0], &[], &no_prior).is_err());
}

#[test]
fn widest_interval_favours_the_least_known_model() {
    // model 0 has few votes: its pairs lead, against the closest opponent
    let theta = [0.0, 0.1, 1.0, -1.0];
    let votes = [
        PairVotes {
            a: 0,
            b: 1,
            votes: 20,
        },
        PairVotes {
            a: 1,
            b: 2,
            votes: 500,
        },
        PairVotes {
            a: 1,
            b: 3,
            votes: 500,
        },
        PairVotes {
            a: 2,
            b: 3,
            votes: 500,
        },
    ];
    let s = pair_scores(&theta, &votes, &options(Criterion::WidestInterval)).unwrap();
    let best = (0..s.len()).max_by(|&i, &j| s[i].total_cmp(&s[j])).unwrap();
    let (a, b) = (0..4)
        .flat_map(|a| (a + 1..4).map(move |b| (a, b)))
        .nth(best)
        .unwrap();
    assert_eq!(a, 0, "best pair ({a}, {b})");
}
