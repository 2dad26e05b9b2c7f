//! The nearby search against its database ceiling: pgbench runs of the same statement,
//! alternated with the API case.

use super::*;

/// Alternate rounds of the nearby 5 km case and its pgbench ceiling.
pub(super) const PAIRED_ROUNDS: usize = 5;

/// The nearby 5 km case against the database ceiling.
pub(super) struct Ceiling {
    /// `(clients, tps)` of each pgbench client count tried.
    pub(super) runs: Vec<(usize, f64)>,
    /// The client count with the best tps, used in the paired rounds.
    pub(super) clients: usize,
    /// `(API req/s, pgbench tps)` of each round, measured one right after the other so that both
    /// see the shared machine in the same state.
    pub(super) pairs: Vec<(f64, f64)>,
}

impl Ceiling {
    /// The API's share of the ceiling: the median over the paired rounds, in percent.
    pub(super) fn median_share(&self) -> Option<f64> {
        let mut shares: Vec<f64> = self
            .pairs
            .iter()
            .map(|(rps, tps)| share(*rps, *tps))
            .collect();
        shares.sort_by(f64::total_cmp);
        shares.get(shares.len() / 2).copied()
    }

    /// The paragraph under the table.
    pub(super) fn describe(&self, options: &Options) -> String {
        let best = self.runs.iter().map(|(_, tps)| *tps).fold(0.0, f64::max);
        let each = self
            .runs
            .iter()
            .map(|(clients, tps)| format!("{clients} clients {tps:.0} tps"))
            .collect::<Vec<_>>()
            .join(", ");
        let rounds = self
            .pairs
            .iter()
            .map(|(rps, tps)| format!("{rps:.0} / {tps:.0} = {:.0} %", share(*rps, *tps)))
            .collect::<Vec<_>>()
            .join("; ");
        let median = self
            .median_share()
            .map_or_else(String::new, |share| format!(" — **median {share:.0} %**"));
        format!(
            "Database ceiling: the nearby 5 km statement alone through pgbench (prepared, {} s per run; {each}) runs at best at {best:.0} tps. \
             Nearby 5 km against it, the API and pgbench ({} clients) run one after the other, {} rounds (API req/s / pgbench tps): {rounds}{median}.",
            options.duration_secs,
            self.clients,
            self.pairs.len(),
        )
    }
}

/// The API's req/s as a percentage of pgbench's tps.
pub(super) fn share(requests_per_sec: f64, tps: f64) -> f64 {
    requests_per_sec * 100.0 / tps.max(1.0)
}

/// Finds the best pgbench client count for the nearby statement, then measures the API's
/// nearby 5 km case and pgbench alternately ([`PAIRED_ROUNDS`] rounds). The server must be up
/// and otherwise idle.
pub(super) fn nearby_against_ceiling(
    database_url: &str,
    work: &Path,
    options: &Options,
    port: u16,
    pid: u32,
    ids: &[String],
) -> Result<Ceiling> {
    wait_until_idle(pid);
    let script = write_nearby_script(work)?;
    let runs = pgbench_nearby(&script, database_url, options)?;
    let clients = runs
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(16, |(clients, _)| *clients);
    let nearby = CASES
        .iter()
        .find(|c| c.name == "pharmacy-nearby-5km")
        .ok_or("the nearby 5 km case is missing")?;
    let mut pairs = Vec::with_capacity(PAIRED_ROUNDS);
    for _ in 0..PAIRED_ROUNDS {
        wait_until_idle(pid);
        let api = run_case(nearby, port, options, work, ids, None)?;
        wait_until_idle(pid);
        let tps = pgbench_run(&script, database_url, options, clients)?;
        pairs.push((api.requests_per_sec, tps));
    }
    Ok(Ceiling {
        runs,
        clients,
        pairs,
    })
}

/// The nearby 5 km statement the API runs for the first page (`NearbyStatement` in
/// `crates/adapters/postgres/src/pharmacies/nearby.rs`: the index-ordered KNN scan over
/// `idx_pharmacy_geo` with each row's location, `limit + 1` rows, and the hours of each as
/// arrays), through pgbench as the server sends it: a prepared statement with every value a bind
/// parameter (`-M prepared`, pgbench's `:variables`): the database's own ceiling for that
/// endpoint on this machine. Writes the pgbench script and returns its path.
pub(super) fn write_nearby_script(work: &Path) -> Result<std::path::PathBuf> {
    if which("pgbench").is_none() {
        return Err("pgbench is not installed".to_owned());
    }
    let script = work.join("nearby.sql");
    let point = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography";
    fs::write(
        &script,
        format!(
            "\\set lon 72.8777\n\\set lat 19.0760\n\\set radius 5000\n\\set active 1\n\\set fetch 21\n\
             SELECT c.*, hours.* FROM (\n\
             SELECT p.id, p.name, p.description, p.phone, p.email, p.is_verified, p.is_active,\n\
               p.rating::float8 AS rating, p.rating_count, p.supports_delivery, p.supports_pickup,\n\
               p.timezone, p.created_at, p.updated_at, l.id AS location_id,\n\
               l.address_line AS location_address_line, l.city AS location_city,\n\
               l.state AS location_state, l.country AS location_country,\n\
               l.pincode AS location_pincode, l.latitude AS location_latitude,\n\
               l.longitude AS location_longitude, l.created_at AS location_created_at,\n\
               (l.geo <-> {point}) AS knn_m,\n\
               ST_Distance(l.geo, {point}, false) / 1000.0 AS distance_km\n\
             FROM pharmacy_locations l JOIN pharmacies p ON p.id = l.pharmacy_id\n\
             WHERE l.geo && _ST_Expand({point}, :radius)\n\
               AND _ST_DWithin(l.geo, {point}, :radius, false) AND p.is_active = (:active = 1)\n\
             ORDER BY l.geo <-> {point} LIMIT :fetch) c\n\
             LEFT JOIN LATERAL (SELECT array_agg(h.id) AS hour_ids,\n\
               array_agg(h.day_of_week) AS hour_days, array_agg(h.open_time) AS hour_opens,\n\
               array_agg(h.close_time) AS hour_closes, array_agg(h.is_closed) AS hour_closed\n\
             FROM pharmacy_hours h WHERE h.pharmacy_id = c.id) hours ON true;\n"
        ),
    )
    .with_context(|| format!("writing {}", script.display()))?;
    Ok(script)
}

/// pgbench over `script` with each of [`pgbench_client_counts`]: `(clients, tps)` each.
pub(super) fn pgbench_nearby(
    script: &Path,
    database_url: &str,
    options: &Options,
) -> Result<Vec<(usize, f64)>> {
    pgbench_client_counts()
        .into_iter()
        .map(|clients| {
            Ok((
                clients,
                pgbench_run(script, database_url, options, clients)?,
            ))
        })
        .collect()
}

/// tps of one pgbench run of `script` with `clients` clients.
pub(super) fn pgbench_run(
    script: &Path,
    database_url: &str,
    options: &Options,
    clients: usize,
) -> Result<f64> {
    let clients = clients.to_string();
    let output = process::output(
        Command::new("pgbench")
            .args([
                "-n",
                "-M",
                "prepared",
                "-c",
                &clients,
                "-j",
                "2",
                "-T",
                &options.duration_secs.to_string(),
                "-f",
            ])
            .arg(script)
            .arg(database_url),
    )?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| line.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .ok_or_else(|| {
            format!(
                "no tps in pgbench output: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )
        })
}

/// The pgbench client counts the ceiling is the best of: four per CPU, and 16.
pub(super) fn pgbench_client_counts() -> Vec<usize> {
    let per_cpu = 4 * std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let mut counts = vec![per_cpu, 16];
    counts.dedup();
    counts
}
