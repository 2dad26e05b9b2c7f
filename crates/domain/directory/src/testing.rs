//! In-memory fakes of the directory ports, for unit tests here and handler tests in the server.
//! They behave like the real adapters: the same outcomes and error variants for the same
//! situations (soft-deleted clinics hidden, slug/license/email/open-pair uniqueness, audit
//! events per write), sphere distances for nearby searches, and a cache that stores JSON.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use medico24_kernel::{AssociationId, AuditStamp, ClinicId, Clock, DoctorId, PortError};
use serde_json::Value;

use crate::association::{
    Association, AssociationPatch, AssociationStatus, ClinicForDoctor, DoctorAtClinic,
    DoctorClinicSummary, NewAssociation,
};
use crate::clinic::{
    Clinic, ClinicFilter, ClinicInsert, ClinicListItem, ClinicPatch, ClinicStatus, GeoQuery,
    NearbyClinicFilter, Window,
};
use crate::doctor::{
    Doctor, DoctorFilter, DoctorListItem, DoctorPatch, NearbyDoctorFilter, NewDoctor, Verification,
    doctor_matches,
};
use crate::ports::{DirectoryCache, DirectoryRepository, RepoWriteError};
use crate::rules::{is_suffixed_form_of, round_coordinate, round_to};

/// Mean Earth radius PostGIS uses for sphere distances (metres).
pub const SPHERE_RADIUS_M: f64 = 6_371_008.771_4;

/// Great-circle distance in km between two points on the PostGIS sphere.
pub fn sphere_distance_km(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * SPHERE_RADIUS_M * a.sqrt().min(1.0).asin() / 1000.0
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One recorded audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedAudit {
    /// Who and from where.
    pub stamp: AuditStamp,
    /// `clinic.create`, …
    pub action: String,
    /// `clinic`, `doctor`, `doctor_clinic`.
    pub resource_type: String,
    /// The affected id.
    pub resource_id: String,
    /// Details.
    pub details: Option<Value>,
}

#[derive(Default)]
struct State {
    clinics: Vec<Clinic>,
    doctors: Vec<Doctor>,
    associations: Vec<Association>,
    audit: Vec<RecordedAudit>,
    /// Slugs a "concurrent" create inserts right before the next insert.
    racing_slugs: Vec<String>,
}

impl State {
    fn audit(
        &mut self,
        stamp: &AuditStamp,
        action: &str,
        resource_type: &str,
        resource_id: String,
        details: Option<Value>,
    ) {
        self.audit.push(RecordedAudit {
            stamp: stamp.clone(),
            action: action.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id,
            details,
        });
    }

    fn live_clinic(&self, id: ClinicId) -> Option<&Clinic> {
        self.clinics
            .iter()
            .find(|c| c.id == id && c.deleted_at.is_none())
    }

    fn slug_taken(&self, slug: &str, except: Option<ClinicId>) -> bool {
        self.clinics
            .iter()
            .any(|c| c.slug.as_deref() == Some(slug) && Some(c.id) != except)
    }
}

/// [`DirectoryRepository`] in memory.
#[derive(Clone)]
pub struct InMemoryDirectory {
    state: Arc<Mutex<State>>,
    clock: Arc<dyn Clock>,
}

impl InMemoryDirectory {
    /// An empty directory whose rows are stamped by `clock`.
    pub fn new(clock: impl Clock) -> Self {
        Self {
            state: Arc::default(),
            clock: Arc::new(clock),
        }
    }

    /// Every audit event written so far, oldest first.
    pub fn audit_events(&self) -> Vec<RecordedAudit> {
        lock(&self.state).audit.clone()
    }

    /// Makes a "concurrent" create take `slug` right before the next clinic insert.
    pub fn race_next_insert_with_slug(&self, slug: &str) {
        lock(&self.state).racing_slugs.push(slug.to_owned());
    }

    /// Stores `clinic` as is (fixtures).
    pub fn put_clinic(&self, clinic: Clinic) {
        lock(&self.state).clinics.push(clinic);
    }

    /// Stores `doctor` as is (fixtures).
    pub fn put_doctor(&self, doctor: Doctor) {
        lock(&self.state).doctors.push(doctor);
    }

    /// Changes a stored clinic behind the service's back (cache tests).
    pub fn rename_clinic(&self, id: ClinicId, name: &str) {
        if let Some(c) = lock(&self.state).clinics.iter_mut().find(|c| c.id == id) {
            c.name = name.to_owned();
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// A stored clinic row as an insert at `now` produces it (fixtures).
pub fn clinic_row(name: &str, slug: &str, at: Option<(f64, f64)>, now: DateTime<Utc>) -> Clinic {
    Clinic {
        name: name.to_owned(),
        slug: Some(slug.to_owned()),
        description: None,
        logo_url: None,
        contacts: None,
        address: format!("{name}, Mumbai"),
        latitude: at.map(|(lat, _)| lat),
        longitude: at.map(|(_, lng)| lng),
        opening_hours: None,
        id: ClinicId::new_v7(),
        rating: None,
        rating_count: 0,
        status: ClinicStatus::Active,
        is_active: true,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    }
}

/// A doctor as created from `new` at `now`.
pub fn doctor_from(new: &NewDoctor, now: DateTime<Utc>) -> Doctor {
    Doctor {
        email: new.email.clone(),
        full_name: new.full_name.clone(),
        phone: new.phone.clone(),
        profile_picture_url: new.profile_picture_url.clone(),
        license_number: Some(new.license_number.clone()),
        specialization: Some(new.specialization.clone()),
        sub_specialization: new.sub_specialization.clone(),
        qualification: new.qualification.clone(),
        experience_years: new.experience_years,
        consultation_fee: new.consultation_fee.map(|f| round_to(f, 2)),
        consultation_duration_minutes: Some(new.consultation_duration_minutes),
        bio: new.bio.clone(),
        languages_spoken: new.languages_spoken.clone(),
        medical_council_registration: new.medical_council_registration.clone(),
        id: DoctorId::new_v7(),
        is_verified: false,
        verification_documents: None,
        verified_at: None,
        verified_by: None,
        rating: None,
        rating_count: 0,
        total_consultations: 0,
        created_at: now,
        updated_at: now,
    }
}

/// A minimal valid create command (fixtures).
pub fn new_doctor(name: &str, license: &str, email: &str) -> NewDoctor {
    NewDoctor {
        email: email.to_owned(),
        full_name: name.to_owned(),
        phone: None,
        profile_picture_url: None,
        license_number: license.to_owned(),
        specialization: "General Physician".to_owned(),
        sub_specialization: None,
        qualification: None,
        experience_years: None,
        consultation_fee: None,
        consultation_duration_minutes: crate::doctor::DEFAULT_CONSULTATION_MINUTES,
        bio: None,
        languages_spoken: None,
        medical_council_registration: None,
    }
}

/// A minimal association command for the pair (fixtures).
pub fn new_association(doctor: DoctorId, clinic: ClinicId) -> NewAssociation {
    NewAssociation {
        doctor_id: doctor,
        clinic_id: clinic,
        body_clinic_id: None,
        is_primary: false,
        consultation_fee: None,
        consultation_duration_minutes: None,
        department: None,
        designation: None,
        available_days: None,
        available_time_slots: None,
        appointment_booking_enabled: true,
    }
}

fn clinic_distance(clinic: &Clinic, geo: &GeoQuery) -> Option<f64> {
    let (lat, lng) = (clinic.latitude?, clinic.longitude?);
    let d = sphere_distance_km(geo.latitude, geo.longitude, lat, lng);
    (d <= geo.radius_km).then_some(d)
}

fn rating_desc_nulls_last(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => b.total_cmp(&a),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

impl DirectoryRepository for InMemoryDirectory {
    async fn find_clinic(&self, id: ClinicId) -> Result<Option<Clinic>, PortError> {
        Ok(lock(&self.state).live_clinic(id).cloned())
    }

    async fn find_clinic_by_slug(&self, slug: &str) -> Result<Option<Clinic>, PortError> {
        Ok(lock(&self.state)
            .clinics
            .iter()
            .find(|c| c.slug.as_deref() == Some(slug) && c.deleted_at.is_none())
            .cloned())
    }

    async fn list_clinics(
        &self,
        filter: &ClinicFilter,
        window: Window,
    ) -> Result<Vec<ClinicListItem>, PortError> {
        let state = lock(&self.state);
        let mut rows: Vec<&Clinic> = state
            .clinics
            .iter()
            .filter(|c| c.deleted_at.is_none())
            .filter(|c| filter.is_active.is_none_or(|a| c.is_active == a))
            .filter(|c| filter.status.is_none_or(|s| c.status == s))
            .filter(|c| {
                filter
                    .name_search
                    .as_ref()
                    .is_none_or(|n| c.name.to_lowercase().contains(&n.to_lowercase()))
            })
            .filter(|c| {
                filter
                    .min_rating
                    .is_none_or(|m| c.rating.is_some_and(|r| r >= m))
            })
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(window.apply(rows.into_iter().map(|c| ClinicListItem::of(c, None))))
    }

    async fn nearby_clinics(
        &self,
        geo: GeoQuery,
        filter: &NearbyClinicFilter,
        window: Window,
    ) -> Result<Vec<ClinicListItem>, PortError> {
        let state = lock(&self.state);
        let mut rows: Vec<(f64, &Clinic)> = state
            .clinics
            .iter()
            .filter(|c| c.deleted_at.is_none())
            .filter(|c| filter.is_active.is_none_or(|a| c.is_active == a))
            .filter(|c| {
                filter
                    .min_rating
                    .is_none_or(|m| c.rating.is_some_and(|r| r >= m))
            })
            .filter_map(|c| clinic_distance(c, &geo).map(|d| (d, c)))
            .collect();
        rows.sort_by(|(da, a), (db, b)| {
            da.total_cmp(db)
                .then(a.name.cmp(&b.name))
                .then(a.id.cmp(&b.id))
        });
        Ok(window.apply(
            rows.into_iter()
                .map(|(d, c)| ClinicListItem::of(c, Some(d))),
        ))
    }

    async fn slugs_like(&self, base: &str) -> Result<Vec<String>, PortError> {
        Ok(lock(&self.state)
            .clinics
            .iter()
            .filter_map(|c| c.slug.clone())
            .filter(|s| is_suffixed_form_of(s, base))
            .collect())
    }

    async fn insert_clinic(
        &self,
        insert: &ClinicInsert,
        stamp: &AuditStamp,
    ) -> Result<Clinic, RepoWriteError> {
        let now = self.now();
        let mut state = lock(&self.state);
        for slug in std::mem::take(&mut state.racing_slugs) {
            state
                .clinics
                .push(clinic_row("Concurrent clinic", &slug, None, now));
        }
        if state.slug_taken(&insert.slug, None) {
            return Err(RepoWriteError::SlugTaken);
        }
        let c = &insert.clinic;
        let clinic = Clinic {
            name: c.name.clone(),
            slug: Some(insert.slug.clone()),
            description: c.description.clone(),
            logo_url: c.logo_url.clone(),
            contacts: c.contacts.clone().map(Value::Object),
            address: c.address.clone(),
            latitude: c.latitude.map(round_coordinate),
            longitude: c.longitude.map(round_coordinate),
            opening_hours: c.opening_hours.clone().map(Value::Object),
            id: ClinicId::new_v7(),
            rating: None,
            rating_count: 0,
            status: ClinicStatus::Active,
            is_active: true,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        state.clinics.push(clinic.clone());
        state.audit(
            stamp,
            "clinic.create",
            "clinic",
            clinic.id.to_string(),
            Some(insert.audit_details()),
        );
        Ok(clinic)
    }

    async fn update_clinic(
        &self,
        id: ClinicId,
        patch: &ClinicPatch,
        stamp: &AuditStamp,
    ) -> Result<Clinic, RepoWriteError> {
        let now = self.now();
        let mut state = lock(&self.state);
        if state.live_clinic(id).is_none() {
            return Err(RepoWriteError::NotFound);
        }
        if let Some(slug) = &patch.slug
            && state.slug_taken(slug, Some(id))
        {
            return Err(RepoWriteError::SlugTaken);
        }
        let Some(clinic) = state.clinics.iter_mut().find(|c| c.id == id) else {
            return Err(RepoWriteError::NotFound);
        };
        let p = patch.clone();
        if let Some(v) = p.name {
            clinic.name = v;
        }
        if let Some(v) = p.slug {
            clinic.slug = Some(v);
        }
        if let Some(v) = p.description {
            clinic.description = Some(v);
        }
        if let Some(v) = p.logo_url {
            clinic.logo_url = Some(v);
        }
        if let Some(v) = p.contacts {
            clinic.contacts = Some(Value::Object(v));
        }
        if let Some(v) = p.address {
            clinic.address = v;
        }
        if let Some(v) = p.latitude {
            clinic.latitude = Some(round_coordinate(v));
        }
        if let Some(v) = p.longitude {
            clinic.longitude = Some(round_coordinate(v));
        }
        if let Some(v) = p.opening_hours {
            clinic.opening_hours = Some(Value::Object(v));
        }
        if let Some(v) = p.status {
            clinic.status = v;
        }
        clinic.updated_at = now;
        let updated = clinic.clone();
        state.audit(
            stamp,
            "clinic.update",
            "clinic",
            id.to_string(),
            Some(patch.audit_details()),
        );
        Ok(updated)
    }

    async fn delete_clinic(
        &self,
        id: ClinicId,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<(), RepoWriteError> {
        let mut state = lock(&self.state);
        let Some(clinic) = state
            .clinics
            .iter_mut()
            .find(|c| c.id == id && c.deleted_at.is_none())
        else {
            return Err(RepoWriteError::NotFound);
        };
        clinic.deleted_at = Some(now);
        state.audit(stamp, "clinic.delete", "clinic", id.to_string(), None);
        Ok(())
    }

    async fn find_association(&self, id: AssociationId) -> Result<Option<Association>, PortError> {
        Ok(lock(&self.state)
            .associations
            .iter()
            .find(|a| a.id == id)
            .cloned())
    }

    async fn insert_association(
        &self,
        new: &NewAssociation,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<Association, RepoWriteError> {
        let mut state = lock(&self.state);
        if state.live_clinic(new.clinic_id).is_none() {
            return Err(RepoWriteError::ClinicNotFound);
        }
        if !state.doctors.iter().any(|d| d.id == new.doctor_id) {
            return Err(RepoWriteError::DoctorNotFound);
        }
        if state.associations.iter().any(|a| {
            a.doctor_id == new.doctor_id && a.clinic_id == new.clinic_id && a.end_date.is_none()
        }) {
            return Err(RepoWriteError::AlreadyAssociated);
        }
        let association = Association {
            is_primary: new.is_primary,
            consultation_fee: new.consultation_fee,
            consultation_duration_minutes: new.consultation_duration_minutes,
            department: new.department.clone(),
            designation: new.designation.clone(),
            available_days: new.available_days.clone(),
            available_time_slots: new.available_time_slots.clone(),
            appointment_booking_enabled: new.appointment_booking_enabled,
            id: AssociationId::new_v7(),
            doctor_id: new.doctor_id,
            clinic_id: new.clinic_id,
            start_date: now,
            end_date: None,
            total_appointments: 0,
            completed_appointments: 0,
            rating_at_clinic: None,
            rating_count_at_clinic: 0,
            status: AssociationStatus::Active,
            created_at: now,
            updated_at: now,
        };
        state.associations.push(association.clone());
        state.audit(
            stamp,
            "doctor_clinic.create",
            "doctor_clinic",
            association.id.to_string(),
            Some(new.audit_details()),
        );
        Ok(association)
    }

    async fn update_association(
        &self,
        id: AssociationId,
        patch: &AssociationPatch,
        stamp: &AuditStamp,
    ) -> Result<Association, RepoWriteError> {
        let now = self.now();
        let mut state = lock(&self.state);
        let Some(a) = state.associations.iter_mut().find(|a| a.id == id) else {
            return Err(RepoWriteError::NotFound);
        };
        let p = patch.clone();
        if let Some(v) = p.is_primary {
            a.is_primary = v;
        }
        if let Some(v) = p.consultation_fee {
            a.consultation_fee = Some(v);
        }
        if let Some(v) = p.consultation_duration_minutes {
            a.consultation_duration_minutes = Some(v);
        }
        if let Some(v) = p.department {
            a.department = Some(v);
        }
        if let Some(v) = p.designation {
            a.designation = Some(v);
        }
        if let Some(v) = p.available_days {
            a.available_days = Some(v);
        }
        if let Some(v) = p.available_time_slots {
            a.available_time_slots = Some(v);
        }
        if let Some(v) = p.appointment_booking_enabled {
            a.appointment_booking_enabled = v;
        }
        if let Some(v) = p.status {
            a.status = v;
        }
        a.updated_at = now;
        let updated = a.clone();
        state.audit(
            stamp,
            "doctor_clinic.update",
            "doctor_clinic",
            id.to_string(),
            Some(patch.audit_details()),
        );
        Ok(updated)
    }

    async fn end_association(
        &self,
        id: AssociationId,
        end_date: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<Association, RepoWriteError> {
        let now = self.now();
        let mut state = lock(&self.state);
        let Some(a) = state.associations.iter_mut().find(|a| a.id == id) else {
            return Err(RepoWriteError::NotFound);
        };
        a.end_date = Some(end_date);
        a.status = AssociationStatus::Inactive;
        a.updated_at = now;
        let ended = a.clone();
        state.audit(
            stamp,
            "doctor_clinic.end",
            "doctor_clinic",
            id.to_string(),
            Some(serde_json::json!({"end_date": end_date.to_rfc3339()})),
        );
        Ok(ended)
    }

    async fn end_open_associations(
        &self,
        doctor: DoctorId,
        clinic: ClinicId,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<u64, PortError> {
        let mut state = lock(&self.state);
        if state.live_clinic(clinic).is_none() {
            return Ok(0);
        }
        let mut ended = Vec::new();
        for a in state
            .associations
            .iter_mut()
            .filter(|a| a.doctor_id == doctor && a.clinic_id == clinic && a.end_date.is_none())
        {
            a.end_date = Some(now);
            a.status = AssociationStatus::Inactive;
            a.updated_at = now;
            ended.push(a.id);
        }
        for id in &ended {
            state.audit(
                stamp,
                "doctor_clinic.remove",
                "doctor_clinic",
                id.to_string(),
                None,
            );
        }
        Ok(u64::try_from(ended.len()).unwrap_or(u64::MAX))
    }

    async fn clinic_doctors(
        &self,
        clinic: ClinicId,
        active_only: bool,
    ) -> Result<Vec<DoctorAtClinic>, PortError> {
        let state = lock(&self.state);
        if state.live_clinic(clinic).is_none() {
            return Ok(Vec::new());
        }
        let mut rows: Vec<(&Association, &Doctor)> = state
            .associations
            .iter()
            .filter(|a| a.clinic_id == clinic && (!active_only || a.is_current()))
            .filter_map(|a| {
                state
                    .doctors
                    .iter()
                    .find(|d| d.id == a.doctor_id)
                    .map(|d| (a, d))
            })
            .collect();
        rows.sort_by(|(a1, d1), (a2, d2)| {
            a2.is_primary
                .cmp(&a1.is_primary)
                .then(d1.full_name.cmp(&d2.full_name))
                .then(a1.id.cmp(&a2.id))
        });
        Ok(rows
            .into_iter()
            .map(|(a, d)| DoctorAtClinic {
                doctor_id: d.id,
                doctor_name: d.full_name.clone(),
                specialization: d.specialization.clone(),
                license_number: d.license_number.clone(),
                experience_years: d.experience_years,
                consultation_fee: a.consultation_fee,
                consultation_duration_minutes: a.consultation_duration_minutes,
                department: a.department.clone(),
                designation: a.designation.clone(),
                available_days: a.available_days.clone(),
                available_time_slots: a.available_time_slots.clone(),
                rating_at_clinic: a.rating_at_clinic,
                rating_count_at_clinic: a.rating_count_at_clinic,
                is_primary: a.is_primary,
                status: a.status,
            })
            .collect())
    }

    async fn doctor_clinics(
        &self,
        doctor: DoctorId,
        active_only: bool,
    ) -> Result<Vec<ClinicForDoctor>, PortError> {
        let state = lock(&self.state);
        let mut rows: Vec<(&Association, &Clinic)> = state
            .associations
            .iter()
            .filter(|a| a.doctor_id == doctor && (!active_only || a.is_current()))
            .filter_map(|a| state.live_clinic(a.clinic_id).map(|c| (a, c)))
            .collect();
        rows.sort_by(|(a1, c1), (a2, c2)| {
            a2.is_primary
                .cmp(&a1.is_primary)
                .then(c1.name.cmp(&c2.name))
                .then(a1.id.cmp(&a2.id))
        });
        Ok(rows
            .into_iter()
            .map(|(a, c)| ClinicForDoctor {
                clinic_id: c.id,
                clinic_name: c.name.clone(),
                clinic_address: c.address.clone(),
                clinic_latitude: c.latitude,
                clinic_longitude: c.longitude,
                consultation_fee: a.consultation_fee,
                department: a.department.clone(),
                designation: a.designation.clone(),
                available_days: a.available_days.clone(),
                is_primary: a.is_primary,
                status: a.status,
            })
            .collect())
    }

    async fn doctor_clinic_summaries(
        &self,
        doctor: DoctorId,
    ) -> Result<Vec<DoctorClinicSummary>, PortError> {
        let state = lock(&self.state);
        let mut rows: Vec<(&Association, &Clinic)> = state
            .associations
            .iter()
            .filter(|a| a.doctor_id == doctor && a.is_current())
            .filter_map(|a| state.live_clinic(a.clinic_id).map(|c| (a, c)))
            .collect();
        rows.sort_by(|(a1, c1), (a2, c2)| {
            a2.is_primary
                .cmp(&a1.is_primary)
                .then(c1.name.cmp(&c2.name))
                .then(a1.id.cmp(&a2.id))
        });
        Ok(rows
            .into_iter()
            .map(|(a, c)| DoctorClinicSummary {
                association: a.clone(),
                clinic_name: c.name.clone(),
                clinic_address: c.address.clone(),
                latitude: c.latitude,
                longitude: c.longitude,
            })
            .collect())
    }

    async fn find_doctor(&self, id: DoctorId) -> Result<Option<Doctor>, PortError> {
        Ok(lock(&self.state)
            .doctors
            .iter()
            .find(|d| d.id == id)
            .cloned())
    }

    async fn list_doctors(
        &self,
        filter: &DoctorFilter,
        window: Window,
    ) -> Result<Vec<DoctorListItem>, PortError> {
        let state = lock(&self.state);
        let mut rows: Vec<&Doctor> = state
            .doctors
            .iter()
            .filter(|d| doctor_matches(d, filter))
            .collect();
        rows.sort_by(|a, b| {
            rating_desc_nulls_last(a.rating, b.rating)
                .then(match (a.experience_years, b.experience_years) {
                    (Some(x), Some(y)) => y.cmp(&x),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
                .then(a.id.cmp(&b.id))
        });
        Ok(window.apply(rows.into_iter().map(DoctorListItem::of)))
    }

    async fn nearby_doctors(
        &self,
        filter: &NearbyDoctorFilter,
        window: Window,
    ) -> Result<Vec<DoctorListItem>, PortError> {
        let state = lock(&self.state);
        let doctor_filter = DoctorFilter {
            specialization: filter.specialization.clone(),
            is_verified: filter.only_verified.then_some(true),
            min_rating: filter.min_rating,
            ..DoctorFilter::default()
        };
        let mut rows: Vec<(f64, &Doctor, &Clinic)> = state
            .associations
            .iter()
            .filter(|a| a.is_current() && a.appointment_booking_enabled)
            .filter_map(|a| {
                let clinic = state.live_clinic(a.clinic_id).filter(|c| c.is_active)?;
                let distance = clinic_distance(clinic, &filter.geo)?;
                let doctor = state
                    .doctors
                    .iter()
                    .find(|d| d.id == a.doctor_id && doctor_matches(d, &doctor_filter))?;
                Some((distance, doctor, clinic))
            })
            .collect();
        rows.sort_by(|(da, a, ca), (db, b, cb)| {
            da.total_cmp(db)
                .then(rating_desc_nulls_last(a.rating, b.rating))
                .then(a.id.cmp(&b.id))
                .then(ca.id.cmp(&cb.id))
        });
        Ok(window.apply(rows.into_iter().map(|(d, doctor, clinic)| {
            let mut item = DoctorListItem::of(doctor);
            item.distance_km = Some(d);
            item.clinic_id = Some(clinic.id);
            item.clinic_name = Some(clinic.name.clone());
            item
        })))
    }

    async fn insert_doctor(
        &self,
        new: &NewDoctor,
        stamp: &AuditStamp,
    ) -> Result<Doctor, RepoWriteError> {
        let now = self.now();
        let mut state = lock(&self.state);
        if state
            .doctors
            .iter()
            .any(|d| d.license_number.as_deref() == Some(new.license_number.as_str()))
        {
            return Err(RepoWriteError::LicenseTaken);
        }
        if state.doctors.iter().any(|d| d.email == new.email) {
            return Err(RepoWriteError::EmailTaken);
        }
        let doctor = doctor_from(new, now);
        state.doctors.push(doctor.clone());
        state.audit(
            stamp,
            "doctor.create",
            "doctor",
            doctor.id.to_string(),
            Some(new.audit_details()),
        );
        Ok(doctor)
    }

    async fn update_doctor(
        &self,
        id: DoctorId,
        patch: &DoctorPatch,
        stamp: &AuditStamp,
    ) -> Result<Doctor, RepoWriteError> {
        let now = self.now();
        let mut state = lock(&self.state);
        let Some(d) = state.doctors.iter_mut().find(|d| d.id == id) else {
            return Err(RepoWriteError::NotFound);
        };
        let p = patch.clone();
        if let Some(v) = p.specialization {
            d.specialization = Some(v);
        }
        if let Some(v) = p.sub_specialization {
            d.sub_specialization = Some(v);
        }
        if let Some(v) = p.qualification {
            d.qualification = Some(v);
        }
        if let Some(v) = p.experience_years {
            d.experience_years = Some(v);
        }
        if let Some(v) = p.consultation_fee {
            d.consultation_fee = Some(v);
        }
        if let Some(v) = p.consultation_duration_minutes {
            d.consultation_duration_minutes = Some(v);
        }
        if let Some(v) = p.bio {
            d.bio = Some(v);
        }
        if let Some(v) = p.languages_spoken {
            d.languages_spoken = Some(v);
        }
        if let Some(v) = p.medical_council_registration {
            d.medical_council_registration = Some(v);
        }
        d.updated_at = now;
        let updated = d.clone();
        state.audit(
            stamp,
            "doctor.update",
            "doctor",
            id.to_string(),
            Some(patch.audit_details()),
        );
        Ok(updated)
    }

    async fn verify_doctor(
        &self,
        id: DoctorId,
        verification: &Verification,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<Doctor, RepoWriteError> {
        let mut state = lock(&self.state);
        let Some(d) = state.doctors.iter_mut().find(|d| d.id == id) else {
            return Err(RepoWriteError::NotFound);
        };
        d.is_verified = true;
        d.verified_at = Some(now);
        d.verified_by = Some(verification.verified_by);
        if let Some(docs) = verification.replacement_documents() {
            d.verification_documents = Some(Value::Object(docs.clone()));
        }
        d.updated_at = now;
        let verified = d.clone();
        state.audit(stamp, "doctor.verify", "doctor", id.to_string(), None);
        Ok(verified)
    }

    async fn unverify_doctor(
        &self,
        id: DoctorId,
        stamp: &AuditStamp,
    ) -> Result<Doctor, RepoWriteError> {
        let now = self.now();
        let mut state = lock(&self.state);
        let Some(d) = state.doctors.iter_mut().find(|d| d.id == id) else {
            return Err(RepoWriteError::NotFound);
        };
        d.is_verified = false;
        d.verified_at = None;
        d.verified_by = None;
        d.updated_at = now;
        let unverified = d.clone();
        state.audit(stamp, "doctor.unverify", "doctor", id.to_string(), None);
        Ok(unverified)
    }
}

#[derive(Default)]
struct CacheState {
    clinics: HashMap<ClinicId, String>,
    doctors: HashMap<DoctorId, String>,
    hits: u64,
    misses: u64,
    down: bool,
}

/// [`DirectoryCache`] in memory, holding the JSON the Redis adapter would store; it can be
/// switched "down" to check that callers never notice.
#[derive(Clone, Default)]
pub struct InMemoryDirectoryCache {
    state: Arc<Mutex<CacheState>>,
}

impl InMemoryDirectoryCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every call fail (reads miss, writes are skipped) until switched back.
    pub fn set_down(&self, down: bool) {
        lock(&self.state).down = down;
    }

    /// `(hits, misses)` so far.
    pub fn stats(&self) -> (u64, u64) {
        let state = lock(&self.state);
        (state.hits, state.misses)
    }

    /// Whether a clinic is cached.
    pub fn holds_clinic(&self, id: ClinicId) -> bool {
        lock(&self.state).clinics.contains_key(&id)
    }

    /// Whether a doctor is cached.
    pub fn holds_doctor(&self, id: DoctorId) -> bool {
        lock(&self.state).doctors.contains_key(&id)
    }
}

impl DirectoryCache for InMemoryDirectoryCache {
    async fn clinic(&self, id: ClinicId) -> Option<Clinic> {
        let mut state = lock(&self.state);
        let found = if state.down {
            None
        } else {
            state
                .clinics
                .get(&id)
                .and_then(|json| serde_json::from_str(json).ok())
        };
        if found.is_some() {
            state.hits += 1;
        } else {
            state.misses += 1;
        }
        found
    }

    async fn put_clinic(&self, clinic: &Clinic) {
        let mut state = lock(&self.state);
        if !state.down
            && let Ok(json) = serde_json::to_string(clinic)
        {
            state.clinics.insert(clinic.id, json);
        }
    }

    async fn invalidate_clinic(&self, id: ClinicId) {
        let mut state = lock(&self.state);
        if !state.down {
            state.clinics.remove(&id);
        }
    }

    async fn doctor(&self, id: DoctorId) -> Option<Doctor> {
        let mut state = lock(&self.state);
        let found = if state.down {
            None
        } else {
            state
                .doctors
                .get(&id)
                .and_then(|json| serde_json::from_str(json).ok())
        };
        if found.is_some() {
            state.hits += 1;
        } else {
            state.misses += 1;
        }
        found
    }

    async fn put_doctor(&self, doctor: &Doctor) {
        let mut state = lock(&self.state);
        if !state.down
            && let Ok(json) = serde_json::to_string(doctor)
        {
            state.doctors.insert(doctor.id, json);
        }
    }

    async fn invalidate_doctor(&self, id: DoctorId) {
        let mut state = lock(&self.state);
        if !state.down {
            state.doctors.remove(&id);
        }
    }
}

/// Behaviour every [`DirectoryRepository`] must show, run against the in-memory fake (unit
/// tests) and the PostgreSQL adapter (server integration tests) so the two cannot drift.
pub mod contract {
    use chrono::{DateTime, Utc};
    use medico24_kernel::{AuditStamp, ClinicId, DoctorId, PortError, UserId};
    use serde_json::Map;

    use super::{new_association, new_doctor, sphere_distance_km};
    use crate::association::{AssociationPatch, AssociationStatus};
    use crate::clinic::{
        ClinicFilter, ClinicInsert, ClinicPatch, GeoQuery, NearbyClinicFilter, NewClinic, Window,
    };
    use crate::doctor::{DoctorFilter, DoctorPatch, NearbyDoctorFilter, Verification};
    use crate::ports::{DirectoryRepository, RepoWriteError};

    /// How many audit events a run of [`directory_repository`] writes: one per successful write.
    pub const AUDITED_WRITES: usize = 16;

    fn ok<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> T {
        match result {
            Ok(value) => value,
            Err(error) => panic!("{what}: unexpected error: {error}"),
        }
    }

    fn port<T>(result: Result<T, PortError>, what: &str) -> T {
        ok(result, what)
    }

    fn insert(name: &str, slug: &str, at: Option<(f64, f64)>) -> ClinicInsert {
        ClinicInsert {
            clinic: NewClinic {
                name: name.to_owned(),
                address: format!("{name}, Mumbai"),
                latitude: at.map(|(lat, _)| lat),
                longitude: at.map(|(_, lng)| lng),
                ..NewClinic::default()
            },
            slug: slug.to_owned(),
        }
    }

    /// Runs every check against an empty `repo`; `now` must be in whole microseconds.
    ///
    /// # Panics
    /// On the first behaviour that differs from the port's documentation.
    pub async fn directory_repository<R: DirectoryRepository>(repo: &R, now: DateTime<Utc>) {
        let admin = UserId::new_v7();
        // No acting user row exists in an empty database (audit_events.actor_user_id has a foreign
        // key), so the contract writes as the admin-secret actor; `admin` only verifies doctors.
        let stamp = AuditStamp::admin_secret("contract", None);
        let mumbai = (19.0760, 72.8777);

        // Clinics: defaults, coordinates rounded to 8 places, slugs unique (deleted included).
        let a = ok(
            repo.insert_clinic(&insert("Contract A", "contract-a", Some(mumbai)), &stamp)
                .await,
            "insert a",
        );
        assert_eq!((a.rating, a.rating_count, a.is_active), (None, 0, true));
        assert_eq!(a.latitude, Some(19.076));
        let b = ok(
            repo.insert_clinic(
                &insert("Contract B", "contract-a-2", Some((19.123_456_789, 72.9))),
                &stamp,
            )
            .await,
            "insert b",
        );
        assert_eq!(b.latitude, Some(19.123_456_79));
        ok(
            repo.insert_clinic(&insert("Contract C", "contract-a-b", None), &stamp)
                .await,
            "insert c",
        );
        let taken = repo
            .insert_clinic(&insert("Again", "contract-a", None), &stamp)
            .await;
        assert!(matches!(taken, Err(RepoWriteError::SlugTaken)), "{taken:?}");
        let mut slugs = port(repo.slugs_like("contract-a").await, "slugs_like");
        slugs.sort();
        assert_eq!(slugs, ["contract-a", "contract-a-2"]);

        // Updates: partial; unknown → NotFound; another's slug → SlugTaken.
        let patch = ClinicPatch {
            description: Some("Updated".to_owned()),
            longitude: Some(72.877_700_004),
            ..ClinicPatch::default()
        };
        let updated = ok(repo.update_clinic(a.id, &patch, &stamp).await, "update a");
        assert_eq!(updated.description.as_deref(), Some("Updated"));
        assert_eq!(updated.longitude, Some(72.8777));
        assert_eq!(updated.name, "Contract A");
        let unknown = repo.update_clinic(ClinicId::new_v7(), &patch, &stamp).await;
        assert!(
            matches!(unknown, Err(RepoWriteError::NotFound)),
            "{unknown:?}"
        );
        let steal = ClinicPatch {
            slug: Some("contract-a".to_owned()),
            ..ClinicPatch::default()
        };
        let stolen = repo.update_clinic(b.id, &steal, &stamp).await;
        assert!(
            matches!(stolen, Err(RepoWriteError::SlugTaken)),
            "{stolen:?}"
        );

        // Listings: name order, filters, windows; nearby on the sphere.
        let all = port(
            repo.list_clinics(&ClinicFilter::default(), Window::default())
                .await,
            "list",
        );
        let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Contract A", "Contract B", "Contract C"]);
        let search = ClinicFilter {
            name_search: Some("T B".to_owned()),
            ..ClinicFilter::default()
        };
        let found = port(
            repo.list_clinics(&search, Window::default()).await,
            "search",
        );
        assert_eq!(found.len(), 1);
        let geo = GeoQuery {
            latitude: mumbai.0,
            longitude: mumbai.1,
            radius_km: 10.0,
        };
        let near = port(
            repo.nearby_clinics(geo, &NearbyClinicFilter::default(), Window::default())
                .await,
            "nearby",
        );
        let near_ids: Vec<ClinicId> = near.iter().map(|c| c.id).collect();
        assert_eq!(near_ids, [a.id, b.id]);
        let expected = sphere_distance_km(mumbai.0, mumbai.1, 19.123_456_79, 72.9);
        let reported = near[1].distance_km.unwrap_or_default();
        assert!(
            (reported - expected).abs() < 1e-6,
            "{reported} vs {expected}"
        );

        // Doctors: license checked before email; patches; verification.
        let first = new_doctor("Contract Doctor", "C-LIC-1", "contract@example.com");
        let mut languages = first.clone();
        languages.languages_spoken = Some(vec!["Hindi".to_owned(), "Tamil".to_owned()]);
        languages.consultation_fee = Some(450.5);
        let doctor = ok(
            repo.insert_doctor(&languages, &stamp).await,
            "insert doctor",
        );
        assert!(!doctor.is_verified);
        assert_eq!(doctor.consultation_fee, Some(450.5));
        let both = repo.insert_doctor(&first, &stamp).await;
        assert!(
            matches!(both, Err(RepoWriteError::LicenseTaken)),
            "{both:?}"
        );
        let mut email = first.clone();
        email.license_number = "C-LIC-2".to_owned();
        let taken = repo.insert_doctor(&email, &stamp).await;
        assert!(
            matches!(taken, Err(RepoWriteError::EmailTaken)),
            "{taken:?}"
        );
        let speaks = |language: &str| DoctorFilter {
            languages: vec!["Bengali".to_owned(), language.to_owned()],
            ..DoctorFilter::default()
        };
        assert_eq!(
            port(
                repo.list_doctors(&speaks("Tamil"), Window::default()).await,
                "tamil"
            )
            .len(),
            1
        );
        assert!(
            port(
                repo.list_doctors(&speaks("tamil"), Window::default()).await,
                "lower"
            )
            .is_empty()
        );
        let patch = DoctorPatch {
            bio: Some("Bio".to_owned()),
            ..DoctorPatch::default()
        };
        let missing = repo.update_doctor(DoctorId::new_v7(), &patch, &stamp).await;
        assert!(
            matches!(missing, Err(RepoWriteError::NotFound)),
            "{missing:?}"
        );
        let mut documents = Map::new();
        documents.insert("license".to_owned(), serde_json::json!("scan.pdf"));
        let verification = Verification {
            verified_by: admin,
            documents: Some(documents),
        };
        let verified = ok(
            repo.verify_doctor(doctor.id, &verification, now, &stamp)
                .await,
            "verify",
        );
        assert_eq!(
            (
                verified.is_verified,
                verified.verified_by,
                verified.verified_at
            ),
            (true, Some(admin), Some(now))
        );
        let unverified = ok(repo.unverify_doctor(doctor.id, &stamp).await, "unverify");
        assert_eq!(
            (unverified.verified_by, unverified.verified_at),
            (None, None)
        );
        assert!(unverified.verification_documents.is_some());
        ok(
            repo.verify_doctor(doctor.id, &verification, now, &stamp)
                .await,
            "reverify",
        );

        // Associations: clinic before doctor, one open association per pair.
        let unknown_clinic = repo
            .insert_association(
                &new_association(DoctorId::new_v7(), ClinicId::new_v7()),
                now,
                &stamp,
            )
            .await;
        assert!(
            matches!(unknown_clinic, Err(RepoWriteError::ClinicNotFound)),
            "{unknown_clinic:?}"
        );
        let unknown_doctor = repo
            .insert_association(&new_association(DoctorId::new_v7(), a.id), now, &stamp)
            .await;
        assert!(
            matches!(unknown_doctor, Err(RepoWriteError::DoctorNotFound)),
            "{unknown_doctor:?}"
        );
        let mut primary = new_association(doctor.id, b.id);
        primary.is_primary = true;
        primary.consultation_fee = Some(700.25);
        let at_b = ok(
            repo.insert_association(&primary, now, &stamp).await,
            "assoc b",
        );
        assert_eq!(
            (at_b.status, at_b.start_date, at_b.end_date),
            (AssociationStatus::Active, now, None)
        );
        let at_a = ok(
            repo.insert_association(&new_association(doctor.id, a.id), now, &stamp)
                .await,
            "assoc a",
        );
        let again = repo
            .insert_association(&new_association(doctor.id, a.id), now, &stamp)
            .await;
        assert!(
            matches!(again, Err(RepoWriteError::AlreadyAssociated)),
            "{again:?}"
        );
        let clinics = port(repo.doctor_clinics(doctor.id, true).await, "doctor clinics");
        let order: Vec<ClinicId> = clinics.iter().map(|c| c.clinic_id).collect();
        assert_eq!(order, [b.id, a.id], "primary first");
        assert_eq!(clinics[0].consultation_fee, Some(700.25));
        let nearby = NearbyDoctorFilter {
            geo,
            specialization: Some("PHYSICIAN".to_owned()),
            only_verified: true,
            min_rating: None,
        };
        let pairs = port(
            repo.nearby_doctors(&nearby, Window::default()).await,
            "nearby doctors",
        );
        let pair_clinics: Vec<Option<ClinicId>> = pairs.iter().map(|p| p.clinic_id).collect();
        assert_eq!(pair_clinics, [Some(a.id), Some(b.id)]);

        let status = AssociationPatch {
            status: Some(AssociationStatus::OnLeave),
            ..AssociationPatch::default()
        };
        let on_leave = ok(
            repo.update_association(at_a.id, &status, &stamp).await,
            "leave",
        );
        assert_eq!(on_leave.status, AssociationStatus::OnLeave);
        assert_eq!(
            port(repo.clinic_doctors(a.id, true).await, "active at a").len(),
            0
        );
        assert_eq!(
            port(repo.clinic_doctors(a.id, false).await, "all at a").len(),
            1
        );
        let ended = ok(repo.end_association(at_a.id, now, &stamp).await, "end");
        assert_eq!(
            (ended.status, ended.end_date),
            (AssociationStatus::Inactive, Some(now))
        );
        ok(
            repo.insert_association(&new_association(doctor.id, a.id), now, &stamp)
                .await,
            "reassociate after the end",
        );
        assert_eq!(
            port(
                repo.end_open_associations(doctor.id, a.id, now, &stamp)
                    .await,
                "remove"
            ),
            1
        );
        assert_eq!(
            port(
                repo.end_open_associations(doctor.id, a.id, now, &stamp)
                    .await,
                "again"
            ),
            0
        );

        // Soft deletion: hidden everywhere, slug kept, no new associations.
        ok(repo.delete_clinic(b.id, now, &stamp).await, "delete b");
        let twice = repo.delete_clinic(b.id, now, &stamp).await;
        assert!(matches!(twice, Err(RepoWriteError::NotFound)), "{twice:?}");
        assert!(port(repo.find_clinic(b.id).await, "find b").is_none());
        assert!(port(repo.find_clinic_by_slug("contract-a-2").await, "slug b").is_none());
        assert!(
            port(repo.slugs_like("contract-a").await, "slugs").contains(&"contract-a-2".to_owned())
        );
        let gone = repo.update_clinic(b.id, &patch_name(), &stamp).await;
        assert!(matches!(gone, Err(RepoWriteError::NotFound)), "{gone:?}");
        assert!(port(repo.doctor_clinic_summaries(doctor.id).await, "summaries").is_empty());
        assert!(port(repo.clinic_doctors(b.id, false).await, "at b").is_empty());
        assert!(
            port(repo.doctor_clinics(doctor.id, false).await, "clinics")
                .iter()
                .all(|c| c.clinic_id != b.id)
        );
        let other = ok(
            repo.insert_doctor(&new_doctor("Other", "C-LIC-3", "other@example.com"), &stamp)
                .await,
            "other doctor",
        );
        let refused = repo
            .insert_association(&new_association(other.id, b.id), now, &stamp)
            .await;
        assert!(
            matches!(refused, Err(RepoWriteError::ClinicNotFound)),
            "{refused:?}"
        );
        assert_eq!(
            port(
                repo.end_open_associations(doctor.id, b.id, now, &stamp)
                    .await,
                "deleted pair"
            ),
            0
        );
    }

    fn patch_name() -> ClinicPatch {
        ClinicPatch {
            name: Some("Renamed".to_owned()),
            ..ClinicPatch::default()
        }
    }
}
