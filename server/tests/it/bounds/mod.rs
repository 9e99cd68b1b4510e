//! Bounds (#22): every resource one request, worker or file can make the arena spend has a limit,
//! and each test here tries to exceed one on the real app and a real Postgres.

mod budgets;
mod exports;
mod imports;
mod requests;
mod workers;

/// This process's resident memory (the app under test runs in it).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}
