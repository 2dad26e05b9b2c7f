//! `cargo xtask bench --data-tier`: the nearby search through PgBouncer (transaction mode) and
//! TLS against the same database reached directly over TLS, in one run, rounds alternating.

use std::fmt::Write as _;
use std::fs;
use std::process::Command;
use std::time::Duration;

use super::{CASES, Measurement, Options, run_case, wait_until_idle};
use crate::config::{isolated_server_env, repo_root, target_dir};
use crate::process;
use crate::server::{self, Profile};
use crate::{Context, Result};

const DATABASE: &str = "medico24_bench_tier";
const ROUNDS: usize = 3;
const BEGIN: &str = "<!-- tier:begin -->";
const END: &str = "<!-- tier:end -->";

/// One way of reaching the database.
struct Route {
    name: &'static str,
    url: String,
    pooler: &'static str,
}

/// Runs the comparison and writes it between the tier markers of docs/benchmarks.md.
pub(super) fn compare(options: &Options) -> Result<()> {
    let root = repo_root();
    let (pg, redis) = crate::tasks::test_services()?;
    let mut apt = crate::services::Apt::default();
    crate::services::prepare(&pg, &redis, &mut apt)?;
    if process::which("wrk").is_none() {
        apt.install(&["wrk"], "wrk is not installed")?;
    }
    let tier = crate::topology::start_data_tier(&root)?;
    let get = |name: &str| {
        tier.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .ok_or_else(|| format!("the data tier does not set {name}"))
    };
    let direct = with_database(&get("MEDICO24_TIER_DIRECT_URL")?, DATABASE);
    let pooled = with_database(&get("MEDICO24_TIER_DATABASE_URL")?, DATABASE);
    let socket_dir = get("MEDICO24_TIER_SOCKET_DIR")?;
    recreate(&socket_dir, &direct)?;

    let bin = server::build(&root, Profile::Release)?;
    let work = target_dir(&root).join("bench-tier");
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let paths = [
        Route {
            name: "direct, TLS (verify-full)",
            url: direct.clone(),
            pooler: "none",
        },
        Route {
            name: "direct, TLS, pooler mode (wrapped, no statement cache)",
            url: direct.clone(),
            pooler: "transaction",
        },
        Route {
            name: "PgBouncer 1.18 transaction mode, TLS both legs",
            url: pooled,
            pooler: "transaction",
        },
    ];
    let mut servers = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        let port = server::free_port()?;
        let mut vars = isolated_server_env(&pg, &redis, port);
        vars.insert("DATABASE_URL".to_owned(), path.url.clone());
        vars.insert("DATABASE_DIRECT_URL".to_owned(), direct.clone());
        vars.insert("DATABASE_POOLER".to_owned(), path.pooler.to_owned());
        vars.insert("RATE_LIMIT_PER_MINUTE".to_owned(), "1000000000".to_owned());
        if index == 0 {
            server::cli(&bin, &work, &vars, &["migrate"])?;
            let mut seed = vars.clone();
            seed.insert("SEED_PHARMACIES".to_owned(), options.pharmacies.to_string());
            seed.insert("SEED_USERS".to_owned(), "10".to_owned());
            seed.insert("SEED_APPOINTMENTS".to_owned(), "10".to_owned());
            server::cli(&bin, &work, &seed, &["seed"])?;
        }
        let log = work.join(format!("server-{index}.log"));
        let mut running = server::spawn(&bin, &work, &vars, port, &log)?;
        running.wait_healthy(Duration::from_secs(60))?;
        servers.push(running);
    }

    let case = CASES
        .iter()
        .find(|case| case.name == "pharmacy-nearby-5km")
        .ok_or("the nearby case is missing")?;
    let mut rounds: Vec<[Measurement; 3]> = Vec::new();
    for round in 1..=ROUNDS {
        println!("\n==> round {round} of {ROUNDS}");
        let mut pair = Vec::new();
        for server in &servers {
            wait_until_idle(server.pid());
            pair.push(run_case(case, server.port(), options, &work, &[], None)?);
        }
        let pair: [Measurement; 3] = pair
            .try_into()
            .map_err(|_| "a round did not measure every path".to_owned())?;
        rounds.push(pair);
    }
    for server in &mut servers {
        server.stop();
    }

    let section = render(options, &paths, &rounds);
    println!("\n{section}");
    let doc = root.join(super::DOC);
    super::write_section(&doc, &section, BEGIN, END, "data tier")?;
    Ok(())
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    format!("{server}/{database}?{query}")
}

/// Drops and creates the bench database on the tier's primary (as its superuser, over the
/// Unix socket), owned by the application's role.
fn recreate(socket_dir: &str, direct: &str) -> Result<()> {
    let port = direct
        .rsplit_once('@')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|authority| authority.rsplit_once(':'))
        .map(|(_, port)| port.to_owned())
        .ok_or("no port in the direct URL")?;
    for sql in [
        format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"),
        format!("CREATE DATABASE {DATABASE} OWNER medico24"),
    ] {
        process::run(
            Command::new("psql")
                .args([
                    "-h", socket_dir, "-p", &port, "-U", "postgres", "-d", "postgres",
                ])
                .args(["-v", "ON_ERROR_STOP=1", "-c", &sql]),
        )?;
    }
    Ok(())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn render(options: &Options, routes: &[Route; 3], rounds: &[[Measurement; 3]]) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Nearby 5 km ({} pharmacies), release server, wrk {} threads / {} connections, {} s per run; \
         the three paths alternate in {} rounds, each server on the same TLS-only PostgreSQL \
         (`cargo xtask bench --data-tier`). Ratios are against the first path of the same round.\n",
        options.pharmacies,
        options.threads,
        options.connections,
        options.duration_secs,
        rounds.len()
    );
    let _ = writeln!(
        text,
        "| round | {} | {} | {} |",
        routes[0].name, routes[1].name, routes[2].name
    );
    let _ = writeln!(text, "|---|---|---|---|");
    let mut ratios = [Vec::new(), Vec::new()];
    for (index, round) in rounds.iter().enumerate() {
        let base = round[0].requests_per_sec.max(f64::EPSILON);
        let mut cells = Vec::new();
        for (column, m) in round.iter().enumerate() {
            let ratio = m.requests_per_sec / base;
            if let Some(list) = column.checked_sub(1).and_then(|i| ratios.get_mut(i)) {
                list.push(ratio);
            }
            let share = if column == 0 {
                String::new()
            } else {
                format!(" ({:.0} %)", ratio * 100.0)
            };
            cells.push(format!(
                "{:.0} req/s{share}, p50 {}, {} errors",
                m.requests_per_sec,
                super::format_latency(m.p50_us),
                m.errors
            ));
        }
        let _ = writeln!(text, "| {} | {} |", index + 1, cells.join(" | "));
    }
    let [wrapped, pooled] = ratios;
    let _ = writeln!(
        text,
        "\nMedian share of direct TLS: pooler mode without a pooler **{:.0} %**, through \
         PgBouncer + TLS **{:.0} %**.",
        median(wrapped) * 100.0,
        median(pooled) * 100.0
    );
    text
}

#[cfg(test)]
mod tests {
    use super::{median, with_database};

    #[test]
    fn the_database_name_is_replaced_and_the_options_kept() {
        assert_eq!(
            with_database(
                "postgresql://u:p@localhost:56432/medico24?sslmode=verify-full",
                "b"
            ),
            "postgresql://u:p@localhost:56432/b?sslmode=verify-full"
        );
    }

    #[test]
    fn the_median_of_three_is_the_middle_one() {
        assert_eq!(median(vec![0.9, 0.5, 0.7]), 0.7);
    }
}
