//! The arena's web server: configuration → database → gateway → serve.

use arena_core::config::Settings;
use arena_server::{Application, telemetry};

#[tokio::main]
async fn main() {
    telemetry::init();
    let settings = match Settings::load(&Settings::default_dir()) {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!(error = %e, "cannot load the configuration");
            std::process::exit(2);
        }
    };
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            std::process::exit(1);
        }
    };
    tracing::info!(addr = %app.local_addr(), "arena listening on http://{}", app.local_addr());
    if let Err(e) = app.run_until_stopped().await {
        tracing::error!(error = %e, "server stopped with an error");
        std::process::exit(1);
    }
}
