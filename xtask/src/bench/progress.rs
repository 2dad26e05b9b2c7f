//! A text progress bar for the long seeding steps of `cargo xtask bench --scale`: redrawn in
//! place (`\r`) on a terminal, one line per step when stdout is a file or a pipe (logs, CI).

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

/// Width of the bar between the brackets, in characters.
const BAR_WIDTH: usize = 30;

/// Progress of one phase (e.g. "appointments") towards a known number of units.
pub(super) struct Progress {
    label: String,
    /// Shown in the rate (`rows/s`); `None` shows no rate (steps of unequal size).
    unit: Option<&'static str>,
    total: u64,
    done: u64,
    /// What is going on right now, shown after the counts (e.g. the index being built).
    note: String,
    started: Instant,
    tty: bool,
}

impl Progress {
    /// Starts a phase of `total` units and draws it (on a terminal).
    pub(super) fn start(label: impl Into<String>, unit: Option<&'static str>, total: u64) -> Self {
        let progress = Self {
            label: label.into(),
            unit,
            total,
            done: 0,
            note: String::new(),
            started: Instant::now(),
            tty: std::io::stdout().is_terminal(),
        };
        if progress.tty {
            progress.draw();
        }
        progress
    }

    /// Counts `units` more as done and redraws (a new line when stdout is not a terminal).
    pub(super) fn advance(&mut self, units: u64) {
        self.done = self.done.saturating_add(units).min(self.total);
        self.draw();
    }

    /// Sets the note shown after the counts and redraws it on a terminal; elsewhere it only
    /// prints a line when `log` is set (so that a long step does not flood a log file).
    pub(super) fn note(&mut self, note: impl Into<String>, log: bool) {
        self.note = note.into();
        if self.tty || log {
            self.draw();
        }
    }

    /// Ends the phase (the terminal line is kept); returns how long it took.
    pub(super) fn finish(self) -> Duration {
        let elapsed = self.started.elapsed();
        if self.tty {
            println!();
        }
        elapsed
    }

    fn draw(&self) {
        let mut line = render(
            &self.label,
            self.unit,
            self.done,
            self.total,
            self.started.elapsed(),
        );
        if !self.note.is_empty() {
            line.push_str("  ");
            line.push_str(&self.note);
        }
        if self.tty {
            // Padding clears what a longer previous line left behind.
            print!("\r{line:<110}");
            let _ = std::io::stdout().flush();
        } else {
            println!("{line}");
        }
    }
}

/// `[################              ]  52% appointments 2.6M/5.0M  41s  63.4k rows/s`
pub(super) fn render(
    label: &str,
    unit: Option<&str>,
    done: u64,
    total: u64,
    elapsed: Duration,
) -> String {
    let fraction = if total == 0 {
        1.0
    } else {
        (done as f64 / total as f64).clamp(0.0, 1.0)
    };
    let filled = ((fraction * BAR_WIDTH as f64).round() as usize).min(BAR_WIDTH);
    let seconds = elapsed.as_secs_f64();
    let rate = match unit {
        Some(unit) if seconds > 0.0 && done > 0 => {
            format!("  {} {unit}/s", short(done as f64 / seconds))
        }
        _ => String::new(),
    };
    format!(
        "[{}{}] {:>3.0}% {label} {}/{}  {}{rate}",
        "#".repeat(filled),
        " ".repeat(BAR_WIDTH - filled),
        fraction * 100.0,
        short(done as f64),
        short(total as f64),
        clock(elapsed),
    )
}

/// `950`, `12.5k`, `2.6M`.
pub(super) fn short(n: f64) -> String {
    if n >= 999_950.0 {
        format!("{:.1}M", n / 1e6)
    } else if n >= 1_000.0 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// `41s`, `3m07s`.
pub(super) fn clock(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    if secs < 60 {
        format!("{secs}s")
    } else {
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_shows_share_counts_time_and_rate() {
        let line = render(
            "appointments",
            Some("rows"),
            2_600_000,
            5_000_000,
            Duration::from_secs(41),
        );
        assert_eq!(
            line,
            "[################              ]  52% appointments 2.6M/5.0M  41s  63.4k rows/s"
        );
    }

    #[test]
    fn the_bar_is_empty_at_the_start_and_full_at_the_end() {
        let start = render("users", Some("rows"), 0, 990_000, Duration::ZERO);
        assert_eq!(
            start,
            format!("[{}]   0% users 0/990.0k  0s", " ".repeat(30))
        );
        let end = render(
            "users",
            Some("rows"),
            990_000,
            990_000,
            Duration::from_secs(75),
        );
        assert!(
            end.starts_with(&format!(
                "[{}] 100% users 990.0k/990.0k  1m15s",
                "#".repeat(30)
            )),
            "{end}"
        );
        // Nothing to do counts as done; more than the total is capped.
        assert!(render("x", Some("rows"), 0, 0, Duration::ZERO).contains("100%"));
        assert!(render("x", Some("rows"), 7, 5, Duration::ZERO).contains("100%"));
    }

    #[test]
    fn steps_of_unequal_size_get_no_rate() {
        assert_eq!(
            render("indexes", None, 3, 13, Duration::from_secs(9)),
            format!(
                "[{}{}]  23% indexes 3/13  9s",
                "#".repeat(7),
                " ".repeat(23)
            )
        );
    }

    #[test]
    fn counts_and_times_are_short() {
        assert_eq!(short(950.0), "950");
        assert_eq!(short(12_500.0), "12.5k");
        assert_eq!(short(999_999.0), "1.0M");
        assert_eq!(short(5_000_000.0), "5.0M");
        assert_eq!(clock(Duration::from_secs(59)), "59s");
        assert_eq!(clock(Duration::from_secs(187)), "3m07s");
    }
}
