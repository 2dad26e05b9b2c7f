//! The `medico24` binary: parse the command line, load settings, then serve, migrate, seed or
//! print the OpenAPI document.

use std::process::ExitCode;

use clap::Parser;
use medico24_server::cli::{Cli, Command};
use medico24_server::{Application, Settings, openapi, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            // Logging is not set up yet, and this must reach the operator.
            eprintln!("medico24: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log_level, settings.log_format);
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate { revert_all } => migrate(&settings, revert_all).await,
        Command::Seed {
            pharmacies,
            users,
            appointments,
        } => {
            seed(
                &settings,
                medico24_postgres::SeedSize {
                    pharmacies,
                    users,
                    appointments,
                },
            )
            .await
        }
        Command::Openapi => print_openapi(&settings),
        Command::DevToken {
            email,
            name,
            uid,
            minutes,
        } => dev_token(&settings, &email, name, uid, minutes),
        Command::MakeAdmin { user_id, email } => {
            make_admin(&settings, user_id.as_deref(), email.as_deref()).await
        }
        Command::StatsCheck { repair } => stats_check(&settings, repair).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "medico24 failed");
            eprintln!("medico24: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let environment_enabled = settings.google_maps_api_key.is_some();
    let app = Application::build(settings)?;
    // From the sender actually built: an unusable service account also leaves sending disabled.
    let push_enabled = app.state().notifications.push_enabled();
    tracing::info!(
        port = app.port(),
        push_enabled,
        environment_provider_enabled = environment_enabled,
        "medico24 listening"
    );
    if !push_enabled {
        tracing::warn!("push provider not configured; notifications will be recorded as failed");
    }
    let handle = app.handle();
    let events = app.state().events.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested: draining in-flight requests");
        // Event streams never finish by themselves: they send `retry:` and close first.
        events.shutdown();
        handle.stop(true).await;
    });
    app.run_until_stopped().await?;
    tracing::info!("medico24 stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = terminate.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn migrate(settings: &Settings, revert_all: bool) -> anyhow::Result<()> {
    let url = settings.database.migration_url();
    if revert_all {
        anyhow::ensure!(
            !settings.is_production(),
            "reverting migrations is refused in production"
        );
        let reverted = medico24_postgres::revert_all_migrations(url).await?;
        tracing::info!(count = reverted.len(), versions = ?reverted, "migrations reverted");
    } else {
        let applied = medico24_postgres::run_migrations(url).await?;
        tracing::info!(count = applied.len(), versions = ?applied, "migrations applied");
    }
    Ok(())
}

async fn seed(settings: &Settings, size: medico24_postgres::SeedSize) -> anyhow::Result<()> {
    medico24_postgres::seed_demo_data(settings.database.migration_url(), size).await?;
    tracing::info!(
        pharmacies = size.pharmacies,
        users = size.users,
        appointments = size.appointments,
        "demo data loaded"
    );
    Ok(())
}

#[expect(clippy::print_stdout, reason = "the document is the command's output")]
fn print_openapi(settings: &Settings) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(&openapi::document(settings))?;
    println!("{json}");
    Ok(())
}

#[expect(clippy::print_stdout, reason = "the token is the command's output")]
fn dev_token(
    settings: &Settings,
    email: &str,
    name: Option<String>,
    uid: Option<String>,
    minutes: i64,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        settings.firebase_auth_emulator_host.is_some(),
        "dev tokens are only accepted in emulator mode: set FIREBASE_AUTH_EMULATOR_HOST (not in production)"
    );
    let project = settings
        .firebase_project_id
        .clone()
        .ok_or_else(|| anyhow::anyhow!("FIREBASE_PROJECT_ID is required for dev tokens"))?;
    let uid = uid.unwrap_or_else(|| medico24_server::auth::dev_token::uid_for_email(email));
    let token = medico24_server::auth::dev_token::emulator_id_token(
        &project,
        &uid,
        email,
        name.as_deref(),
        chrono::Utc::now(),
        chrono::Duration::minutes(minutes),
    );
    println!("{token}");
    Ok(())
}

async fn make_admin(
    settings: &Settings,
    user_id: Option<&str>,
    email: Option<&str>,
) -> anyhow::Result<()> {
    use medico24_identity::UserCache;

    let db = medico24_postgres::Database::connect_lazy(&settings.database.pool_config(
        &settings.database.url,
        1,
        settings.database_pool_timeout,
        None,
    ))?;
    let users = medico24_postgres::PgUserRepository::new(db);
    let id = match (user_id, email) {
        (Some(id), _) => id
            .parse::<medico24_kernel::UserId>()
            .map_err(|_| anyhow::anyhow!("--user-id must be a UUID"))?,
        (None, Some(email)) => {
            let matches = users.accounts_with_email(email).await?;
            match matches.as_slice() {
                [] => anyhow::bail!("no account has that email: log in once first"),
                [only] => only.id,
                several => {
                    let listed: Vec<String> = several
                        .iter()
                        .map(|m| {
                            format!(
                                "  {}  email verified: {}  created {}  last login {}",
                                m.id,
                                m.email_verified,
                                m.created_at.to_rfc3339(),
                                m.last_login_at
                                    .map_or_else(|| "never".to_owned(), |at| at.to_rfc3339())
                            )
                        })
                        .collect();
                    anyhow::bail!(
                        "{} accounts have that email; promote one with --user-id:\n{}",
                        several.len(),
                        listed.join("\n")
                    )
                }
            }
        }
        (None, None) => anyhow::bail!("name the account with --user-id or --email"),
    };
    anyhow::ensure!(
        users.make_admin(id, chrono::Utc::now()).await?,
        "no account has that id"
    );
    let redis = medico24_redis::Redis::connect_lazy(&settings.redis.pool_config(1))?;
    let cache = medico24_redis::RedisUserCache::new(redis, settings.cache_ttls.user, None);
    cache.invalidate(id).await;
    tracing::info!(user.id = %id, "admin role granted by operator command");
    eprintln!("medico24: user {id} is now an admin");
    Ok(())
}

async fn stats_check(settings: &Settings, repair: bool) -> anyhow::Result<()> {
    let db = medico24_postgres::Database::connect_lazy(&settings.database.pool_config(
        &settings.database.url,
        1,
        settings.database_pool_timeout,
        None,
    ))?;
    let stats = medico24_postgres::PgAdminStats::new(db);
    let check = stats.check(chrono::Utc::now()).await?;
    if check.agrees() {
        eprintln!("medico24: the maintained admin statistics agree with a recount");
        return Ok(());
    }
    // Counts only: no personal data in these structures.
    eprintln!(
        "medico24: the maintained admin statistics differ from a recount\n  maintained: {:?}\n  recounted:  {:?}",
        check.maintained, check.recounted
    );
    anyhow::ensure!(
        repair,
        "statistics differ; run again with --repair to recount them"
    );
    stats.rebuild().await?;
    let again = stats.check(chrono::Utc::now()).await?;
    anyhow::ensure!(again.agrees(), "statistics still differ after the recount");
    tracing::info!("admin statistics recounted by operator command");
    eprintln!("medico24: the admin statistics were recounted and now agree");
    Ok(())
}
