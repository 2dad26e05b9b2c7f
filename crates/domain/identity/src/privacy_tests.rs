//! Rules of `PrivacyService` over small in-memory ports: the schedule, the order and resumption of
//! the erasure steps, failures, and what a read records.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use medico24_kernel::{FixedClock, PortError, UserId};

use crate::model::{Actor, AuditContext, AuditRecord, Session};
use crate::ports::{PersonalDataStore, PersonalTraces};
use crate::privacy::*;

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

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap()
}

/// What the fakes were asked, in order, and their state.
#[derive(Default)]
struct Log {
    users: Vec<UserId>,
    erasures: Vec<Erasure>,
    steps: Vec<String>,
    reads: Vec<AuditRecord>,
    purge_fails: bool,
}

#[derive(Clone, Default)]
struct Fakes(Arc<Mutex<Log>>);

impl Fakes {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.0.lock().unwrap()
    }
}

impl PersonalDataStore for Fakes {
    async fn request_erasure(
        &self,
        user: UserId,
        requested_by: Option<UserId>,
        due_at: DateTime<Utc>,
        _audit: &AuditContext,
        now: DateTime<Utc>,
    ) -> Result<RequestErasureOutcome, PortError> {
        let mut log = self.log();
        if !log.users.contains(&user) {
            return Ok(RequestErasureOutcome::NotFound);
        }
        if let Some(existing) = log.erasures.iter().find(|e| e.user_id == user) {
            return Ok(match existing.status {
                ErasureStatus::Pending => RequestErasureOutcome::Scheduled(existing.clone()),
                _ => RequestErasureOutcome::AlreadyErased(existing.clone()),
            });
        }
        let erasure = Erasure {
            user_id: user,
            requested_at: now,
            requested_by,
            due_at,
            status: ErasureStatus::Pending,
        };
        log.erasures.push(erasure.clone());
        Ok(RequestErasureOutcome::Scheduled(erasure))
    }

    async fn cancel_erasure(
        &self,
        user: UserId,
        _audit: &AuditContext,
        _now: DateTime<Utc>,
    ) -> Result<CancelErasureOutcome, PortError> {
        let mut log = self.log();
        if !log.users.contains(&user) {
            return Ok(CancelErasureOutcome::NotFound);
        }
        let at = log
            .erasures
            .iter()
            .position(|e| e.user_id == user && e.status == ErasureStatus::Pending);
        Ok(match at {
            Some(at) => CancelErasureOutcome::Cancelled(log.erasures.remove(at)),
            None => CancelErasureOutcome::NotPending,
        })
    }

    async fn claim_erasure(
        &self,
        now: DateTime<Utc>,
        _lease: Duration,
    ) -> Result<Option<Erasure>, PortError> {
        let mut log = self.log();
        let claimed = log
            .erasures
            .iter()
            .find(|e| e.status != ErasureStatus::Erased && e.due_at <= now)
            .cloned();
        if let Some(erasure) = &claimed {
            log.steps.push(format!("claim {}", erasure.status.as_str()));
        }
        Ok(claimed)
    }

    async fn erase_records(&self, user: UserId, _now: DateTime<Utc>) -> Result<(), PortError> {
        let mut log = self.log();
        log.steps.push("erase_records".to_owned());
        for erasure in log.erasures.iter_mut().filter(|e| e.user_id == user) {
            erasure.status = ErasureStatus::RecordsErased;
        }
        Ok(())
    }

    async fn finish_erasure(&self, user: UserId, _now: DateTime<Utc>) -> Result<(), PortError> {
        let mut log = self.log();
        log.steps.push("finish".to_owned());
        for erasure in log.erasures.iter_mut().filter(|e| e.user_id == user) {
            erasure.status = ErasureStatus::Erased;
        }
        Ok(())
    }

    async fn export_page(
        &self,
        _user: UserId,
        _section: ExportSection,
        _after: Option<&str>,
        _limit: u32,
    ) -> Result<ExportPage, PortError> {
        Ok(ExportPage {
            rows: Vec::new(),
            next: None,
        })
    }

    async fn record_access(&self, record: &AuditRecord) -> Result<(), PortError> {
        self.log().reads.push(record.clone());
        Ok(())
    }
}

impl PersonalTraces for Fakes {
    async fn sessions(&self, user: UserId) -> Result<Vec<Session>, PortError> {
        Ok(vec![Session {
            sid: uuid::Uuid::nil(),
            user_id: user,
            jti: uuid::Uuid::nil(),
            created_at: 20,
            refreshed_at: 30,
        }])
    }

    async fn purge(&self, _user: UserId) -> Result<(), PortError> {
        let mut log = self.log();
        if log.purge_fails {
            return Err(PortError::Unavailable("redis down".to_owned()));
        }
        log.steps.push("purge".to_owned());
        Ok(())
    }
}

fn audit(actor: UserId) -> AuditContext {
    AuditContext {
        actor: Actor::User(actor),
        request_id: "r".to_owned(),
        ip: None,
    }
}

fn service(grace_hours: u64) -> (PrivacyService<Fakes, Fakes, FixedClock>, Fakes, UserId) {
    let fakes = Fakes::default();
    let user = UserId::new_v7();
    fakes.log().users.push(user);
    let clock = FixedClock::at(t0());
    let service = PrivacyService::new(
        fakes.clone(),
        fakes.clone(),
        clock,
        Duration::from_secs(grace_hours * 3600),
    );
    (service, fakes, user)
}

#[test]
fn a_request_is_due_after_the_grace_and_asking_again_keeps_the_schedule() {
    let (service, fakes, user) = service(720);
    let first = run(service.request_erasure(user, &audit(user))).unwrap();
    assert_eq!(first.due_at, t0() + chrono::Duration::hours(720));
    assert_eq!(first.requested_by, None, "the user asked");
    assert_eq!(first.status, ErasureStatus::Pending);
    let again = run(service.request_erasure(user, &audit(user))).unwrap();
    assert_eq!(again, first);
    assert_eq!(
        fakes.log().steps,
        ["purge", "purge"],
        "traces purged at once"
    );
    assert_eq!(run(service.run_due()).unwrap(), 0, "not due yet");
    let admin = UserId::new_v7();
    let other = UserId::new_v7();
    fakes.log().users.push(other);
    let by_admin = run(service.request_erasure(other, &audit(admin))).unwrap();
    assert_eq!(by_admin.requested_by, Some(admin));
}

#[test]
fn refusals_name_their_reason() {
    let (service, fakes, user) = service(0);
    let stranger = UserId::new_v7();
    assert!(matches!(
        run(service.request_erasure(stranger, &audit(user))),
        Err(ErasureError::NotFound)
    ));
    assert!(matches!(
        run(service.cancel_erasure(user, &audit(user))),
        Err(ErasureError::NotPending)
    ));
    run(service.request_erasure(user, &audit(user))).unwrap();
    assert_eq!(run(service.run_due()).unwrap(), 1);
    assert!(matches!(
        run(service.request_erasure(user, &audit(user))),
        Err(ErasureError::AlreadyErased)
    ));
    assert!(matches!(
        run(service.cancel_erasure(stranger, &audit(user))),
        Err(ErasureError::NotFound)
    ));
    fakes.log().purge_fails = true;
    let other = UserId::new_v7();
    fakes.log().users.push(other);
    assert!(matches!(
        run(service.request_erasure(other, &audit(user))),
        Err(ErasureError::Port(PortError::Unavailable(_)))
    ));
}

#[test]
fn a_due_erasure_runs_its_steps_in_order_and_a_stopped_one_resumes_after_its_records() {
    let (service, fakes, user) = service(0);
    run(service.request_erasure(user, &audit(user))).unwrap();
    fakes.log().steps.clear();
    fakes.log().purge_fails = true;
    assert!(run(service.run_due()).is_err(), "the purge failed");
    assert_eq!(fakes.log().steps, ["claim pending", "erase_records"]);
    fakes.log().purge_fails = false;
    fakes.log().steps.clear();
    assert_eq!(run(service.run_due()).unwrap(), 1);
    assert_eq!(
        fakes.log().steps,
        ["claim records_erased", "purge", "finish"],
        "the records are not erased twice"
    );
    let statuses: Vec<ErasureStatus> = fakes.log().erasures.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [ErasureStatus::Erased]);
}

#[test]
fn a_cancelled_request_is_never_run() {
    let (service, fakes, user) = service(0);
    run(service.request_erasure(user, &audit(user))).unwrap();
    let cancelled = run(service.cancel_erasure(user, &audit(user))).unwrap();
    assert_eq!(cancelled.user_id, user);
    assert_eq!(run(service.run_due()).unwrap(), 0);
    assert!(!fakes.log().steps.contains(&"erase_records".to_owned()));
}

#[test]
fn a_read_records_each_other_subject_once_and_nothing_without_one() {
    let (service, fakes, reader) = service(0);
    let (a, b) = (UserId::new_v7(), UserId::new_v7());
    let read = |subjects: Vec<UserId>| AccessRead {
        action: "user.list.read",
        resource_type: "user",
        resource_id: None,
        subjects,
    };
    run(service.record_read(reader, audit(reader), read(vec![a, reader, b, a]))).unwrap();
    run(service.record_read(reader, audit(reader), read(vec![reader]))).unwrap();
    run(service.record_read(reader, audit(reader), read(Vec::new()))).unwrap();
    let reads = &fakes.log().reads;
    assert_eq!(reads.len(), 1, "reads of nobody else record nothing");
    assert_eq!(reads[0].subject_ids, vec![a, b]);
    assert_eq!(reads[0].action, "user.list.read");
    assert_eq!(reads[0].details, None);
}

#[test]
fn sessions_are_listed_by_their_times_only() {
    let (service, _, user) = service(0);
    let sessions = run(service.sessions(user)).unwrap();
    assert_eq!(
        sessions,
        vec![SessionSummary {
            created_at: 20,
            last_used_at: 30
        }]
    );
}
