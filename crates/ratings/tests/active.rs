//! Active sampling against uniform sampling on a small seeded arena: the
//! votes needed until the widest 95% interval is narrow enough.

use arena_ratings::active::{ActiveOptions, Criterion};
use arena_ratings::simulate::{Sampling, TargetConfig, compare_sampling, votes_to_target};

fn small_arena() -> TargetConfig {
    TargetConfig {
        models: 10,
        strength_sd: 150.0,
        replicates: 8,
        seed: 1,
        target_width: 80.0,
        batch: 100,
        max_votes: 50_000,
        ..TargetConfig::default()
    }
}

#[test]
fn active_sampling_needs_fewer_votes_than_uniform() {
    let config = small_arena();
    let c = compare_sampling(&config, &ActiveOptions::default()).unwrap();
    assert_eq!(c.uniform.reached, config.replicates);
    assert_eq!(c.active.reached, config.replicates);
    assert!(
        c.active.mean_votes < 0.9 * c.uniform.mean_votes,
        "active {} vs uniform {} votes (mean)",
        c.active.mean_votes,
        c.uniform.mean_votes
    );
    assert!(c.active.median_votes < c.uniform.median_votes);
    assert!(c.fewer_votes_percent() > 0.0);
    // votes are counted in whole batches
    assert!(c.active.votes_needed.iter().all(|v| v % config.batch == 0));
}

#[test]
fn the_study_is_deterministic_and_validates_its_input() {
    let config = TargetConfig {
        replicates: 2,
        ..small_arena()
    };
    let active = Sampling::Active(ActiveOptions {
        criterion: Criterion::TotalVariance,
        ..ActiveOptions::default()
    });
    let first = votes_to_target(&config, &active).unwrap();
    assert_eq!(first, votes_to_target(&config, &active).unwrap());

    let bad_width = TargetConfig {
        target_width: 0.0,
        ..config.clone()
    };
    assert!(votes_to_target(&bad_width, &Sampling::Uniform).is_err());
    let bad_floor = Sampling::Active(ActiveOptions {
        floor: 1.5,
        ..ActiveOptions::default()
    });
    assert!(votes_to_target(&config, &bad_floor).is_err());
    // a cap below what the target needs: every replicate stops at the cap
    let capped = TargetConfig {
        max_votes: 150,
        ..config
    };
    let report = votes_to_target(&capped, &Sampling::Uniform).unwrap();
    assert_eq!(report.reached, 0);
    assert_eq!(report.votes_needed, vec![150, 150]);
    assert!(report.coverage_at_stop.is_nan());
}
