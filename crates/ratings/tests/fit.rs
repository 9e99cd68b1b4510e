//! Hand-checked cases and the published Stigler citation example.

use arena_ratings::simulate::synthetic_case;
use arena_ratings::{
    BayesOptions, BayesianRatings, CiMethod, Comparisons, ELO_PER_NATURAL_UNIT, FitOptions,
    PairCounts, RatingError, TieModel, fit,
};

const S: f64 = ELO_PER_NATURAL_UNIT;

fn opts(ci: CiMethod) -> FitOptions {
    FitOptions {
        ci,
        ..FitOptions::default()
    }
}

#[test]
fn two_models_closed_form() {
    let mut c = Comparisons::new();
    c.add("a", "b", PairCounts::new(30, 10, 4, 2)).unwrap();
    let board = fit(&c, &FitOptions::default()).unwrap();
    // ties as half wins: 33 vs 13 points, θa − θb = ln(33/13)
    let diff = board.rating("a").unwrap() - board.rating("b").unwrap();
    assert!((diff - S * (33.0f64 / 13.0).ln()).abs() < 1e-9, "{diff}");
    let mean = (board.rating("a").unwrap() + board.rating("b").unwrap()) / 2.0;
    assert!((mean - 1000.0).abs() < 1e-9);
    assert!(board.diagnostics.gradient_norm <= 1e-10);
    assert!(board.diagnostics.converged);
}

#[test]
fn two_models_sandwich_is_binomial_variance() {
    let mut c = Comparisons::new();
    c.add("a", "b", PairCounts::new(30, 10, 0, 0)).unwrap();
    let board = fit(&c, &opts(CiMethod::Sandwich)).unwrap();
    let row = board.row("a").unwrap();
    let (n, p): (f64, f64) = (40.0, 0.75);
    // rating_a − 1000 = S·(θa − θb)/2, Var(θa − θb) = 1/(n p (1 − p))
    let half = 1.959_963_984_540_054 * S / 2.0 * (1.0 / (n * p * (1.0 - p))).sqrt();
    let got = (row.ci_upper.unwrap() - row.ci_lower.unwrap()) / 2.0;
    assert!((got - half).abs() < 1e-8, "{got} vs {half}");
}

#[test]
fn two_models_davidson_closed_form() {
    let mut c = Comparisons::new();
    c.add("a", "b", PairCounts::new(30, 10, 6, 3)).unwrap();
    let board = fit(
        &c,
        &FitOptions {
            ties: TieModel::Davidson,
            ci: CiMethod::Sandwich,
            ..FitOptions::default()
        },
    )
    .unwrap();
    let diff = board.rating("a").unwrap() - board.rating("b").unwrap();
    assert!((diff - S * 3.0f64.ln()).abs() < 1e-8);
    let nu = board.diagnostics.tie_parameter.unwrap();
    assert!((nu - 9.0 / 300.0f64.sqrt()).abs() < 1e-10, "{nu}");
    let (lo, hi) = board.diagnostics.tie_parameter_ci.unwrap();
    assert!(lo < nu && nu < hi);
}

#[test]
fn davidson_without_ties_is_bradley_terry() {
    let mut c = Comparisons::new();
    c.add("a", "b", PairCounts::new(3, 1, 0, 0)).unwrap();
    c.add("b", "c", PairCounts::new(5, 2, 0, 0)).unwrap();
    c.add("c", "a", PairCounts::new(1, 4, 0, 0)).unwrap();
    let half = fit(&c, &FitOptions::default()).unwrap();
    let dav = fit(
        &c,
        &FitOptions {
            ties: TieModel::Davidson,
            ..FitOptions::default()
        },
    )
    .unwrap();
    assert_eq!(dav.diagnostics.tie_parameter, Some(0.0));
    for m in ["a", "b", "c"] {
        assert!((half.rating(m).unwrap() - dav.rating(m).unwrap()).abs() < 1e-9);
    }
}

/// Stigler (1994) journal citations, as in R's BradleyTerry2 `citations`
/// (Agresti 2002, p. 448): the cited journal wins, the citing one loses.
fn citations() -> Comparisons {
    let mut c = Comparisons::new();
    let mut add = |a: &str, b: &str, wa: u64, wb: u64| {
        c.add(a, b, PairCounts::new(wa, wb, 0, 0)).unwrap();
    };
    add("Biometrika", "Comm Statist", 730, 33);
    add("Biometrika", "JASA", 498, 320);
    add("Biometrika", "JRSS-B", 221, 284);
    add("Comm Statist", "JASA", 68, 813);
    add("Comm Statist", "JRSS-B", 17, 276);
    add("JASA", "JRSS-B", 142, 325);
    c
}

#[test]
fn stigler_citations_match_bradleyterry2() {
    // BTm(cbind(win1, win2), journal1, journal2, data = citations.sf):
    // journalComm Statist −2.9491, journalJASA −0.4796, journalJRSS-B 0.2690
    // (Biometrika is the reference category, coefficient 0).
    let board = fit(
        &citations(),
        &FitOptions {
            anchor: Some(("Biometrika".into(), 0.0)),
            ..FitOptions::default()
        },
    )
    .unwrap();
    let coef = |m: &str| board.rating(m).unwrap() / S;
    assert!((coef("Biometrika")).abs() < 1e-12);
    assert!(
        (coef("Comm Statist") - (-2.9491)).abs() < 5e-5,
        "{}",
        coef("Comm Statist")
    );
    assert!((coef("JASA") - (-0.4796)).abs() < 5e-5, "{}", coef("JASA"));
    assert!((coef("JRSS-B") - 0.2690).abs() < 5e-5, "{}", coef("JRSS-B"));
    let order: Vec<&str> = board.rows.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(order, ["JRSS-B", "Biometrika", "JASA", "Comm Statist"]);
}

#[test]
fn disconnected_graph_is_reported_and_ridge_fits_it() {
    let mut c = Comparisons::new();
    c.add("a", "b", PairCounts::new(3, 2, 0, 0)).unwrap();
    c.add("c", "d", PairCounts::new(1, 4, 1, 0)).unwrap();
    match fit(&c, &FitOptions::default()) {
        Err(RatingError::Disconnected { components }) => {
            assert_eq!(components.len(), 2);
            assert_eq!(components[0], ["a", "b"]);
        }
        other => panic!("{other:?}"),
    }
    let board = fit(
        &c,
        &FitOptions {
            ridge: 0.01,
            ci: CiMethod::Sandwich,
            ..FitOptions::default()
        },
    )
    .unwrap();
    assert_eq!(board.diagnostics.components.len(), 2);
    assert!(
        board.diagnostics.warnings[0].contains("2 connected components"),
        "{:?}",
        board.diagnostics.warnings
    );
    assert!(board.rows.iter().all(|r| r.rating.unwrap().is_finite()));
}

#[test]
fn a_model_that_never_lost_is_reported() {
    let mut c = Comparisons::new();
    c.add("champ", "b", PairCounts::new(5, 0, 0, 0)).unwrap();
    c.add("b", "c", PairCounts::new(3, 2, 0, 0)).unwrap();
    c.add("c", "loser", PairCounts::new(2, 0, 0, 0)).unwrap();
    match fit(&c, &FitOptions::default()) {
        Err(RatingError::NoFiniteMle {
            never_lost,
            never_won,
        }) => {
            assert_eq!(never_lost, ["champ"]);
            assert_eq!(never_won, ["loser"]);
        }
        other => panic!("{other:?}"),
    }
    // a tie is half a win: the MLE is then finite
    c.add("champ", "b", PairCounts::new(0, 0, 1, 0)).unwrap();
    c.add("loser", "c", PairCounts::new(0, 0, 0, 1)).unwrap();
    assert!(fit(&c, &FitOptions::default()).is_ok());
    let mut separated = c.clone();
    separated
        .add("loser", "b", PairCounts::new(0, 3, 0, 0))
        .unwrap();
    separated
        .add("z", "loser", PairCounts::new(0, 4, 0, 0))
        .unwrap();
    assert!(matches!(
        fit(&separated, &FitOptions::default()),
        Err(RatingError::NoFiniteMle { .. })
    ));
    let ridged = fit(
        &separated,
        &FitOptions {
            ridge: 0.01,
            ..FitOptions::default()
        },
    )
    .unwrap();
    assert!(ridged.rows.iter().all(|r| r.rating.unwrap().is_finite()));
    assert!(
        ridged.diagnostics.warnings[0].contains("never won: [z]"),
        "{:?}",
        ridged.diagnostics.warnings
    );
    let ridge = fit(
        &c,
        &FitOptions {
            ridge: 0.1,
            ..FitOptions::default()
        },
    )
    .unwrap();
    assert_eq!(ridge.rows[0].model, "champ");
}

#[test]
fn unvoted_models_are_listed_without_rating_and_anchor_must_be_rated() {
    let mut c = citations();
    c.register("Annals");
    let board = fit(&c, &opts(CiMethod::Sandwich)).unwrap();
    let last = board.rows.last().unwrap();
    assert_eq!(last.model, "Annals");
    assert_eq!((last.rating, last.rank, last.votes), (None, None, 0));
    assert_eq!(board.diagnostics.unrated_models, ["Annals"]);
    let mean: f64 = board.rows.iter().filter_map(|r| r.rating).sum::<f64>() / 4.0;
    assert!((mean - 1000.0).abs() < 1e-9);
    let err = fit(
        &c,
        &FitOptions {
            anchor: Some(("Annals".into(), 1114.0)),
            ..FitOptions::default()
        },
    );
    assert!(matches!(err, Err(RatingError::UnknownAnchor { .. })));
}

#[test]
fn ranks_follow_interval_overlap() {
    let board = fit(&citations(), &opts(CiMethod::Sandwich)).unwrap();
    let ranks: Vec<usize> = board.rows.iter().map(|r| r.rank.unwrap()).collect();
    // all four journals are clearly separated on this much data
    assert_eq!(ranks, [1, 2, 3, 4]);
}

#[test]
fn bootstrap_is_deterministic_whatever_the_thread_count() {
    let (c, _) = synthetic_case(12, 40, 6_000, 0.3, 5);
    let options = opts(CiMethod::Bootstrap {
        rounds: 64,
        seed: 42,
    });
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| fit(&c, &options).unwrap())
    };
    let one = run(1);
    let three = run(3);
    assert_eq!(one, three);
    let other_seed = fit(
        &c,
        &opts(CiMethod::Bootstrap {
            rounds: 64,
            seed: 43,
        }),
    )
    .unwrap();
    assert_ne!(one.rows, other_seed.rows);
}

#[test]
fn bootstrap_and_sandwich_agree_roughly() {
    let (c, _) = synthetic_case(10, 45, 20_000, 0.3, 9);
    let sw = fit(&c, &opts(CiMethod::Sandwich)).unwrap();
    let bs = fit(
        &c,
        &opts(CiMethod::Bootstrap {
            rounds: 400,
            seed: 1,
        }),
    )
    .unwrap();
    for row in &sw.rows {
        let b = bs.row(&row.model).unwrap();
        let w_s = row.ci_upper.unwrap() - row.ci_lower.unwrap();
        let w_b = b.ci_upper.unwrap() - b.ci_lower.unwrap();
        assert!((w_s / w_b - 1.0).abs() < 0.2, "{} {w_s} {w_b}", row.model);
    }
}

/// Splits every pair's counts into `parts` batches (remainders to the first).
fn split(c: &Comparisons, parts: u64) -> Vec<Comparisons> {
    let mut batches = vec![Comparisons::new(); parts as usize];
    for p in c.pairs() {
        let k = p.counts;
        for (b, batch) in batches.iter_mut().enumerate() {
            let share = |x: u64| x / parts + u64::from((b as u64) < x % parts);
            let counts = PairCounts::new(
                share(k.wins_a),
                share(k.wins_b),
                share(k.ties),
                share(k.both_bad),
            );
            if counts.total() > 0 {
                batch.add(&p.model_a, &p.model_b, counts).unwrap();
            }
        }
    }
    batches
}

#[test]
fn bayesian_streaming_lands_on_the_full_fit() {
    let (c, _) = synthetic_case(15, 60, 30_000, 0.3, 11);
    let full = fit(&c, &FitOptions::default()).unwrap();
    let mut bayes = BayesianRatings::new(BayesOptions::default()).unwrap();
    for batch in split(&c, 10) {
        bayes.update(&batch).unwrap();
        // the posterior survives a round trip through storage
        let stored = serde_json::to_string(bayes.posterior()).unwrap();
        bayes = BayesianRatings::from_posterior(
            serde_json::from_str(&stored).unwrap(),
            BayesOptions::default(),
        )
        .unwrap();
    }
    assert_eq!(bayes.posterior().batches, 10);
    let board = bayes.leaderboard(None).unwrap();
    let mut worst: f64 = 0.0;
    for row in &full.rows {
        let b = board.row(&row.model).unwrap();
        worst = worst.max((row.rating.unwrap() - b.rating.unwrap()).abs());
        assert_eq!(row.votes, b.votes);
        assert!(b.ci_lower.unwrap() < b.rating.unwrap());
    }
    assert!(worst < 0.2, "largest difference {worst} Elo");
}

#[test]
fn process_noise_widens_the_prior() {
    let (c, _) = synthetic_case(6, 15, 3_000, 0.2, 2);
    let mut still = BayesianRatings::new(BayesOptions::default()).unwrap();
    let mut drifting = BayesianRatings::new(BayesOptions {
        process_noise_sd: 10.0,
        ..BayesOptions::default()
    })
    .unwrap();
    still.update(&c).unwrap();
    drifting.update(&c).unwrap();
    let a = still.prior().unwrap();
    let b = drifting.prior().unwrap();
    assert!(b.precision[0] < a.precision[0]);
}
