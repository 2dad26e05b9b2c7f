//! `cargo xtask`: project automation for the Medico24 backend (run, test, bench, seed, openapi).
//!
//! Standard library only, so it compiles in seconds. Arguments are parsed by hand; every external
//! step is echoed as `$ command` before it runs.
#![expect(
    clippy::print_stdout,
    reason = "xtask is a command-line tool: stdout is its user interface"
)]

mod bench;
mod config;
mod ops;
mod process;
mod schemathesis;
mod server;
mod services;
mod tasks;
mod topology;

use std::fmt::Display;
use std::process::ExitCode;
use std::str::FromStr;

/// Errors are messages with their context already attached (`what failed: why`).
pub type Result<T> = std::result::Result<T, String>;

/// Attaches a description of what was being done to an error.
pub trait Context<T> {
    /// Prefixes the error with `what`.
    fn context(self, what: impl Display) -> Result<T>;
    /// Prefixes the error with the message built by `what` (only on error).
    fn with_context<S: Display>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Display) -> Result<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }

    fn with_context<S: Display>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| format!("{}: {e}", what()))
    }
}

const HELP: &str = "\
cargo xtask: Medico24 backend automation

USAGE:
    cargo xtask <COMMAND> [OPTIONS]

COMMANDS:
    run       Start PostgreSQL/Redis if needed, migrate, seed and serve the API (foreground)
    test      Run every test: cargo nextest, then schemathesis against a live server
    seed      Migrate and seed a database
    bench     Load-test the release server with wrk; writes docs/benchmarks.md
    openapi   Write the server's OpenAPI document to docs/openapi.json
    ops       Check deploy/: promtool, Compose, kustomize, structural checks
    services  Only check/start PostgreSQL (with PostGIS) and Redis
    topology  Start/stop the local copy of the production tier (TLS PostgreSQL + replica,
              PgBouncer, TLS Redis Cluster, 3 API replicas behind HAProxy)
    help      Show this text (`cargo xtask <COMMAND> --help` shows a command's options)

Services: PostgreSQL (with PostGIS) and Redis on 127.0.0.1 are started, and installed with
apt-get, only when they are missing. Database URLs that point elsewhere are only checked.

ENVIRONMENT:
    XTASK_SERVER_BIN   use this medico24 binary instead of building one with cargo
";

const RUN_HELP: &str = "\
cargo xtask run [--port N] [--pharmacies N] [--release]

Prepares PostgreSQL/PostGIS and Redis, creates the database if missing, builds the server,
runs `medico24 migrate` and `medico24 seed`, then replaces itself with `medico24 serve`.

OPTIONS:
    --port N          Port to listen on (default: $PORT, else 8000)
    --pharmacies N    Pharmacies to seed (default: $SEED_PHARMACIES, else 10000)
    --release         Build and run the release profile

Development defaults are passed only for variables that neither the environment nor ./.env
sets: ENVIRONMENT=development HOST=127.0.0.1 PORT=8000
DATABASE_URL=postgres://postgres@127.0.0.1:5432/medico24 REDIS_URL=redis://127.0.0.1:6379
JWT_SECRET_KEY, JWT_REFRESH_SECRET_KEY (development keys) FIREBASE_PROJECT_ID=medico24-dev
FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099 LOG_FORMAT=pretty CORS_ORIGINS=http://localhost:3000
";

const TEST_HELP: &str = "\
cargo xtask test [--no-schemathesis | --only-schemathesis] [--no-topology] [-- NEXTEST_ARGS...]

1. Prepares PostgreSQL/PostGIS and Redis, and the data tier of the local production topology
   (deploy/topology: TLS-only PostgreSQL with a streaming replica, PgBouncer in transaction
   mode, TLS Redis and a TLS Redis Cluster) for the `data_tier` tests.
2. cargo nextest run --workspace --no-fail-fast NEXTEST_ARGS
   (with MEDICO24_TEST_DATABASE_URL, MEDICO24_TEST_REDIS_URL defaulting to the local services)
3. ops: the checks of `cargo xtask ops` on deploy/ (promtool, which the nextest ops tests also
   need, is installed before phase 2).
4. topology: three debug API replicas behind HAProxy on that data tier, then the end-to-end
   flows and fault drills (`cargo xtask topology test --debug`).
5. schemathesis (PyPI, in target/schemathesis-venv) against a live debug server using database
   medico24_schemathesis: fails on any 5xx and on responses that do not match the schema.
All phases always run; the exit status is non-zero if any failed. The topology is left running
(`cargo xtask topology down` stops it).

OPTIONS:
    --no-schemathesis     Skip phase 5
    --only-schemathesis   Skip phases 2, 3 and 4
    --no-topology         Skip phase 4

ENVIRONMENT:
    MEDICO24_TEST_DATABASE_URL   default postgres://postgres@127.0.0.1:5432/postgres
    MEDICO24_TEST_REDIS_URL      default redis://127.0.0.1:6379
    SCHEMATHESIS_AUTH_HEADER     header sent with every request, e.g. 'Authorization: Bearer …'
                                 (a value without ':' is sent as the Authorization header)
    SCHEMATHESIS_MAX_EXAMPLES    test cases per operation (default 30)
    SCHEMATHESIS_WORKERS         concurrent workers (default 2)
    SCHEMATHESIS_EXTRA_ARGS      more arguments for `schemathesis run`, split on whitespace
";

const SEED_HELP: &str = "\
cargo xtask seed [--pharmacies N] [--database-url URL] [--release]

Prepares the services, creates the database if missing, runs `medico24 migrate` and
`medico24 seed`.

OPTIONS:
    --pharmacies N        Pharmacies to seed (default: $SEED_PHARMACIES, else 10000)
    --database-url URL    Database to seed (default: $DATABASE_URL or ./.env, else the local
                          postgres://postgres@127.0.0.1:5432/medico24)
    --release             Use the release build
";

const BENCH_HELP: &str = "\
cargo xtask bench [--pharmacies N] [--duration SECS] [--threads N] [--connections N] [--soak-minutes M [--soak-rate R]] [--data-tier] [--scale [--scale-factor F]] [--events [--streams N] [--event-changes N]] [--export [--export-notifications N]]

Builds the release server, recreates database medico24_bench on the test database server
($MEDICO24_TEST_DATABASE_URL, default local), migrates and seeds it, starts the server on a free
port and runs wrk (installed with apt-get if missing) against each case in xtask/src/bench.rs.
The database also gets 1,000 users and 50,000 appointments; authenticated cases log in as seeded
users. After the cases, pgbench runs the nearby SQL alone (the database ceiling). Writes the results
between <!-- bench:begin --> and <!-- bench:end --> in docs/benchmarks.md. With --soak-minutes M,
runs a fixed request mix at a fixed offered rate (--soak-rate) for M minutes instead, sampling RSS
and open sockets every 30 s, and writes between <!-- soak:begin --> and <!-- soak:end -->.

OPTIONS:
    --pharmacies N     Pharmacies to seed (default 10000)
    --duration SECS    Load duration per case (default 10)
    --threads N        wrk threads (default 2)
    --connections N    wrk connections (default 64)
    --soak-minutes M   Run the soak for M minutes instead of the cases
    --soak-rate R      Requests per second the soak offers (default 1000)
    --data-tier        Instead of the cases: nearby 5 km through PgBouncer (transaction mode) + TLS
                       against the same TLS-only PostgreSQL reached directly, rounds alternating
                       (starts the topology's data tier); writes between <!-- tier:begin --> and
                       <!-- tier:end -->
    --scale            Cost growth: measures every case on the seeded database (database
                       medico24_bench_scale), tops the same database up to 1,000,000 users,
                       5,000,000 appointments and 1,000,000 pharmacies (batched INSERT ... SELECT
                       generate_series, progress bar; about 12 min on two shared cores),
                       measures every case
                       again and writes p50 small, p50 at scale and their ratio against the target
                       (admin cases <= 1.5x, the others <= 2x) between <!-- bench-scale:start -->
                       and <!-- bench-scale:end -->
    --scale-factor F   With --scale: multiply the large sizes by F in (0, 1] to check the code path
                       quickly (e.g. 0.02 with --duration 2); the table then goes only to
                       target/bench-scale/scale.md
    --events           Live events instead of the cases: N Server-Sent Events streams (--streams,
                       default 1000, 100 per seeded patient) held open while the patients'
                       appointments change --event-changes times (default 200); events delivered
                       per second, delivery delay and the server's RSS with the streams open,
                       written between <!-- events:begin --> and <!-- events:end -->
    --export           The personal data export instead of the cases: one seeded patient given
                       --export-notifications notifications (default 100000) with a delivery each
                       exports everything; time, document size and the server's peak RSS against
                       the document's size, written between <!-- export:begin --> and
                       <!-- export:end -->
";

const SERVICES_HELP: &str = "\
cargo xtask services

Checks PostgreSQL (with PostGIS) and Redis, starting them (and installing them with apt-get) only
when they are local and missing; what `run`, `seed`, `test` and `bench` do first. Uses
$MEDICO24_TEST_DATABASE_URL / $MEDICO24_TEST_REDIS_URL, defaulting to the local services.
";

const OPENAPI_HELP: &str = "\
cargo xtask openapi

Builds the server and writes the output of `medico24 openapi` to docs/openapi.json.
";

/// Hand-parsed arguments of one subcommand: options are taken out one by one, and whatever is
/// left at the end is an error. Everything after the first `--` is kept apart, untouched.
pub struct Args {
    rest: Vec<String>,
    passthrough: Vec<String>,
}

impl Args {
    fn new(mut args: Vec<String>) -> Self {
        let passthrough = match args.iter().position(|a| a == "--") {
            Some(i) => {
                let tail = args.split_off(i);
                tail.into_iter().skip(1).collect()
            }
            None => Vec::new(),
        };
        Self {
            rest: args,
            passthrough,
        }
    }

    /// Whether the flag `name` was given (removes it).
    pub fn flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        before != self.rest.len()
    }

    /// The value of `--name VALUE` or `--name=VALUE` (the last one wins).
    pub fn value(&mut self, name: &str) -> Result<Option<String>> {
        let prefix = format!("{name}=");
        let mut found = None;
        let mut i = 0;
        while i < self.rest.len() {
            if self.rest[i] == name {
                if i + 1 >= self.rest.len() {
                    return Err(format!("{name} needs a value"));
                }
                found = Some(self.rest.remove(i + 1));
                self.rest.remove(i);
            } else if let Some(value) = self.rest[i].strip_prefix(&prefix) {
                found = Some(value.to_owned());
                self.rest.remove(i);
            } else {
                i += 1;
            }
        }
        Ok(found)
    }

    /// A numeric option.
    pub fn number<T>(&mut self, name: &str) -> Result<Option<T>>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.value(name)?
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| format!("{name} {v}: not a valid number ({e})"))
            })
            .transpose()
    }

    /// The first argument that is not an option (removes it): a subcommand's action.
    pub fn action(&mut self) -> Option<String> {
        let i = self.rest.iter().position(|a| !a.starts_with('-'))?;
        Some(self.rest.remove(i))
    }

    /// The arguments after `--`.
    pub fn passthrough(&mut self) -> Vec<String> {
        std::mem::take(&mut self.passthrough)
    }

    /// Fails on anything that was not taken out.
    pub fn finish(self) -> Result<()> {
        if !self.rest.is_empty() {
            return Err(format!(
                "unexpected argument(s): {} (see --help)",
                self.rest.join(" ")
            ));
        }
        if !self.passthrough.is_empty() {
            return Err(format!(
                "this command takes nothing after `--` (got: {})",
                self.passthrough.join(" ")
            ));
        }
        Ok(())
    }
}

fn command_help(command: &str) -> Option<&'static str> {
    Some(match command {
        "run" => RUN_HELP,
        "test" => TEST_HELP,
        "seed" => SEED_HELP,
        "bench" => BENCH_HELP,
        "openapi" => OPENAPI_HELP,
        "ops" => ops::HELP,
        "services" => SERVICES_HELP,
        "topology" => topology::HELP,
        _ => return None,
    })
}

fn dispatch(mut argv: Vec<String>) -> Result<()> {
    if argv.is_empty() {
        print!("{HELP}");
        return Ok(());
    }
    let command = argv.remove(0);
    if matches!(command.as_str(), "help" | "-h" | "--help") {
        match argv.first().and_then(|c| command_help(c)) {
            Some(text) => print!("{text}"),
            None => print!("{HELP}"),
        }
        return Ok(());
    }
    let Some(help) = command_help(&command) else {
        return Err(format!(
            "unknown command `{command}`; try `cargo xtask --help`"
        ));
    };
    let mut args = Args::new(argv);
    if args.flag("--help") || args.flag("-h") {
        print!("{help}");
        return Ok(());
    }
    match command.as_str() {
        "run" => tasks::run(args),
        "test" => tasks::test(args),
        "seed" => tasks::seed(args),
        "bench" => bench::bench(args),
        "openapi" => tasks::openapi(args),
        "ops" => ops::ops(args),
        "services" => tasks::services(args),
        "topology" => topology::topology(args),
        _ => Err(format!("unknown command `{command}`")),
    }
}

fn main() -> ExitCode {
    match dispatch(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nxtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        Args::new(list.iter().map(|a| (*a).to_owned()).collect())
    }

    #[test]
    fn options_flags_and_passthrough_are_separated() {
        let mut a = args(&["--port", "9000", "--release", "--", "--port", "x"]);
        assert_eq!(a.number::<u16>("--port").unwrap(), Some(9000));
        assert!(a.flag("--release"));
        assert_eq!(a.passthrough(), ["--port", "x"]);
        assert!(a.finish().is_ok());
    }

    #[test]
    fn equals_form_and_errors() {
        let mut a = args(&["--pharmacies=5"]);
        assert_eq!(a.number::<u32>("--pharmacies").unwrap(), Some(5));
        assert!(args(&["--port"]).value("--port").is_err());
        assert!(args(&["--port", "x"]).number::<u16>("--port").is_err());
        assert!(args(&["--bogus"]).finish().is_err());
        assert!(args(&["--", "x"]).finish().is_err());
    }
}
