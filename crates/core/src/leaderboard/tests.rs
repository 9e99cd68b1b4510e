//! Tests of the leaderboard's option parsing and fitting.

use super::compute::compute_blocking;
use super::*;

fn filter(pairs: &[(&str, &str)]) -> LeaderboardFilter {
    let mut f = LeaderboardFilter::default();
    for (k, v) in pairs {
        let v = Some((*v).to_owned());
        match *k {
            "language" => f.language = v,
            "from" => f.from = v,
            "to" => f.to = v,
            "ci" => f.ci = v,
            "ties" => f.ties = v,
            "rounds" => f.rounds = v,
            "seed" => f.seed = v,
            _ => unreachable!(),
        }
    }
    f
}

#[test]
fn defaults_are_half_ties_and_sandwich_intervals() {
    let spec = Spec::parse(&LeaderboardFilter::default()).unwrap();
    assert_eq!(spec.ties, TieModel::Half);
    assert_eq!(spec.bootstrap, None);
    assert_eq!(spec.language, None);
    // Empty form fields mean "not given".
    let spec = Spec::parse(&filter(&[("language", " "), ("from", ""), ("ci", "")])).unwrap();
    assert_eq!(spec, Spec::parse(&LeaderboardFilter::default()).unwrap());
}

#[test]
fn bootstrap_takes_rounds_and_seed() {
    let spec = Spec::parse(&filter(&[("ci", "bootstrap")])).unwrap();
    assert_eq!(
        spec.bootstrap,
        Some((DEFAULT_BOOTSTRAP_ROUNDS, DEFAULT_SEED))
    );
    let spec = Spec::parse(&filter(&[
        ("ci", "bootstrap"),
        ("rounds", "200"),
        ("seed", "7"),
    ]))
    .unwrap();
    assert_eq!(spec.bootstrap, Some((200, 7)));
    assert!(spec.method().contains("200 rounds, seed 7"));
    assert_eq!(spec.params(&[])["seed"], 7);
}

#[test]
fn bad_values_are_named_in_the_error() {
    for (pairs, code) in [
        (vec![("from", "yesterday")], "invalid_date"),
        (
            vec![("from", "2026-11-24"), ("to", "2026-11-01")],
            "invalid_date",
        ),
        (vec![("ci", "jackknife")], "invalid_ci"),
        (vec![("rounds", "100")], "invalid_ci"),
        (vec![("ci", "bootstrap"), ("rounds", "0")], "invalid_rounds"),
        (
            vec![("ci", "bootstrap"), ("rounds", "100000")],
            "invalid_rounds",
        ),
        (vec![("ci", "bootstrap"), ("seed", "-1")], "invalid_seed"),
        (vec![("ties", "rao-kupper")], "invalid_ties"),
        (
            vec![("language", "eu'; drop table vote")],
            "invalid_language",
        ),
    ] {
        match Spec::parse(&filter(&pairs)) {
            Err(ArenaError::Invalid { code: c, .. }) => assert_eq!(c, code, "{pairs:?}"),
            other => panic!("{pairs:?}: {other:?}"),
        }
    }
}

#[test]
fn the_normalised_filter_parses_to_the_same_spec() {
    let spec = Spec::parse(&filter(&[
        ("language", "eu"),
        ("from", "2026-11-01"),
        ("ci", "bootstrap"),
        ("ties", "davidson"),
        ("seed", "3"),
    ]))
    .unwrap();
    assert_eq!(Spec::parse(&spec.filter()).unwrap(), spec);
}

pub(crate) fn listed(keys: &[&str]) -> Vec<Listed> {
    keys.iter()
        .map(|k| Listed {
            key: (*k).into(),
            display_name: k.to_uppercase(),
            organization: "Org".into(),
            license: "MIT".into(),
        })
        .collect()
}

#[test]
fn a_fit_lists_every_model_and_fills_the_heatmaps() {
    let counts: KeyedCounts = vec![
        ("a".into(), "b".into(), PairCounts::new(6, 3, 1, 0)),
        ("b".into(), "c".into(), PairCounts::new(5, 4, 0, 1)),
        ("c".into(), "a".into(), PairCounts::new(2, 6, 1, 1)),
    ];
    let spec = Spec::parse(&LeaderboardFilter::default()).unwrap();
    let c = compute_blocking(&listed(&["a", "b", "c", "d"]), &counts, &spec).unwrap();
    let order: Vec<&str> = c.entries.iter().map(|e| e.model.as_str()).collect();
    assert_eq!(order, ["a", "b", "c", "d"]);
    assert!(c.entries[3].rating.is_none(), "d has no votes");
    assert_eq!(c.entries[0].votes, 20);
    // a vs b: 6 wins + 1 tie out of 10.
    assert_eq!(c.battles[0][1], 10);
    assert_eq!(c.win_rate[0][1], Some(0.65));
    assert_eq!(c.win_rate[1][0], Some(0.35));
    assert_eq!(c.win_rate[0][3], None);
    assert_eq!(c.ridge, 0.0);
    assert!(
        c.warnings.iter().any(|w| w.contains('d')),
        "{:?}",
        c.warnings
    );
    // Same input, same bits.
    let again = compute_blocking(&listed(&["a", "b", "c", "d"]), &counts, &spec).unwrap();
    assert_eq!(again.entries, c.entries);
}

#[test]
fn a_model_that_never_lost_gets_the_ridge_and_a_warning() {
    let counts: KeyedCounts = vec![("a".into(), "b".into(), PairCounts::new(3, 0, 0, 0))];
    let spec = Spec::parse(&LeaderboardFilter::default()).unwrap();
    let c = compute_blocking(&listed(&["a", "b"]), &counts, &spec).unwrap();
    assert_eq!(c.ridge, FALLBACK_RIDGE);
    assert!(c.warnings[0].contains("ridge"), "{:?}", c.warnings);
    assert!(c.entries[0].rating.unwrap() > c.entries[1].rating.unwrap());
}

#[test]
fn davidson_reports_its_tie_parameter() {
    let counts: KeyedCounts = vec![
        ("a".into(), "b".into(), PairCounts::new(6, 3, 4, 1)),
        ("b".into(), "c".into(), PairCounts::new(5, 4, 3, 0)),
        ("c".into(), "a".into(), PairCounts::new(2, 6, 2, 2)),
    ];
    let spec = Spec::parse(&filter(&[("ties", "davidson")])).unwrap();
    let c = compute_blocking(&listed(&["a", "b", "c"]), &counts, &spec).unwrap();
    assert!(c.tie_parameter.is_some_and(|nu| nu > 0.0));
}

/// The young arena: three votes between two models. No rank and no absurd number on the
/// page: both are provisional, with the posterior (near the field, a wide credible interval) and
/// the votes they still need; the maximum-likelihood rating stays in the run for reproduction.
#[test]
fn a_young_arena_shows_provisional_models_not_ranks() {
    let counts: KeyedCounts = vec![("a".into(), "b".into(), PairCounts::new(3, 0, 0, 0))];
    let spec = Spec::parse(&LeaderboardFilter::default()).unwrap();
    let c = compute_blocking(&listed(&["a", "b"]), &counts, &spec).unwrap();
    for e in &c.entries {
        assert!(e.provisional && e.rank.is_none(), "{e:?}");
        let p = e.posterior_rating.unwrap();
        assert!((850.0..1150.0).contains(&p), "{e:?}");
        assert!(e.credible_upper.unwrap() - e.credible_lower.unwrap() > 200.0);
        assert!(e.votes_to_rank.unwrap() > 100, "{e:?}");
    }
    assert_eq!(c.entries[0].model, "a");
    assert!(c.entries[0].rating.unwrap() > 1300.0, "the ridge fit, kept");
}

/// Well-measured models are ranked among themselves; a newcomer with a handful of votes is listed
/// after them as provisional (whatever its lucky record), and a model without votes comes last.
#[test]
fn ranked_models_come_first_and_a_newcomer_is_provisional() {
    let counts: KeyedCounts = vec![
        ("a".into(), "b".into(), PairCounts::new(1100, 400, 50, 0)),
        ("b".into(), "c".into(), PairCounts::new(1100, 400, 40, 0)),
        ("a".into(), "c".into(), PairCounts::new(1000, 500, 30, 0)),
        ("new".into(), "a".into(), PairCounts::new(4, 0, 0, 0)),
    ];
    let spec = Spec::parse(&LeaderboardFilter::default()).unwrap();
    let c = compute_blocking(&listed(&["a", "b", "c", "new", "idle"]), &counts, &spec).unwrap();
    let order: Vec<(&str, Option<usize>, bool)> = c
        .entries
        .iter()
        .map(|e| (e.model.as_str(), e.rank, e.provisional))
        .collect();
    assert_eq!(
        order,
        [
            ("a", Some(1), false),
            ("b", Some(2), false),
            ("c", Some(3), false),
            ("new", None, true),
            ("idle", None, true),
        ]
    );
    // The newcomer's ML rating is far above everyone (it never lost); its posterior is not.
    let new = &c.entries[3];
    assert!(new.rating.unwrap() > c.entries[0].rating.unwrap());
    assert!(new.posterior_rating.unwrap() < new.rating.unwrap() - 200.0);
    assert!(new.votes_to_rank.is_some());
}
