//! The service's Prometheus series (`medico24_*` and the HTTP series), registered once in a
//! per-application registry.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType, Summary};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every series the service exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `http_requests_total{handler,method,status}`.
    pub http_requests: IntCounterVec,
    /// `http_request_duration_seconds{handler,method}`.
    pub http_duration: HistogramVec,
    /// `http_request_duration_highr_seconds`.
    pub http_duration_highr: Histogram,
    /// `http_request_size_bytes{handler}`.
    pub http_request_size: SizeSummary,
    /// `http_response_size_bytes{handler}`.
    pub http_response_size: SizeSummary,
    /// `http_requests_inprogress{handler,method}`.
    pub http_in_progress: IntGaugeVec,
    /// `medico24_appointments_created_total{source}`.
    pub appointments_created: IntCounterVec,
    /// `medico24_appointment_status_changes_total{from,to}`.
    pub appointment_status_changes: IntCounterVec,
    /// `medico24_notifications_sent_total{outcome}`.
    pub notifications_sent: IntCounterVec,
    /// `medico24_notification_outbox_pending`.
    pub outbox_pending: IntGauge,
    /// `medico24_reminders_scheduled_total`: reminder rows written by bookings and reschedules.
    pub reminders_scheduled: IntCounter,
    /// `medico24_reminders_sent_total`: reminders that became notifications.
    pub reminders_sent: IntCounter,
    /// `medico24_reminders_skipped_total{reason}` (`inactive`, `started`, `opted_out`).
    pub reminders_skipped: IntCounterVec,
    /// `medico24_reminder_lag_seconds`: send time − due time of the reminders sent.
    pub reminder_lag: Histogram,
    /// `medico24_accounts_erased_total`: accounts whose erasure the worker completed.
    pub accounts_erased: IntCounter,
    /// `medico24_cache_requests_total{cache,result}`.
    pub cache_requests: IntCounterVec,
    /// `medico24_rate_limited_requests_total{policy}`.
    pub rate_limited: IntCounterVec,
    /// `medico24_rate_limiter_errors_total`.
    pub rate_limiter_errors: IntCounter,
    /// `medico24_external_request_duration_seconds{service,outcome}`.
    pub external_duration: HistogramVec,
    /// `medico24_db_pool_connections{state}`.
    pub db_pool_connections: IntGaugeVec,
    /// `medico24_db_pool_max_connections`.
    pub db_pool_max: IntGauge,
    /// `medico24_db_pool_wait_seconds`.
    pub db_pool_wait: Histogram,
    /// `medico24_db_replica_fallbacks_total{reason}`: reads that could have used the read
    /// replica and went to the primary (`unavailable`, `lagging`).
    pub db_replica_fallbacks: IntCounterVec,
    /// `medico24_event_streams_open`.
    pub event_streams_open: IntGauge,
    /// `medico24_event_publish_failures_total{event}`.
    pub event_publish_failures: IntCounterVec,
}

impl Metrics {
    /// Creates and registers every series (and the process collector on Linux).
    ///
    /// # Errors
    /// A registration error (a duplicate name: a programming error caught by tests).
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let duration_buckets = vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let highr_buckets = vec![
            0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5,
            5.0, 7.5, 10.0, 30.0, 60.0,
        ];
        let metrics = Self {
            http_requests: IntCounterVec::new(
                Opts::new(
                    "http_requests_total",
                    "Total number of requests by method, status and handler.",
                ),
                &["handler", "method", "status"],
            )?,
            http_duration: HistogramVec::new(
                HistogramOpts::new(
                    "http_request_duration_seconds",
                    "Latency with only few buckets by handler.",
                )
                .buckets(duration_buckets),
                &["handler", "method"],
            )?,
            http_duration_highr: Histogram::with_opts(
                HistogramOpts::new(
                    "http_request_duration_highr_seconds",
                    "Latency with many buckets but no API specific labels.",
                )
                .buckets(highr_buckets),
            )?,
            http_request_size: SizeSummary::new(
                "http_request_size_bytes",
                "Content length of incoming requests by handler. Only value of header is respected. Otherwise ignored.",
            )?,
            http_response_size: SizeSummary::new(
                "http_response_size_bytes",
                "Content length of outgoing responses by handler. Only value of header is respected. Otherwise ignored.",
            )?,
            http_in_progress: IntGaugeVec::new(
                Opts::new(
                    "http_requests_inprogress",
                    "Number of HTTP requests in progress.",
                ),
                &["handler", "method"],
            )?,
            appointments_created: IntCounterVec::new(
                Opts::new(
                    "medico24_appointments_created_total",
                    "Appointments created, by source.",
                ),
                &["source"],
            )?,
            appointment_status_changes: IntCounterVec::new(
                Opts::new(
                    "medico24_appointment_status_changes_total",
                    "Appointment status transitions.",
                ),
                &["from", "to"],
            )?,
            notifications_sent: IntCounterVec::new(
                Opts::new(
                    "medico24_notifications_sent_total",
                    "Push deliveries by outcome.",
                ),
                &["outcome"],
            )?,
            reminders_scheduled: IntCounter::new(
                "medico24_reminders_scheduled_total",
                "Appointment reminders scheduled (rows written by bookings and reschedules).",
            )?,
            reminders_sent: IntCounter::new(
                "medico24_reminders_sent_total",
                "Appointment reminders sent (notification created).",
            )?,
            reminders_skipped: IntCounterVec::new(
                Opts::new(
                    "medico24_reminders_skipped_total",
                    "Appointment reminders processed without a notification, by reason.",
                ),
                &["reason"],
            )?,
            accounts_erased: IntCounter::new(
                "medico24_accounts_erased_total",
                "Accounts whose erasure the worker completed.",
            )?,
            reminder_lag: Histogram::with_opts(
                HistogramOpts::new(
                    "medico24_reminder_lag_seconds",
                    "Seconds between a reminder's due time and its send.",
                )
                .buckets(vec![
                    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0,
                ]),
            )?,
            outbox_pending: IntGauge::new(
                "medico24_notification_outbox_pending",
                "Outbox events not yet processed.",
            )?,
            cache_requests: IntCounterVec::new(
                Opts::new(
                    "medico24_cache_requests_total",
                    "Cache lookups by cache and result.",
                ),
                &["cache", "result"],
            )?,
            rate_limited: IntCounterVec::new(
                Opts::new(
                    "medico24_rate_limited_requests_total",
                    "Requests rejected by the rate limiter.",
                ),
                &["policy"],
            )?,
            rate_limiter_errors: IntCounter::new(
                "medico24_rate_limiter_errors_total",
                "Rate-limiter failures (requests allowed because Redis failed).",
            )?,
            external_duration: HistogramVec::new(
                HistogramOpts::new(
                    "medico24_external_request_duration_seconds",
                    "Outbound calls to Google and Firebase.",
                )
                .buckets(vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
                &["service", "outcome"],
            )?,
            db_pool_connections: IntGaugeVec::new(
                Opts::new(
                    "medico24_db_pool_connections",
                    "Database pool connections by state.",
                ),
                &["state"],
            )?,
            db_pool_max: IntGauge::new(
                "medico24_db_pool_max_connections",
                "Database pool size limit.",
            )?,
            db_pool_wait: Histogram::with_opts(
                HistogramOpts::new(
                    "medico24_db_pool_wait_seconds",
                    "Time spent waiting for a database connection.",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
            )?,
            db_replica_fallbacks: IntCounterVec::new(
                Opts::new(
                    "medico24_db_replica_fallbacks_total",
                    "Reads meant for the read replica that went to the primary, by reason.",
                ),
                &["reason"],
            )?,
            event_streams_open: IntGauge::new(
                "medico24_event_streams_open",
                "Live event streams open in this process.",
            )?,
            event_publish_failures: IntCounterVec::new(
                Opts::new(
                    "medico24_event_publish_failures_total",
                    "Live events that could not be written to their user's log, by event.",
                ),
                &["event"],
            )?,
            registry,
        };
        // Both series exist from the start (at 0), so dashboards and rates see them before the
        // first fallback.
        for reason in [
            medico24_postgres::ReplicaFallback::Unavailable,
            medico24_postgres::ReplicaFallback::Lagging,
        ] {
            metrics
                .db_replica_fallbacks
                .with_label_values(&[reason.as_str()]);
        }
        metrics.register_all()?;
        Ok(metrics)
    }

    fn register_all(&self) -> Result<(), prometheus::Error> {
        let r = &self.registry;
        r.register(Box::new(self.http_requests.clone()))?;
        r.register(Box::new(self.http_duration.clone()))?;
        r.register(Box::new(self.http_duration_highr.clone()))?;
        r.register(Box::new(self.http_request_size.clone()))?;
        r.register(Box::new(self.http_response_size.clone()))?;
        r.register(Box::new(self.http_in_progress.clone()))?;
        r.register(Box::new(self.appointments_created.clone()))?;
        r.register(Box::new(self.appointment_status_changes.clone()))?;
        r.register(Box::new(self.notifications_sent.clone()))?;
        r.register(Box::new(self.outbox_pending.clone()))?;
        r.register(Box::new(self.reminders_scheduled.clone()))?;
        r.register(Box::new(self.reminders_sent.clone()))?;
        r.register(Box::new(self.reminders_skipped.clone()))?;
        r.register(Box::new(self.reminder_lag.clone()))?;
        r.register(Box::new(self.accounts_erased.clone()))?;
        r.register(Box::new(self.cache_requests.clone()))?;
        r.register(Box::new(self.rate_limited.clone()))?;
        r.register(Box::new(self.rate_limiter_errors.clone()))?;
        r.register(Box::new(self.external_duration.clone()))?;
        r.register(Box::new(self.db_pool_connections.clone()))?;
        r.register(Box::new(self.db_pool_max.clone()))?;
        r.register(Box::new(self.db_pool_wait.clone()))?;
        r.register(Box::new(self.db_replica_fallbacks.clone()))?;
        r.register(Box::new(self.event_streams_open.clone()))?;
        r.register(Box::new(self.event_publish_failures.clone()))?;
        #[cfg(target_os = "linux")]
        r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(())
    }

    /// The text exposition of every series.
    ///
    /// # Errors
    /// An encoding error (not expected with the text encoder).
    pub fn render(&self) -> Result<Vec<u8>, prometheus::Error> {
        let mut buffer = Vec::with_capacity(16 * 1024);
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        Ok(buffer)
    }
}

/// A summary without quantiles (`_sum` and `_count`) labelled by `handler`; the `prometheus`
/// crate has no summary type, and the reference's dashboards read these two series.
#[derive(Clone)]
pub struct SizeSummary {
    desc: Desc,
    series: Arc<Mutex<BTreeMap<String, (u64, f64)>>>,
}

impl SizeSummary {
    fn new(name: &str, help: &str) -> Result<Self, prometheus::Error> {
        Ok(Self {
            desc: Desc::new(
                name.to_owned(),
                help.to_owned(),
                vec!["handler".to_owned()],
                HashMap::new(),
            )?,
            series: Arc::default(),
        })
    }

    /// Records one observation of `bytes` for `handler`.
    pub fn observe(&self, handler: &str, bytes: f64) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = series.get_mut(handler) {
            entry.0 += 1;
            entry.1 += bytes;
        } else {
            series.insert(handler.to_owned(), (1, bytes));
        }
    }
}

impl Collector for SizeSummary {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let metrics = series
            .iter()
            .map(|(handler, (count, sum))| {
                let mut label = LabelPair::default();
                label.set_name("handler".to_owned());
                label.set_value(handler.clone());
                let mut summary = Summary::default();
                summary.set_sample_count(*count);
                summary.set_sample_sum(*sum);
                let mut metric = Metric::from_label(vec![label]);
                metric.set_summary(summary);
                metric
            })
            .collect();
        let mut family = MetricFamily::default();
        family.set_name(self.desc.fq_name.clone());
        family.set_help(self.desc.help.clone());
        family.set_field_type(MetricType::SUMMARY);
        family.set_metric(metrics);
        vec![family]
    }
}

/// The `method` label: one of the standard methods, else `OTHER`. A client can send any token
/// as a method; each distinct value would otherwise become a new series in `/metrics`, which
/// anyone could grow without bound.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// The status class label (`2xx` … `5xx`).
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}
