//! Unit tests of `NotificationService` over the in-memory fakes with a fixed clock.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use chrono::{TimeZone, Utc};
use medico24_kernel::{AuditStamp, FixedClock, PageRequest, Role, UserId};
use serde_json::json;

use crate::model::{
    BroadcastStatus, BroadcastTarget, DeliveryStatus, HistoryFilter, NotificationStatus,
    NotificationType, Platform, Priority, PushData,
};
use crate::outcome::{NO_ACTIVE_TOKENS, PROVIDER_NOT_CONFIGURED, PushOutcome, PushResult};
use crate::ports::{NotificationRepository, SendAudit};
use crate::service::*;
use crate::testing::{FakePushSender, InMemoryNotifications, contract};

type Service = NotificationService<InMemoryNotifications, FakePushSender, FixedClock>;

struct Harness {
    repo: InMemoryNotifications,
    sender: FakePushSender,
    clock: FixedClock,
    metrics: Arc<Mutex<BTreeMap<&'static str, u64>>>,
    service: Service,
}

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

fn harness_with(sender: FakePushSender) -> Harness {
    let repo = InMemoryNotifications::new();
    let clock = FixedClock::at(t0());
    let metrics: Arc<Mutex<BTreeMap<&'static str, u64>>> = Arc::default();
    let recorded = Arc::clone(&metrics);
    let observer: SendObserver = Arc::new(move |metric, n| {
        *recorded.lock().unwrap().entry(metric.as_str()).or_default() += n;
    });
    let service =
        NotificationService::new(repo.clone(), sender.clone(), clock.clone(), Some(observer));
    Harness {
        repo,
        sender,
        clock,
        metrics,
        service,
    }
}

fn harness() -> Harness {
    harness_with(FakePushSender::new())
}

impl Harness {
    fn metric(&self, name: &str) -> u64 {
        self.metrics.lock().unwrap().get(name).copied().unwrap_or(0)
    }

    async fn token(&self, user: UserId, token: &str, platform: Platform) {
        self.service
            .register_token(user, token, platform)
            .await
            .unwrap();
    }
}

fn audit(admin: UserId) -> SendAudit {
    SendAudit {
        stamp: AuditStamp::user(admin, "req-1", None),
        action: "notification.send",
    }
}

fn command(user: UserId) -> SendNotification {
    SendNotification {
        user_id: user,
        title: "Hello".into(),
        body: "World".into(),
        data: PushData::new(BTreeMap::from([("screen".to_owned(), "/home".to_owned())])).unwrap(),
        notification_type: NotificationType::Other,
        priority: Priority::Normal,
    }
}

fn failed(code: &str) -> PushResult {
    PushResult::new(PushOutcome::Failed {
        code: code.into(),
        reason: format!("{code}: try later"),
    })
}

fn invalid(code: &str) -> PushResult {
    PushResult::new(PushOutcome::InvalidToken { code: code.into() })
}

fn page() -> PageRequest {
    PageRequest::new(1, 50).unwrap()
}

/// Drives a future to completion; the fakes never wait, so one poll suffices.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the fakes never wait"),
    }
}

#[test]
fn the_fake_repository_honours_the_contract() {
    let repo = InMemoryNotifications::new();
    let (a, b) = (repo.add_user(Role::Patient), repo.add_user(Role::Patient));
    run(contract::token_ownership(&repo, a, b, t0()));
    let repo = InMemoryNotifications::new();
    let (a, b) = (repo.add_user(Role::Patient), repo.add_user(Role::Patient));
    run(contract::send_pipeline(&repo, a, b, t0()));
    let repo = InMemoryNotifications::new();
    let (a, b) = (repo.add_user(Role::Patient), repo.add_user(Role::Admin));
    run(contract::ownership(&repo, a, b, t0()));
    let repo = InMemoryNotifications::new();
    let a = repo.add_user(Role::Patient);
    repo.insert_outbox(
        a,
        "appointment_created",
        json!({"title": "t", "body": "b"}),
        t0(),
    );
    repo.insert_outbox(
        a,
        "appointment_created",
        json!({"title": "t", "body": "b"}),
        t0(),
    );
    run(contract::outbox(&repo, t0()));
    let repo = InMemoryNotifications::new();
    let (a, b) = (repo.add_user(Role::Patient), repo.add_user(Role::Patient));
    run(contract::recovery(&repo, a, b, t0()));
}

#[test]
fn a_token_registered_by_a_second_user_stops_reaching_the_first() {
    let h = harness();
    let (alice, bob, admin) = (
        h.repo.add_user(Role::Patient),
        h.repo.add_user(Role::Patient),
        h.repo.add_user(Role::Admin),
    );
    run(h.token(alice, "shared-device-token", Platform::Android));
    run(h.token(bob, "shared-device-token", Platform::Android));
    let to_alice = run(h.service.send(command(alice), &audit(admin))).unwrap();
    assert_eq!(to_alice, SendResult::default(), "0 devices for alice");
    let to_bob = run(h.service.send(command(bob), &audit(admin))).unwrap();
    assert_eq!(to_bob.success_count, 1);
    let tokens = h.repo.tokens();
    assert_eq!(tokens.iter().filter(|t| t.is_active).count(), 1);
    assert!(tokens.iter().any(|t| t.user_id == alice && !t.is_active));
}

#[test]
fn a_user_without_tokens_gets_a_failed_notification_and_zero_counts() {
    let h = harness();
    let (user, admin) = (h.repo.add_user(Role::Patient), h.repo.add_user(Role::Admin));
    let result = run(h.service.send(command(user), &audit(admin))).unwrap();
    assert_eq!(result, SendResult::default());
    let notification = &h.repo.notifications()[0];
    assert_eq!(notification.status, NotificationStatus::Failed);
    assert_eq!(
        notification.failure_reason.as_deref(),
        Some(NO_ACTIVE_TOKENS)
    );
    assert_eq!(notification.sent_at, None);
    assert_eq!(h.metric("no_tokens"), 1);
    assert!(h.sender.sent().is_empty());
    let audit = h.repo.audit_events();
    assert_eq!(audit.len(), 1, "the send is audited even without devices");
    assert_eq!(audit[0].action, "notification.send");
    assert_eq!(audit[0].resource_id, notification.id.to_string());
}

#[test]
fn mixed_outcomes_settle_deliveries_tokens_and_the_notification() {
    let h = harness();
    let (user, admin) = (h.repo.add_user(Role::Patient), h.repo.add_user(Role::Admin));
    run(h.token(user, "phone", Platform::Android));
    run(h.token(user, "tablet", Platform::Ios));
    run(h.token(user, "browser", Platform::Web));
    h.sender.script("tablet", [invalid("UNREGISTERED")]);
    h.sender.script(
        "browser",
        [PushResult {
            outcome: PushOutcome::Failed {
                code: "UNAVAILABLE".into(),
                reason: "UNAVAILABLE: The service is currently unavailable.".into(),
            },
            retries: 3,
        }],
    );
    let result = run(h.service.send(command(user), &audit(admin))).unwrap();
    assert_eq!(result.success_count, 1);
    assert_eq!(result.failure_count, 2);

    let notification = &h.repo.notifications()[0];
    assert_eq!(notification.status, NotificationStatus::PartiallyDelivered);
    assert_eq!(
        notification.failure_reason.as_deref(),
        Some("2 of 3 deliveries failed: UNREGISTERED ×1, UNAVAILABLE ×1")
    );
    assert_eq!(notification.delivered_at, Some(t0()));
    assert_eq!(notification.retry_count, 3);
    let deliveries = h.repo.deliveries();
    let by_status = |status| {
        deliveries
            .iter()
            .filter(|d| d.delivery_status == status)
            .count()
    };
    assert_eq!(by_status(DeliveryStatus::Sent), 1);
    assert_eq!(by_status(DeliveryStatus::InvalidToken), 1);
    assert_eq!(by_status(DeliveryStatus::Failed), 1);
    let sent = deliveries
        .iter()
        .find(|d| d.delivery_status == DeliveryStatus::Sent)
        .unwrap();
    assert!(
        sent.fcm_message_id
            .as_deref()
            .unwrap()
            .starts_with("projects/")
    );
    let tablet = h
        .repo
        .tokens()
        .into_iter()
        .find(|t| t.fcm_token == "tablet")
        .unwrap();
    assert!(!tablet.is_active, "the rejected token is deactivated");
    assert_eq!(h.metric("sent"), 1);
    assert_eq!(h.metric("invalid_token"), 1);
    assert_eq!(h.metric("failed"), 1);

    let messages = h.sender.sent();
    assert_eq!(messages.len(), 3);
    assert!(
        messages
            .iter()
            .all(|m| m.title == "Hello" && m.body == "World")
    );
    assert_eq!(
        messages[0].data.iter().collect::<Vec<_>>(),
        vec![("screen", "/home")]
    );
}

#[test]
fn when_every_delivery_fails_the_summary_counts_each_code() {
    let h = harness();
    let (user, admin) = (h.repo.add_user(Role::Patient), h.repo.add_user(Role::Admin));
    run(h.token(user, "a", Platform::Android));
    run(h.token(user, "b", Platform::Ios));
    h.sender.script("a", [invalid("UNREGISTERED")]);
    h.sender.script("b", [failed("UNAVAILABLE")]);
    let result = run(h.service.send(command(user), &audit(admin))).unwrap();
    assert_eq!(result.failure_count, 2);
    let notification = &h.repo.notifications()[0];
    assert_eq!(notification.status, NotificationStatus::Failed);
    assert_eq!(
        notification.failure_reason.as_deref(),
        Some("All 2 deliveries failed: UNREGISTERED ×1, UNAVAILABLE ×1")
    );
    assert_eq!(notification.delivered_at, None);
}

#[test]
fn every_success_is_delivered() {
    let h = harness();
    let (user, admin) = (h.repo.add_user(Role::Patient), h.repo.add_user(Role::Admin));
    run(h.token(user, "a", Platform::Android));
    run(h.token(user, "b", Platform::Ios));
    let result = run(h.service.send(command(user), &audit(admin))).unwrap();
    assert_eq!((result.success_count, result.failure_count), (2, 0));
    let notification = &h.repo.notifications()[0];
    assert_eq!(notification.status, NotificationStatus::Delivered);
    assert_eq!(notification.failure_reason, None);
    assert_eq!(notification.delivered_at, Some(t0()));
}

#[test]
fn without_credentials_every_delivery_is_recorded_failed_and_nothing_errors() {
    let h = harness_with(FakePushSender::disabled());
    let (user, admin) = (h.repo.add_user(Role::Patient), h.repo.add_user(Role::Admin));
    run(h.token(user, "a", Platform::Android));
    run(h.token(user, "b", Platform::Web));
    let result = run(h.service.send(command(user), &audit(admin))).unwrap();
    assert_eq!((result.success_count, result.failure_count), (0, 2));
    assert!(h.sender.sent().is_empty(), "nothing reaches the sender");
    let notification = &h.repo.notifications()[0];
    assert_eq!(notification.status, NotificationStatus::Failed);
    assert_eq!(
        notification.failure_reason.as_deref(),
        Some(PROVIDER_NOT_CONFIGURED)
    );
    assert!(h.repo.deliveries().iter().all(|d| {
        d.delivery_status == DeliveryStatus::Failed
            && d.failure_reason.as_deref() == Some(PROVIDER_NOT_CONFIGURED)
    }));
    assert!(
        h.repo.tokens().iter().all(|t| t.is_active),
        "tokens stay active"
    );
    assert_eq!(h.metric("disabled"), 2);
    assert_eq!(h.metric("failed"), 0);
}

#[test]
fn sending_to_an_unknown_user_is_refused_before_anything_is_written() {
    let h = harness();
    let admin = h.repo.add_user(Role::Admin);
    let error = run(h.service.send(command(UserId::new_v7()), &audit(admin))).unwrap_err();
    assert!(matches!(error, SendError::UserNotFound));
    assert!(h.repo.notifications().is_empty());
    assert!(h.repo.audit_events().is_empty());
}

fn appointment_payload() -> serde_json::Value {
    json!({
        "title": "Appointment Scheduled",
        "body": "Appointment with Dr. Rao on Jan 01, 10:00 AM IST",
        "notification_type": "appointment_confirmation",
        "priority": "normal",
        "data": {"type": "appointment_created", "appointment_id": "a-1", "screen": "/appointments"}
    })
}

#[test]
fn an_outbox_event_yields_one_notification_with_a_delivery_per_active_token() {
    let h = harness();
    let user = h.repo.add_user(Role::Patient);
    run(h.token(user, "phone", Platform::Android));
    run(h.token(user, "browser", Platform::Web));
    let event = h
        .repo
        .insert_outbox(user, "appointment_created", appointment_payload(), t0());
    let report = run(h.service.process_outbox()).unwrap();
    assert_eq!(report.claimed, 1);
    assert_eq!(report.processed, 1);

    let notifications = h.repo.notifications();
    assert_eq!(notifications.len(), 1);
    let notification = &notifications[0];
    assert_eq!(notification.title, "Appointment Scheduled");
    assert_eq!(
        notification.notification_type,
        NotificationType::AppointmentConfirmation
    );
    assert_eq!(notification.status, NotificationStatus::Delivered);
    assert_eq!(
        notification.metadata,
        Some(json!({"outbox_id": event.to_string()}))
    );
    assert_eq!(h.repo.deliveries().len(), 2);
    let row = &h.repo.outbox()[0];
    assert_eq!(row.processed_at, Some(t0()));
    assert_eq!(row.notification_id, Some(notification.id));
    let sent = h.sender.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].data.iter().collect::<Vec<_>>(),
        vec![
            ("appointment_id", "a-1"),
            ("screen", "/appointments"),
            ("type", "appointment_created")
        ]
    );
    assert_eq!(
        run(h.service.process_outbox()).unwrap().claimed,
        0,
        "processed once"
    );
    assert_eq!(run(h.service.outbox_pending()).unwrap(), 0);
}

#[test]
fn an_outbox_event_whose_transaction_fails_is_retried_with_backoff() {
    let h = harness();
    let user = h.repo.add_user(Role::Patient);
    h.repo
        .insert_outbox(user, "appointment_created", appointment_payload(), t0());
    h.repo.fail_writes_for(user);
    let report = run(h.service.process_outbox()).unwrap();
    assert_eq!(report.retried, 1);
    let row = &h.repo.outbox()[0];
    assert_eq!(row.attempts, 1);
    assert_eq!(row.available_at, t0() + chrono::Duration::seconds(2));
    assert_eq!(row.locked_until, None);
    assert!(row.last_error.is_some());
    assert_eq!(
        run(h.service.process_outbox()).unwrap().claimed,
        0,
        "not yet available"
    );
    h.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(run(h.service.process_outbox()).unwrap().claimed, 1);
    assert_eq!(h.repo.outbox()[0].attempts, 2);
}

#[test]
fn an_outbox_event_is_given_up_after_ten_attempts() {
    let h = harness();
    let user = h.repo.add_user(Role::Patient);
    h.repo
        .insert_outbox(user, "appointment_created", appointment_payload(), t0());
    h.repo.fail_writes_for(user);
    for _ in 0..10 {
        assert_eq!(run(h.service.process_outbox()).unwrap().claimed, 1);
        h.clock.advance(chrono::Duration::seconds(300));
    }
    assert_eq!(run(h.service.process_outbox()).unwrap().claimed, 0);
    let row = &h.repo.outbox()[0];
    assert_eq!(row.attempts, 10);
    assert!(row.last_error.is_some(), "the last error is kept");
    assert_eq!(row.processed_at, None);
}

#[test]
fn an_unusable_outbox_payload_is_given_up_with_its_reason() {
    let h = harness();
    let user = h.repo.add_user(Role::Patient);
    h.repo.insert_outbox(
        user,
        "appointment_created",
        json!({"body": "no title"}),
        t0(),
    );
    let report = run(h.service.process_outbox()).unwrap();
    assert_eq!(report.abandoned, 1);
    let row = &h.repo.outbox()[0];
    assert_eq!(row.attempts, 10);
    assert_eq!(row.last_error.as_deref(), Some("payload has no title"));
    assert!(h.repo.notifications().is_empty());
}

#[test]
fn events_claimed_by_a_worker_that_died_are_processed_once_the_lease_passes() {
    let h = harness();
    let user = h.repo.add_user(Role::Patient);
    run(h.token(user, "phone", Platform::Android));
    for _ in 0..3 {
        h.repo
            .insert_outbox(user, "appointment_created", appointment_payload(), t0());
    }
    // The first worker claims and dies before doing anything else.
    let claimed = run(h.repo.claim_outbox(OUTBOX_CLAIM, t0())).unwrap();
    assert_eq!(claimed.len(), 3);
    assert_eq!(
        run(h.service.process_outbox()).unwrap().claimed,
        0,
        "leased"
    );
    h.clock.advance(chrono::Duration::seconds(61));
    let report = run(h.service.process_outbox()).unwrap();
    assert_eq!(report.processed, 3);
    assert_eq!(
        h.repo.notifications().len(),
        3,
        "one notification per event"
    );
    assert!(h.repo.outbox().iter().all(|row| row.processed_at.is_some()));
    assert_eq!(h.sender.sent().len(), 3);
}

#[test]
fn deliveries_left_pending_by_a_crash_are_sent_by_the_recovery_sweep() {
    let h = harness();
    let user = h.repo.add_user(Role::Patient);
    run(h.token(user, "phone", Platform::Android));
    run(h.token(user, "tablet", Platform::Ios));
    h.repo
        .insert_outbox(user, "appointment_created", appointment_payload(), t0());
    // A worker committed the notification, then died before sending.
    let claimed = run(h.repo.claim_outbox(OUTBOX_CLAIM, t0())).unwrap();
    let notification = crate::service::outbox_notification(&claimed[0]).unwrap();
    run(h
        .repo
        .complete_outbox_event(claimed[0].id, &notification, t0()))
    .unwrap()
    .unwrap();
    assert_eq!(run(h.service.recover_stalled()).unwrap(), 0, "too early");
    h.clock.advance(chrono::Duration::minutes(6));
    h.sender.script("tablet", [failed("UNAVAILABLE")]);
    assert_eq!(run(h.service.recover_stalled()).unwrap(), 1);
    let stored = h.repo.notification(notification.id).unwrap();
    assert_eq!(stored.status, NotificationStatus::PartiallyDelivered);
    assert_eq!(
        stored.failure_reason.as_deref(),
        Some("1 of 2 deliveries failed: UNAVAILABLE ×1")
    );
    assert!(
        h.repo
            .deliveries()
            .iter()
            .all(|d| d.delivery_status != DeliveryStatus::Pending)
    );
    assert_eq!(run(h.service.recover_stalled()).unwrap(), 0, "nothing left");
}

fn broadcast_command(admin: UserId, target: BroadcastTarget) -> BroadcastCommand {
    BroadcastCommand {
        title: "Maintenance".into(),
        body: "Tonight 1-2 AM".into(),
        target,
        data: PushData::default(),
        created_by: admin,
    }
}

#[test]
fn a_small_broadcast_is_sent_inside_the_call_to_its_audience_only() {
    let h = harness();
    let admin = h.repo.add_user(Role::Admin);
    let patients: Vec<UserId> = (0..3).map(|_| h.repo.add_user(Role::Patient)).collect();
    let doctor = h.repo.add_user(Role::Doctor);
    for (i, patient) in patients.iter().enumerate() {
        run(h.token(*patient, &format!("p{i}"), Platform::Android));
    }
    run(h.token(doctor, "doc", Platform::Android));
    h.sender.script("p1", [invalid("UNREGISTERED")]);
    let stamp = AuditStamp::user(admin, "req-b", None);
    let started = run(h.service.broadcast(
        broadcast_command(admin, BroadcastTarget::Patients),
        1000,
        &stamp,
    ))
    .unwrap();
    let BroadcastStarted::Completed(done) = started else {
        panic!("expected a synchronous broadcast");
    };
    assert_eq!(done.status, BroadcastStatus::Completed);
    assert_eq!(done.total_users, 3);
    assert_eq!(done.processed_users, 3);
    assert_eq!((done.success_count, done.failure_count), (2, 1));
    assert!(done.started_at.is_some() && done.completed_at.is_some());
    assert!(h.sender.sent().iter().all(|m| m.token != "doc"));
    let notifications = h.repo.notifications();
    assert_eq!(notifications.len(), 3);
    assert!(notifications.iter().all(|n| {
        n.notification_type == NotificationType::SystemAnnouncement
            && n.metadata == Some(json!({"broadcast_id": done.id.to_string()}))
    }));
    let audit = h.repo.audit_events();
    assert_eq!(audit[0].action, "broadcast.create");
}

#[test]
fn a_large_broadcast_is_queued_then_run_by_a_worker_and_resumed_without_resending() {
    let h = harness();
    let admin = h.repo.add_user(Role::Admin);
    let users: Vec<UserId> = (0..1_200).map(|_| h.repo.add_user(Role::Patient)).collect();
    for (i, user) in users.iter().enumerate() {
        run(h.token(*user, &format!("t{i}"), Platform::Android));
    }
    let stamp = AuditStamp::user(admin, "req-b", None);
    let started = run(h.service.broadcast(
        broadcast_command(admin, BroadcastTarget::Patients),
        10,
        &stamp,
    ))
    .unwrap();
    let BroadcastStarted::Queued(queued) = started else {
        panic!("expected a queued broadcast");
    };
    assert_eq!(queued.status, BroadcastStatus::Queued);
    assert_eq!(queued.total_users, 1_200);

    // A worker claims it, processes one batch, and dies.
    let mut running = run(h.service.claim_broadcast()).unwrap().unwrap();
    let step = run(h.service.advance_broadcast(&mut running)).unwrap();
    assert!(matches!(step, BroadcastStep::Progressed(p) if p.users == 500));
    assert!(
        run(h.service.claim_broadcast()).unwrap().is_none(),
        "not stale yet"
    );
    h.clock.advance(chrono::Duration::minutes(11));

    let resumed = run(h.service.claim_broadcast()).unwrap().unwrap();
    assert_eq!(resumed.id, queued.id);
    assert_eq!(resumed.processed_users, 500);
    let done = run(h.service.run_broadcast(resumed)).unwrap();
    assert_eq!(done.status, BroadcastStatus::Completed);
    assert_eq!(done.processed_users, 1_200);
    assert_eq!(done.success_count, 1_200);
    assert_eq!(done.failure_count, 0);
    let sent = h.sender.sent();
    assert_eq!(sent.len(), 1_200, "every device exactly once");
    let distinct: std::collections::HashSet<&str> = sent.iter().map(|m| m.token.as_str()).collect();
    assert_eq!(distinct.len(), 1_200);
}

#[test]
fn a_broadcast_user_whose_rows_cannot_be_written_counts_as_one_failure() {
    let h = harness();
    let admin = h.repo.add_user(Role::Admin);
    let good = h.repo.add_user(Role::Patient);
    let bad = h.repo.add_user(Role::Patient);
    run(h.token(good, "good", Platform::Android));
    run(h.token(bad, "bad", Platform::Android));
    h.repo.fail_writes_for(bad);
    let started = run(h.service.broadcast(
        broadcast_command(admin, BroadcastTarget::Patients),
        1000,
        &AuditStamp::user(admin, "req", None),
    ))
    .unwrap();
    let BroadcastStarted::Completed(done) = started else {
        panic!("expected a synchronous broadcast");
    };
    assert_eq!((done.success_count, done.failure_count), (1, 1));
    assert_eq!(done.processed_users, 2);
    assert_eq!(done.status, BroadcastStatus::Completed);
}

#[test]
fn a_worker_stopping_between_batches_requeues_its_broadcast() {
    let h = harness();
    let admin = h.repo.add_user(Role::Admin);
    h.repo.add_user(Role::Patient);
    let started = run(h.service.broadcast(
        broadcast_command(admin, BroadcastTarget::All),
        0,
        &AuditStamp::user(admin, "req", None),
    ))
    .unwrap();
    let BroadcastStarted::Queued(queued) = started else {
        panic!("expected a queued broadcast");
    };
    let claimed = run(h.service.claim_broadcast()).unwrap().unwrap();
    run(h.service.requeue_broadcast(&claimed)).unwrap();
    let again = run(h.service.claim_broadcast()).unwrap().unwrap();
    assert_eq!(again.id, queued.id, "claimable at once");
}

#[test]
fn only_owners_read_and_mark_and_admins_may_see_and_delete_any() {
    let h = harness();
    let (owner, other, admin) = (
        h.repo.add_user(Role::Patient),
        h.repo.add_user(Role::Patient),
        h.repo.add_user(Role::Admin),
    );
    run(h.service.send(command(owner), &audit(admin))).unwrap();
    let id = h.repo.notifications()[0].id;
    let viewer = |id, is_admin| Viewer { id, is_admin };
    assert!(run(h.service.detail(id, viewer(owner, false))).is_ok());
    assert!(run(h.service.detail(id, viewer(admin, true))).is_ok());
    assert!(matches!(
        run(h.service.detail(id, viewer(other, false))),
        Err(NotificationError::NotFound)
    ));
    assert!(matches!(
        run(h.service.mark_read(id, admin)),
        Err(NotificationError::NotFound)
    ));
    run(h.service.mark_read(id, owner)).unwrap();
    let stamp = AuditStamp::user(admin, "req-d", None);
    assert!(matches!(
        run(h.service.delete(id, viewer(other, false), &stamp)),
        Err(NotificationError::NotFound)
    ));
    run(h.service.delete(id, viewer(admin, true), &stamp)).unwrap();
    assert!(h.repo.notifications().is_empty());
    let deleted = h
        .repo
        .audit_events()
        .into_iter()
        .filter(|e| e.action == "notification.delete")
        .count();
    assert_eq!(deleted, 1);
}

#[test]
fn history_and_stats_are_scoped_to_the_viewer_unless_admin() {
    let h = harness();
    let (owner, other, admin) = (
        h.repo.add_user(Role::Patient),
        h.repo.add_user(Role::Patient),
        h.repo.add_user(Role::Admin),
    );
    run(h.service.send(command(owner), &audit(admin))).unwrap();
    h.clock.advance(chrono::Duration::seconds(1));
    run(h.service.send(command(owner), &audit(admin))).unwrap();
    run(h.service.send(command(other), &audit(admin))).unwrap();
    let history = run(h.service.history(owner, HistoryFilter::default(), page())).unwrap();
    assert_eq!(history.total, 2);
    assert!(
        history.items[0].created_at > history.items[1].created_at,
        "newest first"
    );
    let failed_only = HistoryFilter {
        status: Some(NotificationStatus::Delivered),
        notification_type: None,
    };
    assert_eq!(
        run(h.service.history(owner, failed_only, page()))
            .unwrap()
            .total,
        0
    );

    let mine = run(h.service.stats(
        Viewer {
            id: owner,
            is_admin: false,
        },
        30,
    ))
    .unwrap();
    assert_eq!(mine.total_count, 2);
    assert_eq!(mine.by_status.get("failed"), Some(&2));
    assert_eq!(mine.by_type.get("other"), Some(&2));
    assert_eq!(mine.by_priority.get("normal"), Some(&2));
    assert_eq!(mine.by_status.get("sent"), None, "only occurring values");
    let all = run(h.service.stats(
        Viewer {
            id: admin,
            is_admin: true,
        },
        30,
    ))
    .unwrap();
    assert_eq!(all.total_count, 3);
    h.clock.advance(chrono::Duration::days(31));
    let old = run(h.service.stats(
        Viewer {
            id: admin,
            is_admin: true,
        },
        30,
    ))
    .unwrap();
    assert_eq!(old.total_count, 0);
}

#[test]
fn outbox_backoff_doubles_up_to_five_minutes() {
    let seconds: Vec<i64> = [1, 2, 3, 8, 9, 10]
        .into_iter()
        .map(|n| outbox_backoff(n).num_seconds())
        .collect();
    assert_eq!(seconds, vec![2, 4, 8, 256, 300, 300]);
}

#[test]
fn token_tails_show_at_most_six_characters() {
    assert_eq!(token_tail("abcdefghij"), "efghij");
    assert_eq!(token_tail("abc"), "abc");
    assert_eq!(token_tail(""), "");
}

#[test]
fn the_database_being_down_surfaces_as_a_port_error() {
    let h = harness();
    let (user, admin) = (h.repo.add_user(Role::Patient), h.repo.add_user(Role::Admin));
    h.repo.fail_with_unavailable(true);
    assert!(matches!(
        run(h.service.send(command(user), &audit(admin))),
        Err(SendError::Port(crate::ports::PortError::Unavailable(_)))
    ));
    assert!(run(h.service.process_outbox()).is_err());
}

#[test]
fn sends_and_outbox_events_are_announced_to_their_recipient_after_their_outcome() {
    let mut h = harness();
    let events = crate::testing::RecordingNotificationEvents::default();
    h.service = NotificationService::new(h.repo.clone(), h.sender.clone(), h.clock.clone(), None)
        .with_events(Arc::new(events.clone()));
    let (user, admin) = (h.repo.add_user(Role::Patient), h.repo.add_user(Role::Admin));
    run(h.service.send(command(user), &audit(admin))).unwrap();
    h.repo
        .insert_outbox(user, "appointment_created", appointment_payload(), t0());
    run(h.service.process_outbox()).unwrap();
    // Refused sends announce nothing.
    run(h.service.send(command(UserId::new_v7()), &audit(admin))).unwrap_err();

    let created = events.created();
    let notifications = h.repo.notifications();
    assert_eq!(created.len(), 2, "{created:?}");
    assert!(created.iter().all(|c| c.user_id == user));
    let mut announced: Vec<_> = created.iter().map(|c| c.notification_id).collect();
    let mut stored: Vec<_> = notifications.iter().map(|n| n.id).collect();
    announced.sort();
    stored.sort();
    assert_eq!(announced, stored);
}
