//! Use-case tests of `PharmacyService` over the in-memory fakes and a fixed clock.

use chrono::{DateTime, NaiveTime, Utc};
use medico24_kernel::{AuditStamp, FixedClock, PharmacyId, UserId};

use crate::model::{
    DayOfWeek, HoursInput, LocationPatch, PharmacyFilter, PharmacyPatch, VerifyChange, Window,
};
use crate::ports::PortError;
use crate::service::{DeleteHoursError, DetailView, ListView, PharmacyError, PharmacyService};
use crate::testing::{InMemoryPharmacies, InMemoryPharmacyCache, contract::sample};

type Service = PharmacyService<InMemoryPharmacies, InMemoryPharmacyCache, FixedClock>;

fn run<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the fakes never wait"),
    }
}

fn now() -> DateTime<Utc> {
    // Monday 2026-03-02 10:00 UTC = 15:30 in Kolkata.
    DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn stamp() -> AuditStamp {
    AuditStamp::user(UserId::new_v7(), "req-1", None)
}

fn setup() -> (
    Service,
    InMemoryPharmacies,
    InMemoryPharmacyCache,
    FixedClock,
) {
    let repo = InMemoryPharmacies::new();
    let cache = InMemoryPharmacyCache::new();
    let clock = FixedClock::at(now());
    (
        PharmacyService::new(repo.clone(), cache.clone(), clock.clone()),
        repo,
        cache,
        clock,
    )
}

fn render_detail(p: &crate::model::Pharmacy) -> String {
    format!("{}|{}|{}", p.id, p.name, p.is_verified)
}

fn render_list(items: &[crate::model::PharmacyListItem]) -> String {
    items
        .iter()
        .map(|i| i.pharmacy.name.clone())
        .collect::<Vec<_>>()
        .join(",")
}

/// What the HTTP handler does: serve a hit as stored, render a miss and remember it.
fn detail_body(service: &Service, id: PharmacyId) -> Result<String, PharmacyError> {
    Ok(match run(service.detail_view(id))? {
        DetailView::Cached(body) => body,
        DetailView::Loaded(pharmacy) => {
            let body = render_detail(&pharmacy);
            run(service.remember_detail(id, &body));
            body
        }
    })
}

/// What the HTTP handler does for a plain listing.
fn list_body(service: &Service, filter: &PharmacyFilter, window: Window) -> String {
    match run(service.list_view(filter, window)).unwrap() {
        ListView::Cached(body) => body,
        ListView::Loaded { items, generation } => {
            let body = render_list(&items);
            run(service.remember_list(generation, filter, window, &body));
            body
        }
    }
}

#[test]
fn the_detail_is_cached_on_first_read_and_served_from_the_cache_after() {
    let (service, repo, cache, _) = setup();
    let created = run(service.create(&sample("A", 19.0, 72.8), &stamp())).unwrap();
    let first = run(service.detail_view(created.id)).unwrap();
    assert_eq!(
        first,
        DetailView::Loaded(created.clone()),
        "a miss reads the row"
    );
    let calls = repo.calls();
    assert_eq!(
        run(service.detail_view(created.id)).unwrap(),
        first,
        "nothing was stored until the caller remembered a body"
    );
    assert_eq!(repo.calls(), calls + 1);
    run(service.remember_detail(created.id, "the stored body"));
    let calls = repo.calls();
    let second = run(service.detail_view(created.id)).unwrap();
    assert_eq!(second, DetailView::Cached("the stored body".into()));
    assert_eq!(
        repo.calls(),
        calls,
        "the second read did not touch the repository"
    );
    assert_eq!(cache.stats().detail_hits, 1);
    assert_eq!(cache.stats().detail_misses, 2);
    assert_eq!(
        detail_body(&service, created.id).unwrap(),
        "the stored body",
        "a hit is served as stored, not re-rendered"
    );
}

#[test]
fn every_write_drops_the_detail_and_bumps_the_list_generation() {
    let (service, _, cache, _) = setup();
    let stamp = stamp();
    let created = run(service.create(&sample("A", 19.0, 72.8), &stamp)).unwrap();
    assert_eq!(cache.generation(), 1, "create bumps the generation");
    let id = created.id;
    let cached = |service: &Service| {
        detail_body(service, id).unwrap();
        assert!(cache.cached_detail(id).is_some());
    };
    let day = DayOfWeek::new(2).unwrap();
    let hours = HoursInput {
        day_of_week: day,
        open_time: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        close_time: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        is_closed: false,
    };
    type Write<'a> = Box<dyn Fn(&Service) + 'a>;
    let writes: Vec<(&str, Write)> = vec![
        (
            "update",
            Box::new(|s: &Service| {
                let patch = PharmacyPatch {
                    name: Some("B".into()),
                    ..PharmacyPatch::default()
                };
                run(s.update(id, &patch, &stamp)).unwrap();
            }),
        ),
        (
            "location",
            Box::new(|s: &Service| {
                let patch = LocationPatch {
                    city: Some("Thane".into()),
                    ..LocationPatch::default()
                };
                run(s.update_location(id, &patch, &stamp)).unwrap();
            }),
        ),
        (
            "hours upsert",
            Box::new(|s: &Service| {
                run(s.upsert_hours(id, &hours, &stamp)).unwrap();
            }),
        ),
        (
            "hours delete",
            Box::new(|s: &Service| run(s.delete_hours(id, day, &stamp)).unwrap()),
        ),
        (
            "verify",
            Box::new(|s: &Service| {
                run(s.verify(id, VerifyChange::Toggle, &stamp)).unwrap();
            }),
        ),
        (
            "delete",
            Box::new(|s: &Service| run(s.delete(id, &stamp)).unwrap()),
        ),
    ];
    for (name, write) in writes {
        cached(&service);
        let generation = cache.generation();
        write(&service);
        assert!(cache.cached_detail(id).is_none(), "{name} drops the detail");
        assert_eq!(
            cache.generation(),
            generation + 1,
            "{name} bumps the generation"
        );
    }
}

#[test]
fn empty_patches_and_failed_writes_invalidate_nothing() {
    let (service, repo, cache, _) = setup();
    let created = run(service.create(&sample("A", 19.0, 72.8), &stamp())).unwrap();
    let generation = cache.generation();
    let audit = repo.audit_events().len();
    let same = run(service.update(created.id, &PharmacyPatch::default(), &stamp())).unwrap();
    assert_eq!(same, created);
    let same =
        run(service.update_location(created.id, &LocationPatch::default(), &stamp())).unwrap();
    assert_eq!(same, created);
    let missing = PharmacyId::new_v7();
    let patch = PharmacyPatch {
        name: Some("X".into()),
        ..PharmacyPatch::default()
    };
    assert!(matches!(
        run(service.update(missing, &patch, &stamp())),
        Err(PharmacyError::NotFound)
    ));
    assert!(matches!(
        run(service.delete(missing, &stamp())),
        Err(PharmacyError::NotFound)
    ));
    assert!(matches!(
        run(service.verify(missing, VerifyChange::Toggle, &stamp())),
        Err(PharmacyError::NotFound)
    ));
    assert!(matches!(
        run(service.delete_hours(created.id, DayOfWeek::new(4).unwrap(), &stamp())),
        Err(DeleteHoursError::HoursNotFound)
    ));
    assert!(matches!(
        run(service.delete_hours(missing, DayOfWeek::new(4).unwrap(), &stamp())),
        Err(DeleteHoursError::PharmacyNotFound)
    ));
    assert_eq!(cache.generation(), generation);
    assert_eq!(repo.audit_events().len(), audit, "nothing audited");
}

#[test]
fn a_pharmacy_without_a_location_is_returned_unchanged_by_a_location_patch() {
    let (service, repo, cache, _) = setup();
    let created = run(service.create(&sample("A", 19.0, 72.8), &stamp())).unwrap();
    let mut without = created.clone();
    without.location = None;
    repo.insert(without.clone());
    let generation = cache.generation();
    let patch = LocationPatch {
        city: Some("Thane".into()),
        ..LocationPatch::default()
    };
    assert_eq!(
        run(service.update_location(created.id, &patch, &stamp())).unwrap(),
        without
    );
    assert_eq!(
        cache.generation(),
        generation,
        "nothing written, nothing invalidated"
    );
}

#[test]
fn plain_listings_are_cached_per_generation_and_open_now_listings_never() {
    let (service, repo, cache, _) = setup();
    let filter = PharmacyFilter::default();
    let window = Window::default();
    let miss = run(service.list_view(&filter, window)).unwrap();
    assert_eq!(
        miss,
        ListView::Loaded {
            items: Vec::new(),
            generation: Some(0)
        },
        "a missing counter is generation 0"
    );
    let empty = list_body(&service, &filter, window);
    assert_eq!(empty, "");
    let calls = repo.calls();
    assert_eq!(
        run(service.list_view(&filter, window)).unwrap(),
        ListView::Cached(String::new())
    );
    assert_eq!(repo.calls(), calls, "an empty listing is cached too");

    run(service.create(&sample("A", 19.0, 72.8), &stamp())).unwrap();
    assert!(
        matches!(
            run(service.list_view(&filter, window)).unwrap(),
            ListView::Loaded { ref items, generation: Some(1) } if items.len() == 1
        ),
        "the create superseded the cached empty page"
    );
    assert_eq!(list_body(&service, &filter, window), "A");
    assert_eq!(
        run(service.list_view(&filter, window)).unwrap(),
        ListView::Cached("A".into())
    );

    let open_now = PharmacyFilter {
        open_now: true,
        ..PharmacyFilter::default()
    };
    let before = cache.stats();
    // Monday 15:30 in Kolkata: the sample is open 09:00–17:00 on Mondays.
    for _ in 0..2 {
        match run(service.list_view(&open_now, window)).unwrap() {
            ListView::Loaded { items, generation } => {
                assert_eq!(render_list(&items), "A");
                assert_eq!(generation, None, "an open_now page is not cacheable");
                run(service.remember_list(generation, &open_now, window, "A"));
            }
            ListView::Cached(body) => panic!("open_now served from the cache: {body}"),
        }
    }
    run(service.remember_list(Some(cache.generation()), &open_now, window, "A"));
    let after = cache.stats();
    assert_eq!(
        (after.list_hits, after.list_misses, after.puts),
        (before.list_hits, before.list_misses, before.puts),
        "open_now listings bypass the cache"
    );
}

#[test]
fn open_now_follows_the_clock() {
    let (service, _, _, clock) = setup();
    run(service.create(&sample("A", 19.0, 72.8), &stamp())).unwrap();
    let open_now = PharmacyFilter {
        open_now: true,
        ..PharmacyFilter::default()
    };
    let names = |service: &Service| {
        run(service.list(&open_now, Window::default()))
            .unwrap()
            .len()
    };
    assert_eq!(names(&service), 1);
    // 12:00 UTC = 17:30 in Kolkata: closed.
    clock.set(now() + chrono::Duration::hours(2));
    assert_eq!(names(&service), 0);
}

#[test]
fn an_outage_of_the_cache_only_costs_database_reads() {
    let (service, repo, cache, _) = setup();
    let created = run(service.create(&sample("A", 19.0, 72.8), &stamp())).unwrap();
    cache.simulate_outage(true);
    let calls = repo.calls();
    for _ in 0..2 {
        detail_body(&service, created.id).unwrap();
        list_body(&service, &PharmacyFilter::default(), Window::default());
    }
    assert_eq!(repo.calls(), calls + 4, "every read went to the repository");
    run(service.verify(created.id, VerifyChange::Toggle, &stamp())).unwrap();
}

#[test]
fn repository_failures_surface_as_port_errors() {
    let (service, repo, _, _) = setup();
    repo.fail_with_unavailable(true);
    assert!(matches!(
        run(service.detail_view(PharmacyId::new_v7())),
        Err(PharmacyError::Port(PortError::Unavailable(_)))
    ));
    assert!(matches!(
        run(service.create(&sample("A", 19.0, 72.8), &stamp())),
        Err(PortError::Unavailable(_))
    ));
}

#[test]
fn a_miss_stores_nothing_until_the_caller_remembers_a_body() {
    let (service, _, cache, _) = setup();
    let created = run(service.create(&sample("A", 19.0, 72.8), &stamp())).unwrap();
    let puts = cache.stats().puts;
    let filter = PharmacyFilter::default();
    let window = Window::default();
    assert!(matches!(
        run(service.detail_view(created.id)).unwrap(),
        DetailView::Loaded(_)
    ));
    assert!(matches!(
        run(service.list_view(&filter, window)).unwrap(),
        ListView::Loaded { .. }
    ));
    assert!(cache.cached_detail(created.id).is_none());
    run(service.remember_list(None, &filter, window, "ignored"));
    assert_eq!(
        cache.stats().puts,
        puts,
        "a view without a generation is not stored"
    );
    assert!(matches!(
        run(service.detail_view(PharmacyId::new_v7())),
        Err(PharmacyError::NotFound)
    ));
}

#[test]
fn every_write_is_audited_with_its_action_and_the_callers_stamp() {
    let (service, repo, _, _) = setup();
    let stamp = AuditStamp::user(UserId::new_v7(), "req-audit", None);
    let created = run(service.create(&sample("A", 19.0, 72.8), &stamp)).unwrap();
    run(service.verify(created.id, VerifyChange::Set(true), &stamp)).unwrap();
    let events = repo.audit_events();
    assert_eq!(
        events.iter().map(|e| e.action).collect::<Vec<_>>(),
        vec!["pharmacy.create", "pharmacy.verify"]
    );
    assert!(events.iter().all(|e| e.stamp == stamp
        && e.resource_type == "pharmacy"
        && e.resource_id == created.id.to_string()));
    assert_eq!(
        events[1].details,
        serde_json::json!({"before": {"is_verified": false}, "after": {"is_verified": true}})
    );
}
