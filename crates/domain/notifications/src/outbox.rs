//! The consumer of the transactional outbox: one pass claims due events, settles each in its
//! own transaction (notification created, or skipped by the reminder and preference rules) and
//! sends what was created; reminders are reported to the [`ReminderObserver`].

use std::sync::Arc;

use medico24_kernel::Clock;

use crate::ports::{NotificationRepository, OutboxSettlement, PortError, PushSender};
use crate::preferences::{SkipReason, outbox_skip};
use crate::service::{
    Job, NotificationService, OUTBOX_CLAIM, OutboxReport, outbox_backoff, outbox_notification,
};

/// What happened to one due reminder (`medico24_reminders_sent_total`,
/// `medico24_reminders_skipped_total{reason}`, `medico24_reminder_lag_seconds`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReminderMetric {
    /// Its notification was created; `lag_seconds` = creation time − due time.
    Sent {
        /// Seconds between the due time and the send (≥ 0).
        lag_seconds: f64,
    },
    /// Processed without a notification.
    Skipped(SkipReason),
}

/// Told every reminder sent or skipped.
pub type ReminderObserver = Arc<dyn Fn(ReminderMetric) + Send + Sync>;

impl<R, S, C> NotificationService<R, S, C>
where
    R: NotificationRepository,
    S: PushSender,
    C: Clock,
{
    /// One outbox pass: claim up to 20 due events, settle each in its own transaction (a
    /// reminder of an inactive or started appointment, or an event of a kind its recipient
    /// turned off, is processed without a notification), then send what was created. An event
    /// whose transaction fails is released with backoff; an event whose payload is unusable is
    /// given up with its reason.
    ///
    /// # Errors
    /// [`PortError`] when the claim itself fails.
    pub async fn process_outbox(&self) -> Result<OutboxReport, PortError> {
        let events = self
            .repo
            .claim_outbox(OUTBOX_CLAIM, self.clock.now())
            .await?;
        let mut report = OutboxReport {
            claimed: events.len(),
            ..OutboxReport::default()
        };
        let mut jobs = Vec::with_capacity(events.len());
        for event in events {
            let notification = match outbox_notification(&event) {
                Ok(notification) => notification,
                Err(reason) => {
                    tracing::warn!(outbox.id = %event.id, event_type = %event.event_type, reason, "outbox event has an unusable payload; giving it up");
                    report.abandoned += 1;
                    if let Err(error) = self
                        .repo
                        .abandon_outbox_event(event.id, OUTBOX_CLAIM.max_attempts, reason)
                        .await
                    {
                        tracing::error!(outbox.id = %event.id, error = %error, "could not give up an outbox event");
                    }
                    continue;
                }
            };
            let now = self.clock.now();
            match self
                .repo
                .settle_outbox_event(
                    event.id,
                    &notification,
                    move |context| outbox_skip(context, now),
                    now,
                )
                .await
            {
                Ok(OutboxSettlement::Sent { prepared, context }) => {
                    report.processed += 1;
                    if let Some(due) = context.reminder.and_then(|r| r.due_at()) {
                        let lag = (now - due).num_milliseconds().max(0) as f64 / 1000.0;
                        self.observe_reminder(ReminderMetric::Sent { lag_seconds: lag });
                    }
                    jobs.push(Job::from(prepared));
                }
                Ok(OutboxSettlement::Skipped { reason, context }) => {
                    report.skipped += 1;
                    tracing::debug!(outbox.id = %event.id, event_type = %event.event_type, reason = reason.as_str(), "outbox event skipped");
                    if context.reminder.is_some() {
                        self.observe_reminder(ReminderMetric::Skipped(reason));
                    }
                }
                Ok(OutboxSettlement::Gone) => {
                    tracing::debug!(outbox.id = %event.id, "outbox event already processed, removed or moved elsewhere");
                }
                Err(error) => {
                    report.retried += 1;
                    let delay = outbox_backoff(event.attempts);
                    tracing::warn!(outbox.id = %event.id, attempts = event.attempts, error = %error, retry_in_s = delay.num_seconds(), "outbox event failed; will retry");
                    if let Err(error) = self
                        .repo
                        .retry_outbox_event(event.id, delay, &error.to_string(), self.clock.now())
                        .await
                    {
                        // The lease expires in a minute and the event is picked up again.
                        tracing::error!(outbox.id = %event.id, error = %error, "could not release an outbox event");
                    }
                }
            }
        }
        self.deliver_new(jobs).await;
        Ok(report)
    }

    fn observe_reminder(&self, metric: ReminderMetric) {
        if let Some(observer) = &self.reminders {
            observer(metric);
        }
    }
}
