//! The subcommands `run`, `seed`, `test` and `openapi` (`bench` lives in `bench.rs`).

use std::fs;
use std::process::Command;

use crate::config::{
    DEFAULT_PORT, DEFAULT_REDIS_URL, DEFAULT_TEST_DATABASE_URL, Env, PgUrl, RedisUrl, process_env,
    repo_root,
};
use crate::server::{self, Profile};
use crate::services::{self, Apt};
use crate::{Args, Context, Result, ops, process, schemathesis};

const DEFAULT_SEED_PHARMACIES: u32 = 10_000;

/// How a test phase ended.
pub enum Outcome {
    /// Everything passed.
    Passed,
    /// Something failed; the reason.
    Failed(String),
}

/// `cargo xtask run`: services, database, build, migrate, seed, then serve in the foreground.
pub fn run(mut args: Args) -> Result<()> {
    let port: Option<u16> = args.number("--port")?;
    let pharmacies: Option<u32> = args.number("--pharmacies")?;
    let profile = Profile::from_release_flag(args.flag("--release"));
    args.finish()?;

    let root = repo_root();
    let env = Env::load(&root);
    let db = PgUrl::parse(&env.database_url())?;
    let redis = RedisUrl::parse(&env.redis_url())?;
    services::prepare(&db, &redis, &mut Apt::default())?;
    services::create_database_if_missing(&db)?;
    let bin = server::build(&root, profile)?;

    let mut vars = env.missing_defaults();
    if let Some(port) = port {
        vars.insert("PORT".to_owned(), port.to_string());
    }
    server::cli(&bin, &root, &vars, &["migrate"])?;
    let mut seed_vars = vars.clone();
    seed_vars.insert(
        "SEED_PHARMACIES".to_owned(),
        seed_count(pharmacies, &env).to_string(),
    );
    server::cli(&bin, &root, &seed_vars, &["seed"])?;

    let host = match env.get("HOST").as_deref() {
        None | Some("0.0.0.0" | "::" | "[::]") => "127.0.0.1".to_owned(),
        Some(host) => host.to_owned(),
    };
    let port = port
        .or_else(|| env.get("PORT").and_then(|p| p.parse().ok()))
        .unwrap_or(DEFAULT_PORT);
    println!();
    println!("Medico24 API on http://{host}:{port}  docs: http://{host}:{port}/docs");
    println!();
    server::exec_serve(&bin, &root, &vars)
}

fn seed_count(flag: Option<u32>, env: &Env) -> u32 {
    flag.or_else(|| env.get("SEED_PHARMACIES").and_then(|n| n.parse().ok()))
        .unwrap_or(DEFAULT_SEED_PHARMACIES)
}

/// `cargo xtask seed`: services, database, build, migrate, seed.
pub fn seed(mut args: Args) -> Result<()> {
    let pharmacies: Option<u32> = args.number("--pharmacies")?;
    let database_url = args.value("--database-url")?;
    let profile = Profile::from_release_flag(args.flag("--release"));
    args.finish()?;

    let root = repo_root();
    let env = Env::load(&root);
    let db = PgUrl::parse(&database_url.clone().unwrap_or_else(|| env.database_url()))?;
    let redis = RedisUrl::parse(&env.redis_url())?;
    services::prepare(&db, &redis, &mut Apt::default())?;
    services::create_database_if_missing(&db)?;
    let bin = server::build(&root, profile)?;

    let mut vars = env.missing_defaults();
    if let Some(url) = database_url {
        vars.insert("DATABASE_URL".to_owned(), url);
    }
    server::cli(&bin, &root, &vars, &["migrate"])?;
    vars.insert(
        "SEED_PHARMACIES".to_owned(),
        seed_count(pharmacies, &env).to_string(),
    );
    server::cli(&bin, &root, &vars, &["seed"])?;
    println!("==> seeded database {}", db.database());
    Ok(())
}

/// `cargo xtask openapi`: writes `medico24 openapi` to docs/openapi.json.
pub fn openapi(args: Args) -> Result<()> {
    args.finish()?;
    let root = repo_root();
    let env = Env::load(&root);
    let bin = server::build(&root, Profile::Debug)?;
    let mut cmd = Command::new(&bin);
    cmd.arg("openapi")
        .current_dir(&root)
        .envs(env.missing_defaults())
        .stderr(std::process::Stdio::inherit());
    println!("$ {}", process::display(&cmd));
    let output = process::output(&mut cmd)?;
    if !output.status.success() {
        return Err(format!("`medico24 openapi` failed ({})", output.status));
    }
    let mut document = String::from_utf8(output.stdout)
        .context("`medico24 openapi` printed something that is not UTF-8")?;
    if !document.trim_start().starts_with('{') {
        return Err(format!(
            "`medico24 openapi` did not print a JSON object: {:?}…",
            document.chars().take(80).collect::<String>()
        ));
    }
    if !document.ends_with('\n') {
        document.push('\n');
    }
    let docs = root.join("docs");
    fs::create_dir_all(&docs).with_context(|| format!("creating {}", docs.display()))?;
    let path = docs.join("openapi.json");
    fs::write(&path, &document).with_context(|| format!("writing {}", path.display()))?;
    println!("==> wrote docs/openapi.json ({} bytes)", document.len());
    Ok(())
}

/// The test services: `$MEDICO24_TEST_DATABASE_URL` and `$MEDICO24_TEST_REDIS_URL`, else local.
pub fn test_services() -> Result<(PgUrl, RedisUrl)> {
    let pg = process_env("MEDICO24_TEST_DATABASE_URL")
        .unwrap_or_else(|| DEFAULT_TEST_DATABASE_URL.to_owned());
    let redis =
        process_env("MEDICO24_TEST_REDIS_URL").unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned());
    Ok((PgUrl::parse(&pg)?, RedisUrl::parse(&redis)?))
}

/// `cargo xtask services`: only prepare PostgreSQL/PostGIS and Redis.
pub fn services(args: Args) -> Result<()> {
    args.finish()?;
    let (pg, redis) = test_services()?;
    services::prepare(&pg, &redis, &mut Apt::default())
}

/// `cargo xtask test`: nextest, the deploy/ checks, then schemathesis; all run, any failing fails.
pub fn test(mut args: Args) -> Result<()> {
    let no_schemathesis = args.flag("--no-schemathesis");
    let only_schemathesis = args.flag("--only-schemathesis");
    let no_topology = args.flag("--no-topology");
    let nextest_args = args.passthrough();
    args.finish()?;
    if no_schemathesis && only_schemathesis {
        return Err("--no-schemathesis and --only-schemathesis exclude each other".to_owned());
    }
    if only_schemathesis && !nextest_args.is_empty() {
        return Err(
            "arguments after `--` are for nextest, which --only-schemathesis skips".to_owned(),
        );
    }

    let root = repo_root();
    let (pg, redis) = test_services()?;
    services::prepare(&pg, &redis, &mut Apt::default())?;

    let mut outcomes = Vec::new();
    if !only_schemathesis {
        // The ops tests under nextest call promtool too, so it is installed first.
        let promtool = ops::ensure_promtool();
        let outcome = crate::topology::start_data_tier(&root)
            .and_then(|tier| nextest(&root, &pg.url(), redis.url(), &tier, &nextest_args))
            .unwrap_or_else(Outcome::Failed);
        outcomes.push(("nextest", outcome));
        let outcome = promtool
            .and_then(|promtool| ops::run(&root, &promtool))
            .unwrap_or_else(Outcome::Failed);
        outcomes.push(("ops", outcome));
        if !no_topology {
            let outcome = crate::topology::flows_and_drills(&root, Profile::Debug)
                .map(|()| Outcome::Passed)
                .unwrap_or_else(Outcome::Failed);
            outcomes.push(("topology", outcome));
        }
    }
    if !no_schemathesis {
        let outcome = schemathesis::run(&root, &pg, &redis).unwrap_or_else(Outcome::Failed);
        outcomes.push(("schemathesis", outcome));
    }

    println!("\n==> summary");
    let mut failed = Vec::new();
    for (phase, outcome) in &outcomes {
        match outcome {
            Outcome::Passed => println!("    {phase:<13} passed"),
            Outcome::Failed(reason) => {
                println!("    {phase:<13} FAILED: {reason}");
                failed.push(*phase);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed: {}", failed.join(", ")))
    }
}

fn nextest(
    root: &std::path::Path,
    db_url: &str,
    redis_url: &str,
    tier: &[(String, String)],
    extra: &[String],
) -> Result<Outcome> {
    println!("\n==> cargo nextest");
    if !process::succeeds(server::cargo().args(["nextest", "--version"])) {
        println!("    cargo-nextest is not installed");
        process::run(server::cargo().args(["install", "cargo-nextest", "--locked"]))?;
    }
    let mut cmd = server::cargo();
    cmd.current_dir(root)
        .args(["nextest", "run", "--workspace", "--no-fail-fast"])
        .args(extra)
        .env("MEDICO24_TEST_DATABASE_URL", db_url)
        .env("MEDICO24_TEST_REDIS_URL", redis_url)
        .envs(tier.iter().map(|(k, v)| (k, v)));
    let status = process::status(&mut cmd)?;
    Ok(if status.success() {
        Outcome::Passed
    } else {
        Outcome::Failed(format!("cargo nextest ({status})"))
    })
}
