//! The arena's web server: configuration → database → gateway → serve.
//!
//! `server` serves; `server admin create --username NAME` creates the first admin (or makes an
//! existing account admin), the password read from stdin when it is not a terminal, else from a
//! prompt that does not echo. No admin ever exists by default.

use arena_core::accounts::Accounts;
use arena_core::config::Settings;
use arena_server::{Application, telemetry};
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal};

#[derive(Parser)]
#[command(name = "server", about = "The arena's web server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Administration from the command line.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin account (or make an existing account admin, with this password).
    Create {
        #[arg(long)]
        username: String,
    },
}

#[tokio::main]
async fn main() {
    telemetry::init();
    let cli = Cli::parse();
    let settings = match Settings::load(&Settings::default_dir()) {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!(error = %e, "cannot load the configuration");
            std::process::exit(2);
        }
    };
    if let Some(Command::Admin {
        command: AdminCommand::Create { username },
    }) = cli.command
    {
        match create_admin(&settings, &username).await {
            Ok(name) => println!("admin {name} is ready; sign in at /signin"),
            Err(e) => {
                eprintln!("cannot create the admin: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
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

async fn create_admin(
    settings: &Settings,
    username: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password for the new admin: ")?;
        let again = rpassword::prompt_password("the same again: ")?;
        if first != again {
            return Err("the two passwords differ".into());
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    let pool = arena_core::db::connect(&settings.database).await?;
    arena_core::db::migrate(&pool).await?;
    let accounts = Accounts::new(pool, settings.accounts.clone());
    Ok(accounts
        .create_admin(username, &password)
        .await?
        .to_string())
}
