//! The rigging study's goals, asserted on small cases.

use super::*;

fn small(strategy: Strategy, riggers: usize) -> RiggingConfig {
    RiggingConfig {
        models: 12,
        honest_voters: 800,
        warmup_votes: 10_000,
        riggers,
        rig_votes: 120,
        strategy,
        replicates: 4,
        refit_every: 1000,
        ..RiggingConfig::default()
    }
}

#[test]
fn targeted_riggers_are_caught_and_their_shift_removed() {
    for strategy in [Strategy::Target, Strategy::AntiTarget] {
        let report = simulate_rigging(&small(strategy, 15)).unwrap();
        assert!(
            report.riggers_flagged >= 0.8,
            "{strategy:?}: {}",
            report.riggers_flagged
        );
        assert!(report.honest_flagged <= 0.01, "{}", report.honest_flagged);
        assert!(
            report.shift_undefended.abs() > 20.0,
            "the attack must move the target: {}",
            report.shift_undefended
        );
        assert!(
            report.shift_cut >= 0.8,
            "{strategy:?}: {}",
            report.shift_cut
        );
        match strategy {
            Strategy::Target => assert!(report.shift_undefended > 0.0),
            _ => assert!(report.shift_undefended < 0.0),
        }
    }
}

#[test]
fn honest_voters_are_flagged_at_most_at_the_bound() {
    // No riggers, many seeds: the share of honest voters ever flagged stays near α or
    // below (Ville's inequality; the ratings are estimates, so a generous margin).
    let config = RiggingConfig {
        alpha: 0.01,
        replicates: 8,
        seed: 7,
        ..small(Strategy::Target, 0)
    };
    let report = simulate_rigging(&config).unwrap();
    assert!(
        report.honest_flagged <= 3.0 * config.alpha,
        "{}",
        report.honest_flagged
    );
    assert!(report.heavy_honest_flagged <= 0.1);
}

#[test]
fn honest_voters_from_other_tie_models_are_not_flagged_at_a_high_tie_share() {
    // Small models: "both are bad" is common. The honest voters tie at 0.8 under each of
    // three tie models; the detector fits its own (half-win) model to what it counts.
    for honest_ties in [HonestTies::Half, HonestTies::Davidson, HonestTies::Constant] {
        let config = RiggingConfig {
            tie_rate: 0.8,
            strength_sd: 200.0,
            honest_ties,
            ..small(Strategy::Target, 15)
        };
        let report = simulate_rigging(&config).unwrap();
        assert!(
            report.honest_flagged <= 0.01,
            "{honest_ties:?}: {}",
            report.honest_flagged
        );
        assert!(
            report.riggers_flagged >= 0.8,
            "{honest_ties:?}: {}",
            report.riggers_flagged
        );
        assert!(
            report.shift_cut >= 0.8,
            "{honest_ties:?}: {}",
            report.shift_cut
        );
    }
}

#[test]
fn honest_voters_of_a_young_arena_are_not_flagged() {
    // A new arena: the ratings the votes are scored against come from 40 votes and are
    // refitted only every 3,000 (the live refresh and the predictor's cache lag behind a
    // busy first hour). Ratings fitted from so few votes are far apart by chance; the detector
    // scores against their uncertainty, and not against models of fewer than
    // `MIN_VOTES_TO_SCORE` votes.
    let config = RiggingConfig {
        warmup_votes: 40,
        refit_every: 3000,
        replicates: 4,
        ..small(Strategy::Target, 15)
    };
    let report = simulate_rigging(&config).unwrap();
    assert!(report.honest_flagged <= 0.01, "{}", report.honest_flagged);
    // The price: votes cast while no model has 20 votes are not scored, and the riggers who
    // vote in that window are caught only by what they do after it (a third of them here;
    // the cap bounds them all). At the live cadence the window is a few seconds, and they
    // are all caught.
    assert!(report.riggers_flagged >= 0.25, "{}", report.riggers_flagged);
    let live = RiggingConfig {
        refit_every: 300,
        ..config
    };
    let report = simulate_rigging(&live).unwrap();
    assert!(report.honest_flagged <= 0.01, "{}", report.honest_flagged);
    assert!(report.riggers_flagged >= 0.8, "{}", report.riggers_flagged);
}

#[test]
fn honest_voters_of_a_nine_vote_arena_are_not_flagged() {
    // What `make chaos` met: five models (0 to 240 Elo apart), 20 % ties whatever the gap,
    // and the first run fitted on 9 votes, which the processes' caches kept for 30 s. Nine
    // votes over five models leave some never beaten: the ridge fit put them 1,200 Elo apart
    // with intervals of ±250, and scoring honest upsets against that quarantined every
    // volunteer of one run. Measured (2026-12-07, 4,000 honest voters each): scored against
    // the fit as it was, 1 % of 100 voters and 1.9 % of 16 heavy ones flagged; with the
    // error floor and the prior of `predictive_ratings`, 0.125 % and 1.9 %; with models of
    // fewer than `MIN_VOTES_TO_SCORE` votes left unscored (10 was enough), none.
    let config = RiggingConfig {
        models: 5,
        strength_sd: 100.0,
        tie_rate: 0.2,
        honest_ties: HonestTies::Constant,
        honest_voters: 100,
        warmup_votes: 9,
        refit_every: 150,
        riggers: 0,
        replicates: 40,
        ..RiggingConfig::default()
    };
    let report = simulate_rigging(&config).unwrap();
    assert!(report.honest_flagged <= 0.001, "{}", report.honest_flagged);
    // The chaos volunteers themselves: 16, each voting about 25 times while the first run is
    // still cached.
    let chaos = RiggingConfig {
        honest_voters: 16,
        refit_every: 400,
        replicates: 250,
        ..config
    };
    let report = simulate_rigging(&chaos).unwrap();
    assert!(report.honest_flagged <= 0.001, "{}", report.honest_flagged);
}
