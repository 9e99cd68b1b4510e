use arena_ratings::simulate::synthetic_arena;
use arena_ratings::{FitOptions, fit};
use std::time::Instant;
fn main() {
    let (c, _) = synthetic_arena(1);
    for _ in 0..3 {
        let t = Instant::now();
        let mut it = 0;
        for _ in 0..50 {
            it = fit(&c, &FitOptions::default())
                .unwrap()
                .diagnostics
                .iterations;
        }
        println!(
            "fit {:.3} ms ({} it)",
            t.elapsed().as_secs_f64() * 1e3 / 50.0,
            it
        );
    }
}
