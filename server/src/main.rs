//! The `taskdeck` binary.

mod auth;
mod bench;
mod broker;
mod bus;
mod config;
mod control;
mod demo;
mod http;
mod ingest;
mod live;
mod model;
mod serve;
mod services;
mod store;
mod telemetry;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Ingest allocates and frees small buffers per event on every thread; glibc's allocator spent
/// a third of the CPU on that in profiles, mimalloc a fraction of it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::collections::BTreeMap;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "taskdeck",
    version,
    about = "Real-time dashboard and control plane for distributed function workers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the dashboard, the REST API and ingest.
    #[command(
        after_help = "A flag beats its environment variable, which beats the --config file, \
        which beats the default.\nTASKDECK_ADMIN_PASSWORD (never a flag, so it stays out of process \
        lists): at start the `admin` account gets this password, created if missing."
    )]
    Serve(Box<config::ServeArgs>),
    /// API tokens for workers and scripts.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Measure taskdeck (figures, not pass/fail).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it (the only time it is shown). Also applies
    /// TASKDECK_ADMIN_PASSWORD, so automation can set up a store without starting the server.
    Create(config::TokenCreateArgs),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Events/s from the Redis stream into a store, peak RSS, and the binary COPY ceiling.
    Ingest(bench::ingest::IngestBenchArgs),
    /// Fill the Redis stream with realistic events (for a durability run).
    Load(bench::ingest::LoadArgs),
    /// Check that a store holds every loaded task exactly once.
    Verify(bench::ingest::VerifyArgs),
    /// Write the benchmark's events as NDJSON (for baselines outside taskdeck).
    Export(bench::ingest::ExportArgs),
    /// First-page latency of task searches on a seeded store; on MongoDB also funboost's way.
    Search(bench::search::SearchBenchArgs),
    /// Chart series from the write-time counters vs counting records per bucket.
    Series(bench::series::SeriesBenchArgs),
    /// Tasks/s of a Rust worker vs a funboost worker on the same Redis; RSS at 10,000 in flight.
    Worker(bench::worker::WorkerBenchArgs),
    /// Event-to-browser latency at a sustained event rate; server CPU and RSS per open dashboards.
    Live(bench::live::LiveBenchArgs),
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Bench(command) => {
            telemetry::init("warn", config::LogFormat::Human);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            let result = runtime.block_on(async {
                match command {
                    BenchCommand::Ingest(args) => bench::ingest::ingest(args).await,
                    BenchCommand::Load(args) => bench::ingest::load(args).await,
                    BenchCommand::Verify(args) => bench::ingest::verify(args).await,
                    BenchCommand::Export(args) => bench::ingest::export(args),
                    BenchCommand::Worker(args) => bench::worker::run(args).await,
                    BenchCommand::Series(args) => bench::series::run(args).await,
                    BenchCommand::Search(args) => bench::search::run(args).await,
                    BenchCommand::Live(args) => bench::live::run(args).await,
                }
            });
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("taskdeck bench: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Token(TokenCommand::Create(args)) => {
            let settings = match args.settings() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("taskdeck: {e}");
                    return ExitCode::from(2);
                }
            };
            telemetry::init("warn", config::LogFormat::Human);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            match runtime.block_on(create_token(&args, &settings)) {
                Ok(token) => {
                    println!("{token}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("taskdeck token create: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve(_) => {
            let env: BTreeMap<String, String> = std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect();
            let serve = matches
                .subcommand_matches("serve")
                .expect("the serve subcommand");
            let settings = match config::Settings::from_matches(serve, &env) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("taskdeck: {e}");
                    return ExitCode::from(2);
                }
            };
            telemetry::init(&settings.log, settings.log_format);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            match runtime.block_on(serve::run(settings)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("taskdeck: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `taskdeck token create`: the token's full value.
async fn create_token(
    args: &config::TokenCreateArgs,
    settings: &config::Settings,
) -> anyhow::Result<String> {
    let new = protocol::auth::NewToken {
        name: args.name.clone(),
        scopes: protocol::auth::Scope::parse_list(&args.scope).map_err(anyhow::Error::msg)?,
    };
    let store = store::Store::open(&settings.store, settings.retention).await?;
    auth::ensure_admin(&store, settings.admin_password.as_deref()).await?;
    let cli = auth::Requester {
        actor: "cli",
        ip: "",
        user: None,
    };
    let created = auth::Auth::new(store.clone(), false)
        .create_token(cli, &new)
        .await;
    store.close().await;
    Ok(created?.value)
}
