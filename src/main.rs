//! The `parking` binary: parses the command line and hands over to the library.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand, ValueEnum};
use parking::{
    commands,
    config::{Overrides, Settings},
    domain::Role,
};

/// Requests allocate and free many small buffers (request ids, headers, JSON, log lines);
/// mimalloc serves those faster than glibc's malloc on the request path (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "parking", version, about = "Parking-management service")]
struct Cli {
    /// Database URL: sqlite://PATH (overrides PARKING_DATABASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,
    /// TOML file with settings (environment variables and flags override it).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve {
        /// Listen address (overrides PARKING_BIND).
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
    },
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Write a verified backup (to the backup folder, or to FILE).
    Backup {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Replace the database with a backup (refused while a server uses it). The database it
    /// replaces is saved as a backup first.
    Restore {
        file: PathBuf,
        /// Delete the current database instead of saving it as a backup first.
        #[arg(long)]
        discard_current: bool,
    },
    /// Run the retention purge once.
    Purge,
    /// Check the signature of a saved retention report against this database's secret; exits
    /// non-zero when the report was altered or signed by another database.
    VerifyReport { file: PathBuf },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create a key and print it once on standard output.
    Create {
        #[arg(long)]
        role: RoleArg,
        #[arg(long)]
        name: String,
        /// When the key stops working (RFC 3339, in the future); never, if omitted.
        #[arg(long, value_name = "TIME")]
        expires_at: Option<String>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id.
    Revoke { id: i64 },
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    Operator,
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Operator => Role::Operator,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("parking: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let bind = match &cli.command {
        Command::Serve { bind } => bind.clone(),
        _ => None,
    };
    let overrides = Overrides {
        bind,
        database: cli.database,
    };
    let settings = Settings::load(cli.config.as_deref(), &overrides)?;
    match cli.command {
        Command::Serve { .. } => commands::serve(settings).await,
        Command::Migrate => commands::migrate(settings).await,
        Command::Backup { out } => commands::backup(settings, out.as_deref()).await,
        Command::Restore {
            file,
            discard_current,
        } => commands::restore(settings, &file, discard_current).await,
        Command::Purge => commands::purge(settings).await,
        Command::VerifyReport { file } => commands::verify_report(settings, &file).await,
        Command::Keys { action } => match action {
            KeysAction::Create {
                role,
                name,
                expires_at,
            } => commands::create_key(settings, role.into(), &name, expires_at.as_deref()).await,
            KeysAction::List => commands::list_keys(settings).await,
            KeysAction::Revoke { id } => commands::revoke_key(settings, id).await,
        },
    }
}
