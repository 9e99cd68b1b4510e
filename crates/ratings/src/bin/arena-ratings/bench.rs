//! `bench`: the fit and the bootstrap on the arena-sized synthetic case, against the MM baseline.

use super::*;

pub(super) fn median_time(repeats: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

pub(super) fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

pub(super) fn bench(rounds: usize, repeats: usize, seed: u64) {
    let (c, _) = synthetic_arena(seed);
    println!(
        "bench: {} models, {} pairs, {} votes, {} rayon threads; median of {repeats} runs (machine is shared: compare ratios)",
        c.models().len(),
        c.pairs().count(),
        c.total_votes(),
        rayon::current_num_threads()
    );
    let exact = fit(&c, &FitOptions::default()).expect("synthetic case is fittable");
    let t_fit = median_time(repeats, || {
        std::hint::black_box(fit(&c, &FitOptions::default()).expect("fit"));
    });
    let mm = mm_fit(&c, 1e-6, 100_000).expect("mm");
    let t_mm = median_time(repeats.min(5), || {
        std::hint::black_box(mm_fit(&c, 1e-6, 100_000).expect("mm"));
    });
    // how far the baseline's stopping rule leaves it from the optimum
    let mean = mm.theta.iter().sum::<f64>() / mm.theta.len() as f64;
    let mm_error = mm
        .models
        .iter()
        .zip(&mm.theta)
        .map(|(m, t)| {
            (1000.0 + ELO_PER_NATURAL_UNIT * (t - mean) - exact.rating(m).unwrap_or(f64::NAN)).abs()
        })
        .fold(0.0, f64::max);
    let sandwich = FitOptions {
        ci: CiMethod::Sandwich,
        ..FitOptions::default()
    };
    let t_sandwich = median_time(repeats, || {
        std::hint::black_box(fit(&c, &sandwich).expect("fit"));
    });
    let boot = FitOptions {
        ci: CiMethod::Bootstrap { rounds, seed },
        ..FitOptions::default()
    };
    let t_boot = median_time(3.min(repeats), || {
        std::hint::black_box(fit(&c, &boot).expect("fit"));
    });
    // The same bootstrap on one thread: its cost per round does not depend on
    // how many cores the other jobs on the machine leave free.
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("thread pool");
    let t_boot_1 = single.install(|| {
        median_time(1, || {
            std::hint::black_box(fit(&c, &boot).expect("fit"));
        })
    });
    let ratio = |d: Duration| d.as_secs_f64() / t_mm.as_secs_f64();
    println!("{:<44} {:>12} {:>16}", "operation", "time", "× MM baseline");
    println!(
        "{:<44} {:>12} {:>16}",
        format!("MM baseline fit (tol 1e-6, {} iterations)", mm.iterations),
        ms(t_mm),
        "1.000"
    );
    println!(
        "{:<44} {:>12} {:>16.3}",
        format!(
            "Newton fit (grad ≤ 1e-10, {} iterations)",
            exact.diagnostics.iterations
        ),
        ms(t_fit),
        ratio(t_fit)
    );
    println!(
        "{:<44} {:>12} {:>16.3}",
        "Newton fit + sandwich CIs",
        ms(t_sandwich),
        ratio(t_sandwich)
    );
    println!(
        "{:<44} {:>12} {:>16.3}",
        format!("Newton fit + {rounds}-round bootstrap"),
        ms(t_boot),
        ratio(t_boot)
    );
    println!(
        "{:<44} {:>12} {:>16.3}",
        format!(
            "  the same on 1 thread ({:.3} ms/round)",
            t_boot_1.as_secs_f64() * 1e3 / rounds as f64
        ),
        ms(t_boot_1),
        ratio(t_boot_1)
    );
    println!(
        "final gradient norm {:.2e}; MM baseline ends {:.4} Elo (max) from the exact optimum",
        exact.diagnostics.gradient_norm, mm_error
    );
}
