//! Unit tests of `DirectoryService` over the in-memory fakes and a fixed clock.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use chrono::{DateTime, Duration, TimeZone, Utc};
use medico24_kernel::{AssociationId, AuditStamp, ClinicId, DoctorId, FixedClock, UserId};
use serde_json::{Map, json};

use crate::association::{AssociationPatch, AssociationStatus};
use crate::clinic::{ClinicFilter, ClinicPatch, GeoQuery, NearbyClinicFilter, NewClinic, Window};
use crate::doctor::{DoctorFilter, DoctorPatch, NearbyDoctorFilter, Verification};
use crate::ports::DirectoryRepository;
use crate::service::{
    ChangeDoctorError, CreateAssociationError, CreateClinicError, CreateDoctorError,
    DeleteClinicError, DirectoryService, EndAssociationError, RemoveAssociationError,
    UpdateAssociationError, UpdateClinicError,
};
use crate::testing::{
    InMemoryDirectory, InMemoryDirectoryCache, clinic_row, new_association, new_doctor,
    sphere_distance_km,
};

type Service = DirectoryService<InMemoryDirectory, InMemoryDirectoryCache, FixedClock>;

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

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap()
}

struct World {
    service: Service,
    repo: InMemoryDirectory,
    cache: InMemoryDirectoryCache,
    clock: FixedClock,
    admin: UserId,
    stamp: AuditStamp,
}

fn world() -> World {
    let clock = FixedClock::at(t0());
    let repo = InMemoryDirectory::new(clock.clone());
    let cache = InMemoryDirectoryCache::new();
    let admin = UserId::new_v7();
    World {
        service: DirectoryService::new(repo.clone(), cache.clone(), clock.clone()),
        repo,
        cache,
        clock,
        admin,
        stamp: AuditStamp::user(admin, "req-1", None),
    }
}

fn clinic_named(name: &str) -> NewClinic {
    NewClinic {
        name: name.to_owned(),
        address: "1 Link Road, Mumbai".to_owned(),
        ..NewClinic::default()
    }
}

#[test]
fn slugs_are_generated_from_the_name_with_the_first_free_suffix() {
    let w = world();
    let first = run(w
        .service
        .create_clinic(clinic_named("Care Point"), &w.stamp))
    .unwrap();
    let second = run(w
        .service
        .create_clinic(clinic_named("Care  Point!"), &w.stamp))
    .unwrap();
    let third = run(w
        .service
        .create_clinic(clinic_named("care-point"), &w.stamp))
    .unwrap();
    assert_eq!(first.slug.as_deref(), Some("care-point"));
    assert_eq!(second.slug.as_deref(), Some("care-point-2"));
    assert_eq!(third.slug.as_deref(), Some("care-point-3"));
}

#[test]
fn soft_deleted_clinics_still_hold_their_slugs() {
    let w = world();
    let first = run(w.service.create_clinic(clinic_named("Lotus"), &w.stamp)).unwrap();
    run(w.service.delete_clinic(first.id, &w.stamp)).unwrap();
    let second = run(w.service.create_clinic(clinic_named("Lotus"), &w.stamp)).unwrap();
    assert_eq!(second.slug.as_deref(), Some("lotus-2"));
    let supplied = NewClinic {
        slug: Some("lotus".to_owned()),
        ..clinic_named("Other")
    };
    assert!(matches!(
        run(w.service.create_clinic(supplied, &w.stamp)),
        Err(CreateClinicError::SlugTaken(slug)) if slug == "lotus"
    ));
}

#[test]
fn a_generated_slug_lost_to_a_concurrent_create_is_retried() {
    let w = world();
    run(w.service.create_clinic(clinic_named("Metro"), &w.stamp)).unwrap();
    w.repo.race_next_insert_with_slug("metro-2");
    let created = run(w.service.create_clinic(clinic_named("Metro"), &w.stamp)).unwrap();
    assert_eq!(created.slug.as_deref(), Some("metro-3"));
}

#[test]
fn a_taken_supplied_slug_is_refused_with_the_slug() {
    let w = world();
    let supplied = |name: &str| NewClinic {
        slug: Some("prime".to_owned()),
        ..clinic_named(name)
    };
    run(w.service.create_clinic(supplied("A"), &w.stamp)).unwrap();
    let error = run(w.service.create_clinic(supplied("B"), &w.stamp)).unwrap_err();
    assert!(matches!(error, CreateClinicError::SlugTaken(s) if s == "prime"));
}

#[test]
fn creating_a_clinic_rounds_coordinates_and_audits() {
    let w = world();
    let new = NewClinic {
        latitude: Some(19.123_456_789),
        longitude: Some(72.9),
        ..clinic_named("Arogya")
    };
    let clinic = run(w.service.create_clinic(new, &w.stamp)).unwrap();
    assert_eq!(clinic.latitude, Some(19.123_456_79));
    assert_eq!(clinic.rating, None);
    assert_eq!(clinic.rating_count, 0);
    assert!(clinic.is_active);
    let audit = w.repo.audit_events();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "clinic.create");
    assert_eq!(audit[0].resource_id, clinic.id.to_string());
    assert_eq!(audit[0].stamp.actor_user_id, Some(w.admin));
}

#[test]
fn clinic_reads_are_cached_and_writes_invalidate() {
    let w = world();
    let clinic = run(w.service.create_clinic(clinic_named("Harmony"), &w.stamp)).unwrap();
    run(w.service.clinic(clinic.id)).unwrap();
    w.repo.rename_clinic(clinic.id, "Changed behind the back");
    let cached = run(w.service.clinic(clinic.id)).unwrap().unwrap();
    assert_eq!(cached.name, "Harmony");
    assert_eq!(cached, clinic, "the cached JSON round-trips exactly");
    let patch = ClinicPatch {
        description: Some("New".to_owned()),
        ..ClinicPatch::default()
    };
    run(w.service.update_clinic(clinic.id, &patch, &w.stamp)).unwrap();
    assert!(!w.cache.holds_clinic(clinic.id));
    let fresh = run(w.service.clinic(clinic.id)).unwrap().unwrap();
    assert_eq!(fresh.name, "Changed behind the back");
    assert_eq!(fresh.description.as_deref(), Some("New"));
}

#[test]
fn a_cache_that_is_down_changes_nothing_for_callers() {
    let w = world();
    let clinic = run(w.service.create_clinic(clinic_named("Shanti"), &w.stamp)).unwrap();
    w.cache.set_down(true);
    assert_eq!(run(w.service.clinic(clinic.id)).unwrap(), Some(clinic));
}

#[test]
fn an_empty_clinic_patch_returns_the_clinic_without_writing() {
    let w = world();
    let clinic = run(w.service.create_clinic(clinic_named("Nirmal"), &w.stamp)).unwrap();
    let same = run(w
        .service
        .update_clinic(clinic.id, &ClinicPatch::default(), &w.stamp))
    .unwrap();
    assert_eq!(same, clinic);
    assert_eq!(w.repo.audit_events().len(), 1);
    let missing =
        run(w
            .service
            .update_clinic(ClinicId::new_v7(), &ClinicPatch::default(), &w.stamp));
    assert!(matches!(missing, Err(UpdateClinicError::NotFound)));
}

#[test]
fn updating_to_a_taken_slug_names_the_slug() {
    let w = world();
    run(w.service.create_clinic(clinic_named("Alpha"), &w.stamp)).unwrap();
    let beta = run(w.service.create_clinic(clinic_named("Beta"), &w.stamp)).unwrap();
    let patch = ClinicPatch {
        slug: Some("alpha".to_owned()),
        ..ClinicPatch::default()
    };
    let error = run(w.service.update_clinic(beta.id, &patch, &w.stamp)).unwrap_err();
    assert!(matches!(error, UpdateClinicError::SlugTaken(s) if s == "alpha"));
    let own = ClinicPatch {
        slug: Some("beta".to_owned()),
        ..ClinicPatch::default()
    };
    assert!(run(w.service.update_clinic(beta.id, &own, &w.stamp)).is_ok());
}

#[test]
fn deleting_twice_is_not_found_the_second_time() {
    let w = world();
    let clinic = run(w.service.create_clinic(clinic_named("Metro"), &w.stamp)).unwrap();
    run(w.service.clinic(clinic.id)).unwrap();
    run(w.service.delete_clinic(clinic.id, &w.stamp)).unwrap();
    assert!(!w.cache.holds_clinic(clinic.id));
    assert!(matches!(
        run(w.service.delete_clinic(clinic.id, &w.stamp)),
        Err(DeleteClinicError::NotFound)
    ));
    assert_eq!(run(w.service.clinic(clinic.id)).unwrap(), None);
    assert_eq!(
        run(w.service.clinic_by_slug("metro")).unwrap(),
        None,
        "deleted clinics are missing by slug too"
    );
}

#[test]
fn clinic_listings_filter_and_order_by_name() {
    let w = world();
    for name in ["Zeta 50%", "alpha", "Beta"] {
        run(w.service.create_clinic(clinic_named(name), &w.stamp)).unwrap();
    }
    let all = run(w
        .service
        .list_clinics(&ClinicFilter::default(), Window::default()))
    .unwrap();
    let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Beta", "Zeta 50%", "alpha"]);
    let filter = ClinicFilter {
        name_search: Some("50%".to_owned()),
        ..ClinicFilter::default()
    };
    let found = run(w.service.list_clinics(&filter, Window::default())).unwrap();
    assert_eq!(found.len(), 1);
    assert!(found.iter().all(|c| c.distance_km.is_none()));
}

#[test]
fn nearby_clinics_are_ordered_by_sphere_distance_with_an_inclusive_radius() {
    let w = world();
    let here = (19.0760, 72.8777);
    let near = clinic_row("Near", "near", Some((19.0800, 72.8777)), t0());
    let far = clinic_row("Far", "far", Some((19.1200, 72.8777)), t0());
    let nowhere = clinic_row("No place", "no-place", None, t0());
    for c in [far.clone(), near.clone(), nowhere] {
        w.repo.put_clinic(c);
    }
    let far_km = sphere_distance_km(here.0, here.1, 19.1200, 72.8777);
    let geo = GeoQuery {
        latitude: here.0,
        longitude: here.1,
        radius_km: far_km,
    };
    let found =
        run(w
            .service
            .nearby_clinics(geo, &NearbyClinicFilter::default(), Window::default()))
        .unwrap();
    let ids: Vec<ClinicId> = found.iter().map(|c| c.id).collect();
    assert_eq!(ids, [near.id, far.id]);
    assert_eq!(found[1].distance_km, Some(far_km));
    let smaller = GeoQuery {
        radius_km: far_km - 0.001,
        ..geo
    };
    let found =
        run(w
            .service
            .nearby_clinics(smaller, &NearbyClinicFilter::default(), Window::default()))
        .unwrap();
    assert_eq!(found.len(), 1);
}

#[test]
fn duplicate_license_is_reported_before_duplicate_email() {
    let w = world();
    run(w
        .service
        .create_doctor(&new_doctor("A", "L-1", "a@example.com"), &w.stamp))
    .unwrap();
    let both = run(w
        .service
        .create_doctor(&new_doctor("B", "L-1", "a@example.com"), &w.stamp));
    assert!(matches!(both, Err(CreateDoctorError::LicenseTaken(l)) if l == "L-1"));
    let email = run(w
        .service
        .create_doctor(&new_doctor("B", "L-2", "a@example.com"), &w.stamp));
    assert!(matches!(email, Err(CreateDoctorError::EmailTaken(e)) if e == "a@example.com"));
}

#[test]
fn verification_records_the_admin_and_unverify_clears_it() {
    let w = world();
    let doctor = run(w
        .service
        .create_doctor(&new_doctor("A", "L-1", "a@example.com"), &w.stamp))
    .unwrap();
    assert!(!doctor.is_verified);
    let mut docs = Map::new();
    docs.insert("license".to_owned(), json!("scan.pdf"));
    let verification = Verification {
        verified_by: w.admin,
        documents: Some(docs),
    };
    w.clock.advance(Duration::minutes(5));
    let verified = run(w.service.verify_doctor(doctor.id, &verification, &w.stamp)).unwrap();
    assert!(verified.is_verified);
    assert_eq!(verified.verified_by, Some(w.admin));
    assert_eq!(verified.verified_at, Some(t0() + Duration::minutes(5)));
    let empty_docs = Verification {
        verified_by: w.admin,
        documents: Some(Map::new()),
    };
    let again = run(w.service.verify_doctor(doctor.id, &empty_docs, &w.stamp)).unwrap();
    assert_eq!(
        again.verification_documents,
        Some(json!({"license": "scan.pdf"}))
    );
    let unverified = run(w.service.unverify_doctor(doctor.id, &w.stamp)).unwrap();
    assert!(!unverified.is_verified);
    assert_eq!(unverified.verified_by, None);
    assert_eq!(unverified.verified_at, None);
    assert!(
        unverified.verification_documents.is_some(),
        "documents kept"
    );
    assert!(matches!(
        run(w.service.unverify_doctor(DoctorId::new_v7(), &w.stamp)),
        Err(ChangeDoctorError::NotFound)
    ));
    let actions: Vec<String> = w
        .repo
        .audit_events()
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(
        actions,
        [
            "doctor.create",
            "doctor.verify",
            "doctor.verify",
            "doctor.unverify"
        ]
    );
}

#[test]
fn doctor_writes_invalidate_the_cached_doctor() {
    let w = world();
    let doctor = run(w
        .service
        .create_doctor(&new_doctor("A", "L-1", "a@example.com"), &w.stamp))
    .unwrap();
    run(w.service.doctor(doctor.id)).unwrap();
    assert!(w.cache.holds_doctor(doctor.id));
    let patch = DoctorPatch {
        bio: Some("Hello".to_owned()),
        ..DoctorPatch::default()
    };
    let updated = run(w.service.update_doctor(doctor.id, &patch, &w.stamp)).unwrap();
    assert_eq!(updated.bio.as_deref(), Some("Hello"));
    assert!(!w.cache.holds_doctor(doctor.id));
    let empty = run(w
        .service
        .update_doctor(doctor.id, &DoctorPatch::default(), &w.stamp))
    .unwrap();
    assert_eq!(empty, updated);
}

#[test]
fn search_ignores_languages_and_max_experience() {
    let w = world();
    let mut new = new_doctor("A", "L-1", "a@example.com");
    new.languages_spoken = Some(vec!["Hindi".to_owned()]);
    new.experience_years = Some(30);
    run(w.service.create_doctor(&new, &w.stamp)).unwrap();
    let filter = DoctorFilter {
        languages: vec!["Tamil".to_owned()],
        max_experience: Some(5),
        ..DoctorFilter::default()
    };
    assert!(
        run(w.service.list_doctors(&filter, Window::default()))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        run(w.service.search_doctors(&filter, Window::default()))
            .unwrap()
            .len(),
        1
    );
}

struct Pair {
    doctor: DoctorId,
    clinic: ClinicId,
}

fn pair(w: &World) -> Pair {
    let doctor = run(w
        .service
        .create_doctor(&new_doctor("Asha", "L-9", "asha@example.com"), &w.stamp))
    .unwrap();
    let clinic = run(w.service.create_clinic(clinic_named("Sunrise"), &w.stamp)).unwrap();
    Pair {
        doctor: doctor.id,
        clinic: clinic.id,
    }
}

#[test]
fn associations_check_mismatch_clinic_doctor_then_open_pair() {
    let w = world();
    let p = pair(&w);
    let mut new = new_association(p.doctor, p.clinic);
    new.body_clinic_id = Some(ClinicId::new_v7());
    assert!(matches!(
        run(w.service.create_association(&new, &w.stamp)),
        Err(CreateAssociationError::ClinicIdMismatch)
    ));
    let unknown_clinic = new_association(DoctorId::new_v7(), ClinicId::new_v7());
    assert!(matches!(
        run(w.service.create_association(&unknown_clinic, &w.stamp)),
        Err(CreateAssociationError::ClinicNotFound)
    ));
    let unknown_doctor = new_association(DoctorId::new_v7(), p.clinic);
    assert!(matches!(
        run(w.service.create_association(&unknown_doctor, &w.stamp)),
        Err(CreateAssociationError::DoctorNotFound)
    ));
    let mut ok = new_association(p.doctor, p.clinic);
    ok.body_clinic_id = Some(p.clinic);
    let created = run(w.service.create_association(&ok, &w.stamp)).unwrap();
    assert_eq!(created.status, AssociationStatus::Active);
    assert_eq!(created.start_date, t0());
    assert!(matches!(
        run(w.service.create_association(&ok, &w.stamp)),
        Err(CreateAssociationError::AlreadyAssociated)
    ));
}

#[test]
fn deleted_clinics_take_no_associations_and_vanish_from_listings() {
    let w = world();
    let p = pair(&w);
    run(w
        .service
        .create_association(&new_association(p.doctor, p.clinic), &w.stamp))
    .unwrap();
    run(w.service.delete_clinic(p.clinic, &w.stamp)).unwrap();
    assert!(
        run(w.service.clinic_doctors(p.clinic, true))
            .unwrap()
            .is_empty()
    );
    assert!(
        run(w.service.doctor_clinics(p.doctor, false))
            .unwrap()
            .is_empty()
    );
    let detail = run(w.service.doctor(p.doctor)).unwrap().unwrap();
    assert!(detail.clinics.is_empty());
    let other = run(w
        .service
        .create_doctor(&new_doctor("B", "L-2", "b@example.com"), &w.stamp))
    .unwrap();
    assert!(matches!(
        run(w
            .service
            .create_association(&new_association(other.id, p.clinic), &w.stamp)),
        Err(CreateAssociationError::ClinicNotFound)
    ));
    assert!(matches!(
        run(w.service.remove_association(p.doctor, p.clinic, &w.stamp)),
        Err(RemoveAssociationError::NoneOpen)
    ));
}

#[test]
fn ending_needs_an_end_not_before_the_start_and_can_be_repeated() {
    let w = world();
    let p = pair(&w);
    let a = run(w
        .service
        .create_association(&new_association(p.doctor, p.clinic), &w.stamp))
    .unwrap();
    let before = run(w
        .service
        .end_association(a.id, Some(t0() - Duration::seconds(1)), &w.stamp));
    assert!(matches!(before, Err(EndAssociationError::EndBeforeStart)));
    let at_start = run(w.service.end_association(a.id, Some(t0()), &w.stamp)).unwrap();
    assert_eq!(at_start.end_date, Some(t0()));
    assert_eq!(at_start.status, AssociationStatus::Inactive);
    w.clock.advance(Duration::hours(1));
    let again = run(w.service.end_association(a.id, None, &w.stamp)).unwrap();
    assert_eq!(again.end_date, Some(t0() + Duration::hours(1)));
    assert!(matches!(
        run(w
            .service
            .end_association(AssociationId::new_v7(), None, &w.stamp)),
        Err(EndAssociationError::NotFound)
    ));
    assert!(
        run(w.service.clinic_doctors(p.clinic, true))
            .unwrap()
            .is_empty(),
        "active_only leaves ended associations out"
    );
    assert_eq!(
        run(w.service.clinic_doctors(p.clinic, false))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn an_empty_association_patch_returns_it_unchanged() {
    let w = world();
    let p = pair(&w);
    let a = run(w
        .service
        .create_association(&new_association(p.doctor, p.clinic), &w.stamp))
    .unwrap();
    let same = run(w
        .service
        .update_association(a.id, &AssociationPatch::default(), &w.stamp))
    .unwrap();
    assert_eq!(same, a);
    assert!(matches!(
        run(w.service.update_association(
            AssociationId::new_v7(),
            &AssociationPatch::default(),
            &w.stamp
        )),
        Err(UpdateAssociationError::NotFound)
    ));
    let patch = AssociationPatch {
        consultation_fee: Some(750.5),
        ..AssociationPatch::default()
    };
    let changed = run(w.service.update_association(a.id, &patch, &w.stamp)).unwrap();
    assert_eq!(changed.consultation_fee, Some(750.5));
}

#[test]
fn removing_a_pair_ends_the_open_association_once() {
    let w = world();
    let p = pair(&w);
    run(w
        .service
        .create_association(&new_association(p.doctor, p.clinic), &w.stamp))
    .unwrap();
    run(w.service.remove_association(p.doctor, p.clinic, &w.stamp)).unwrap();
    assert!(matches!(
        run(w.service.remove_association(p.doctor, p.clinic, &w.stamp)),
        Err(RemoveAssociationError::NoneOpen)
    ));
    run(w
        .service
        .create_association(&new_association(p.doctor, p.clinic), &w.stamp))
    .expect("a new association after the old one ended");
}

#[test]
fn nearby_doctors_come_once_per_clinic_and_only_verified_by_default() {
    let w = world();
    let p = pair(&w);
    let mut near = clinic_row("Near", "near", Some((19.0800, 72.8777)), t0());
    near.name = "Near".to_owned();
    let near_id = near.id;
    w.repo.put_clinic(near);
    run(w.repo.update_clinic(
        p.clinic,
        &ClinicPatch {
            latitude: Some(19.0900),
            longitude: Some(72.8777),
            ..ClinicPatch::default()
        },
        &w.stamp,
    ))
    .unwrap();
    for clinic in [p.clinic, near_id] {
        run(w
            .service
            .create_association(&new_association(p.doctor, clinic), &w.stamp))
        .unwrap();
    }
    let filter = NearbyDoctorFilter {
        geo: GeoQuery {
            latitude: 19.0760,
            longitude: 72.8777,
            radius_km: 5.0,
        },
        specialization: None,
        only_verified: true,
        min_rating: None,
    };
    assert!(
        run(w.service.nearby_doctors(&filter, Window::default()))
            .unwrap()
            .is_empty()
    );
    let verification = Verification {
        verified_by: w.admin,
        documents: None,
    };
    run(w.service.verify_doctor(p.doctor, &verification, &w.stamp)).unwrap();
    let found = run(w.service.nearby_doctors(&filter, Window::default())).unwrap();
    let clinics: Vec<Option<ClinicId>> = found.iter().map(|d| d.clinic_id).collect();
    assert_eq!(clinics, [Some(near_id), Some(p.clinic)]);
    assert!(
        found
            .iter()
            .all(|d| d.id == p.doctor && d.distance_km.is_some())
    );
}

#[test]
fn the_in_memory_directory_meets_the_repository_contract() {
    let repo = InMemoryDirectory::new(FixedClock::at(t0()));
    run(crate::testing::contract::directory_repository(&repo, t0()));
    assert_eq!(
        repo.audit_events().len(),
        crate::testing::contract::AUDITED_WRITES,
        "every successful write is audited once"
    );
}
