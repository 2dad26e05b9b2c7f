//! The cost growth table: p50 small against p50 at scale per case, and the extrapolated
//! top-up time.

use super::*;

/// Everything the cost growth table is made of.
pub(super) struct Report<'a> {
    pub(super) small_sizes: Sizes,
    pub(super) large_sizes: Sizes,
    pub(super) phases: &'a [Phase],
    pub(super) small: &'a [(&'static Case, Measurement)],
    pub(super) large: &'a [(&'static Case, Measurement)],
}

/// One case in one pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Pass {
    pub(super) p50_us: f64,
    pub(super) requests_per_sec: f64,
    pub(super) requests: u64,
    pub(super) errors: u64,
}

impl From<&Measurement> for Pass {
    fn from(m: &Measurement) -> Self {
        Self {
            p50_us: m.p50_us,
            requests_per_sec: m.requests_per_sec,
            requests: m.requests,
            errors: m.errors,
        }
    }
}

/// One row of the table: a case measured in both passes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Row {
    pub(super) name: &'static str,
    pub(super) small: Pass,
    pub(super) large: Pass,
    pub(super) target: f64,
}

impl Row {
    /// p50 at scale ÷ p50 small; `None` when a pass had no answer at all (every request took
    /// longer than the case ran), so there is no p50.
    pub(super) fn growth(&self) -> Option<f64> {
        (self.small.requests > 0 && self.large.requests > 0)
            .then(|| growth(self.small.p50_us, self.large.p50_us))
    }

    pub(super) fn within_target(&self) -> bool {
        self.growth().is_some_and(|g| g <= self.target)
    }

    /// The growth and verdict cells.
    pub(super) fn verdict(&self) -> (String, &'static str) {
        match self.growth() {
            Some(g) if g <= self.target => (format!("{g:.2}×"), "within"),
            Some(g) => (format!("{g:.2}×"), "**over**"),
            None => ("—".to_owned(), "**no answer in time**"),
        }
    }
}

/// The cases measured in both passes, in order.
pub(super) fn rows(
    small: &[(&'static Case, Measurement)],
    large: &[(&'static Case, Measurement)],
) -> Vec<Row> {
    small
        .iter()
        .filter_map(|(case, s)| {
            let (_, l) = large.iter().find(|(c, _)| c.name == case.name)?;
            Some(Row {
                name: case.name,
                small: s.into(),
                large: l.into(),
                target: target_for(case.name),
            })
        })
        .collect()
}

/// A p50 cell: the latency, or a dash without answers.
pub(super) fn p50_cell(pass: &Pass) -> String {
    if pass.requests == 0 {
        "—".to_owned()
    } else {
        format_latency(pass.p50_us)
    }
}

/// The markdown section.
pub(super) fn render(options: &Options, request: &Request, report: &Report<'_>) -> String {
    let command = if request.is_full() {
        "cargo xtask bench --scale".to_owned()
    } else {
        format!(
            "cargo xtask bench --scale --scale-factor {}",
            request.factor
        )
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", super::super::measured_by(&command));
    let _ = writeln!(out, "- Machine: {}", machine_description());
    let _ = writeln!(
        out,
        "- Small: {}; at scale: {}",
        report.small_sizes.describe(),
        report.large_sizes.describe()
    );
    let total: Duration = report.phases.iter().map(|p| p.elapsed).sum();
    let phases = report
        .phases
        .iter()
        .map(|p| {
            if p.step.has_rate() {
                format!(
                    "{} {} in {} ({} rows/s)",
                    p.step.name(),
                    thousands(p.rows),
                    clock(p.elapsed),
                    short(p.rate())
                )
            } else if p.rows > 0 {
                format!(
                    "{} {} in {}",
                    p.step.name(),
                    thousands(p.rows),
                    clock(p.elapsed)
                )
            } else {
                format!("{} {}", p.step.name(), clock(p.elapsed))
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let _ = writeln!(out, "- Top-up: {} in all; {phases}", clock(total));
    let _ = writeln!(
        out,
        "- Load: {}, {} threads, {} connections, {} s per case in each pass; the release server \
         restarted between the passes\n",
        wrk_version(),
        options.threads,
        options.connections,
        options.duration_secs
    );
    out.push_str(
        "| Case | p50 small | p50 at scale | Growth | Target | Verdict | Req/s small → at scale | Errors small / at scale |\n\
         |---|---:|---:|---:|---:|---|---:|---:|\n",
    );
    let rows = rows(report.small, report.large);
    for row in &rows {
        let (growth, verdict) = row.verdict();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {growth} | ≤ {}× | {verdict} | {:.0} → {:.0} | {} / {} |",
            row.name,
            p50_cell(&row.small),
            p50_cell(&row.large),
            row.target,
            row.small.requests_per_sec,
            row.large.requests_per_sec,
            row.small.errors,
            row.large.errors
        );
    }
    let within = rows.iter().filter(|r| r.within_target()).count();
    let _ = writeln!(
        out,
        "\nGrowth: p50 at scale ÷ p50 small. {within} of {} cases within target (admin cases \
         ≤ {ADMIN_TARGET}×, the others ≤ {DEFAULT_TARGET}×). A dash: no request finished within \
         the {} s of the case (wrk waits up to 10 s for an answer).",
        rows.len(),
        options.duration_secs
    );
    if let Some(drift) = rows
        .iter()
        .find(|r| r.name == "health")
        .and_then(Row::growth)
    {
        let _ = writeln!(
            out,
            "`health` answers without touching the database: its {drift:.2}× is how much this \
             machine drifted between the passes."
        );
    }
    out
}

/// How long the full top-up would take, estimated from a smaller one: the inserts at their
/// rates, the rest (doctors, index builds, vacuum) in proportion to the rows they go over.
pub(super) fn extrapolate(
    phases: &[Phase],
    small: Sizes,
    large: Sizes,
    user_base: u64,
) -> Result<String> {
    let full_target = Sizes::target(1.0);
    let full = Plan::new(small, full_target, user_base)?;
    // Rows a vacuum reads: a pharmacy comes with a location and about six hours rows.
    let weight = |s: Sizes| (s.users + s.appointments + 8 * s.pharmacies).max(1) as f64;
    let mut total = 0.0;
    let mut parts = Vec::new();
    for phase in phases {
        let secs = phase.elapsed.as_secs_f64();
        let estimate = match phase.step {
            Step::Users => full.users as f64 / phase.rate(),
            Step::Pharmacies => full.pharmacies as f64 / phase.rate(),
            Step::Appointments => full.appointments as f64 / phase.rate(),
            Step::Doctors => secs * full.doctors as f64 / phase.rows.max(1) as f64,
            Step::Rebuild => {
                secs * full_target.appointments as f64 / large.appointments.max(1) as f64
            }
            Step::Vacuum => secs * weight(full_target) / weight(large),
        };
        total += estimate;
        parts.push(format!(
            "{} {}",
            phase.step.name(),
            clock(Duration::from_secs_f64(estimate))
        ));
    }
    Ok(format!(
        "==> at these rates the full top-up ({} users, {} appointments, {} pharmacies more) would \
         take about {}: {}",
        thousands(full.users),
        thousands(full.appointments),
        thousands(full.pharmacies),
        clock(Duration::from_secs_f64(total)),
        parts.join(", ")
    ))
}

/// `1,000,000`.
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
