//! The server's integration tests, as one test binary: every test links the whole server (and
//! candle), so one binary instead of seven saves minutes of linking and gigabytes of disk on the
//! 2-core CI machines. Run one area with `cargo test -p server --test it -- console::`.

mod common;

mod abuse;
mod accounts;
mod active;
mod api;
mod audit;
mod bounds;
mod campaigns;
mod console;
mod drain;
mod exports;
mod i18n;
mod imports;
mod leaderboards;
mod logs;
mod metrics;
mod openapi;
mod privacy;
mod rigging;
mod scale;
mod with_real_model;
