//! Criterion benches on an arena-sized synthetic case (129 models, 3,460
//! pairs, 1.67M votes): the exact fit, the MM baseline, sandwich intervals
//! and a 1000-round bootstrap.

use arena_ratings::baseline::mm_fit;
use arena_ratings::simulate::synthetic_arena;
use arena_ratings::{CiMethod, FitOptions, fit};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn fits(c: &mut Criterion) {
    let (data, _) = synthetic_arena(1);
    let mut group = c.benchmark_group("arena_129_models");
    group.bench_function("newton_fit", |b| {
        b.iter(|| fit(black_box(&data), &FitOptions::default()).unwrap())
    });
    group.bench_function("mm_baseline_tol_1e-6", |b| {
        b.iter(|| mm_fit(black_box(&data), 1e-6, 100_000).unwrap())
    });
    let sandwich = FitOptions {
        ci: CiMethod::Sandwich,
        ..FitOptions::default()
    };
    group.bench_function("newton_fit_sandwich", |b| {
        b.iter(|| fit(black_box(&data), &sandwich).unwrap())
    });
    group.finish();

    let mut slow = c.benchmark_group("arena_129_models_bootstrap");
    slow.sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let bootstrap = FitOptions {
        ci: CiMethod::Bootstrap {
            rounds: 1000,
            seed: 1,
        },
        ..FitOptions::default()
    };
    slow.bench_function("bootstrap_1000_rounds", |b| {
        b.iter(|| fit(black_box(&data), &bootstrap).unwrap())
    });
    slow.finish();
}

criterion_group!(benches, fits);
criterion_main!(benches);
