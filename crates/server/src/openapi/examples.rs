//! Examples of the document: one per schema that a request body or a 2xx answer uses, keyed by
//! the schema's name (see [`by_schema`]), and the error envelopes.
//!
//! They are realistic but invented: names, e-mail addresses (`example.com`), phone numbers and
//! tokens belong to nobody. The integration tests check every example against its schema.

use serde_json::{Value, json};

/// A 404 envelope.
pub fn error_not_found() -> Value {
    json!({
        "error": "not_found",
        "message": "Appointment not found",
        "detail": "Appointment not found",
        "path": format!("/api/v1/appointments/{APPOINTMENT}"),
        "request_id": REQUEST
    })
}

/// A 422 envelope.
pub fn validation_error() -> Value {
    json!({
        "error": "validation_error",
        "message": "contact_phone must contain at least 7 digits",
        "detail": "contact_phone must contain at least 7 digits",
        "path": "/api/v1/appointments/",
        "request_id": REQUEST,
        "details": [
            {
                "loc": ["body", "contact_phone"],
                "msg": "contact_phone must contain at least 7 digits",
                "type": "value_error"
            }
        ]
    })
}

/// A 409 refusing a status change.
pub fn conflict_transition() -> Value {
    json!({
        "error": "conflict",
        "message": "Cannot change appointment status from 'cancelled' to 'confirmed'; allowed: none",
        "detail": "Cannot change appointment status from 'cancelled' to 'confirmed'; allowed: none",
        "path": format!("/api/v1/appointments/{APPOINTMENT}/status"),
        "request_id": REQUEST,
        "allowed_statuses": []
    })
}

// Ids of the invented records the examples talk about.
const USER: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const ADMIN: &str = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
const APPOINTMENT: &str = "5b0f7d2c-4f1e-4a8b-9c3d-2e7a1f6b8d90";
const DOCTOR: &str = "9f8c6d1a-3b2e-4c5d-8e7f-1a2b3c4d5e6f";
const CLINIC: &str = "2c1d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6a";
const ASSOCIATION: &str = "4d3c2b1a-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const PHARMACY: &str = "6e5d4c3b-2a1f-4e0d-9c8b-7a6f5e4d3c2b";
const LOCATION: &str = "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c";
const HOURS: &str = "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d";
const NOTIFICATION: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const DELIVERY: &str = "1a2b3c4d-5e6f-4a7b-9c8d-0e1f2a3b4c5e";
const PUSH_TOKEN: &str = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e";
const BROADCAST: &str = "3c4d5e6f-7a8b-4c9d-8e0f-2a3b4c5d6e7f";
const AUDIT_EVENT: &str = "8d7c6b5a-4f3e-4d2c-8b1a-0f9e8d7c6b5a";
const REQUEST: &str = "3f6c2b1e-8d4a-4c3b-9a57-2e1f0d6b7c11";
/// An FCM registration token's shape (not a real device's).
const FCM_TOKEN: &str =
    "dQw4w9WgXcQ:APA91bExampleExampleExampleExampleExampleExampleExampleExample";
/// Tokens' shapes: three base64url parts, the last not a real signature.
const ACCESS_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI3YzllNjY3OS03NDI1LTQwZGUtOTQ0Yi1lMDdmYzFmOTBhZTciLCJ0eXBlIjoiYWNjZXNzIn0.ZXhhbXBsZS1zaWduYXR1cmU";
const REFRESH_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI3YzllNjY3OS03NDI1LTQwZGUtOTQ0Yi1lMDdmYzFmOTBhZTciLCJ0eXBlIjoicmVmcmVzaCJ9.ZXhhbXBsZS1zaWduYXR1cmU";

/// The example of every schema a request body or a 2xx answer uses, by schema name.
pub fn by_schema() -> Vec<(&'static str, Value)> {
    vec![
        // Health
        (
            "RootResponse",
            json!({"message": "Welcome to Medico24 API", "version": "0.1.0", "docs": "/docs"}),
        ),
        (
            "HealthResponse",
            json!({"status": "healthy", "version": "0.1.0", "environment": "production"}),
        ),
        ("PingResponse", json!({"message": "pong"})),
        ("DetailedHealthResponse", detailed_health()),
        (
            "ReadyResponse",
            json!({"status": "healthy", "database": "healthy", "redis": "healthy"}),
        ),
        // Auth and users
        (
            "FirebaseLoginRequest",
            json!({"id_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6ImV4YW1wbGUifQ.eyJpc3MiOiJodHRwczovL3NlY3VyZXRva2VuLmdvb2dsZS5jb20vbWVkaWNvMjQifQ.ZXhhbXBsZS1zaWduYXR1cmU"}),
        ),
        ("LoginResponse", login()),
        ("RefreshRequest", json!({"refresh_token": REFRESH_TOKEN})),
        (
            "TokenPairResponse",
            json!({"access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN, "token_type": "bearer"}),
        ),
        ("UserResponse", user()),
        (
            "NotificationPreferencesResponse",
            json!({"appointment_reminders": false, "appointment_updates": true, "system_announcements": true}),
        ),
        (
            "UpdateNotificationPreferencesRequest",
            json!({"appointment_reminders": false}),
        ),
        (
            "UpdateMeRequest",
            json!({"full_name": "Riya Patel", "phone": "+91 98765 43210"}),
        ),
        (
            "UserProfileResponse",
            json!({"id": USER, "full_name": "Riya Patel", "photo_url": null, "role": "patient", "is_onboarded": true}),
        ),
        ("PersonalDataExport", personal_data_export()),
        (
            "ErasureResponse",
            json!({"user_id": USER, "status": "pending", "requested_at": "2026-03-01T10:00:00Z", "due_at": "2026-03-31T10:00:00Z"}),
        ),
        // Administration
        ("AdminUserResponse", admin_user()),
        (
            "AdminUserPage",
            json!({"users": [admin_user()], "total": 1, "page": 1, "page_size": 20, "total_pages": 1, "next_cursor": null}),
        ),
        (
            "AdminUserUpdateRequest",
            json!({"role": "doctor", "is_active": true}),
        ),
        ("AuditPage", audit_page()),
        ("AdminMetrics", admin_metrics()),
        ("DashboardStats", dashboard()),
        // Live events
        (
            "EventTicketResponse",
            json!({"ticket": "9f2c4e7a1b3d5f6081a2c3e4f5061728394a5b6c7d8e9f00112233445566778", "expires_in": 60}),
        ),
        (
            "AppointmentUpdatedEvent",
            json!({"appointment_id": "0194a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "status": "confirmed", "appointment_at": "2026-03-14T04:30:00Z", "changed": ["status"]}),
        ),
        // Appointments
        (
            "CreateAppointmentRequest",
            json!({
                "doctor_name": "Dr. Meera Iyer",
                "clinic_name": "Lotus Family Clinic",
                "appointment_at": "2026-03-14T04:30:00Z",
                "appointment_end_at": "2026-03-14T05:00:00Z",
                "reason": "Follow-up for seasonal allergies",
                "contact_phone": "+91 98765 43210",
                "notes": "Prefers a morning slot",
                "doctor_id": DOCTOR,
                "clinic_id": CLINIC,
                "source": "patient_app"
            }),
        ),
        (
            "UpdateAppointmentRequest",
            json!({"appointment_at": "2026-03-15T05:30:00Z", "appointment_end_at": "2026-03-15T06:00:00Z", "notes": "Moved to Sunday morning"}),
        ),
        (
            "StatusChangeRequest",
            json!({"status": "confirmed", "notes": "Confirmed by phone"}),
        ),
        ("AppointmentResponse", appointment()),
        (
            "AppointmentPage",
            json!({"total": 1, "page": 1, "page_size": 20, "items": [appointment()]}),
        ),
        (
            "AdminAppointmentPage",
            json!({
                "appointments": [admin_appointment()],
                "total": 1, "page": 1, "page_size": 20, "total_pages": 1, "next_cursor": null
            }),
        ),
        // Pharmacies
        (
            "PharmacyCreateRequest",
            json!({
                "name": "CarePlus Pharmacy",
                "description": "24-hour pharmacy near Bandra station",
                "phone": "+91 22 2640 0000",
                "email": "care@pharmacy.example.com",
                "supports_delivery": true,
                "supports_pickup": true,
                "timezone": "Asia/Kolkata",
                "location": location_in(),
                "hours": [hours_in()]
            }),
        ),
        (
            "PharmacyUpdateRequest",
            json!({"phone": "+91 22 2640 0001", "supports_delivery": false}),
        ),
        (
            "LocationUpdateRequest",
            json!({"address_line": "14 Hill Road, Bandra West", "latitude": 19.0552, "longitude": 72.8302}),
        ),
        ("HoursIn", hours_in()),
        ("PharmacyResponse", pharmacy()),
        ("PharmacyListItemResponse", pharmacy_list_item()),
        ("PharmacyHoursResponse", pharmacy_hours()),
        (
            "PharmacyVerifyResponse",
            json!({"id": PHARMACY, "name": "CarePlus Pharmacy", "is_verified": true, "is_active": true, "updated_at": "2026-02-02T10:15:00Z"}),
        ),
        // Clinics and doctors
        (
            "ClinicCreateRequest",
            json!({
                "name": "Lotus Family Clinic",
                "slug": "lotus-family-clinic",
                "description": "General practice and paediatrics",
                "logo_url": "https://clinic.example.com/logo.png",
                "contacts": {"phone": "+91 22 2645 0000", "email": "desk@clinic.example.com"},
                "address": "12 Hill Road, Bandra West, Mumbai 400050",
                "latitude": 19.0596,
                "longitude": 72.8295,
                "opening_hours": {"mon-fri": "09:00-19:00", "sat": "09:00-13:00"}
            }),
        ),
        (
            "ClinicUpdateRequest",
            json!({"description": "General practice, paediatrics and dermatology", "status": "active"}),
        ),
        ("ClinicResponse", clinic()),
        ("ClinicListItemResponse", clinic_list_item()),
        (
            "ClinicForDoctorResponse",
            json!({
                "clinic_id": CLINIC,
                "clinic_name": "Lotus Family Clinic",
                "clinic_address": "12 Hill Road, Bandra West, Mumbai 400050",
                "clinic_latitude": 19.0596,
                "clinic_longitude": 72.8295,
                "consultation_fee": 800.0,
                "department": "General Medicine",
                "designation": "Consultant",
                "available_days": ["monday", "wednesday", "friday"],
                "is_primary": true,
                "status": "active"
            }),
        ),
        (
            "DoctorAtClinicResponse",
            json!({
                "doctor_id": DOCTOR,
                "doctor_name": "Dr. Meera Iyer",
                "specialization": "General Medicine",
                "license_number": "MMC-2011-04521",
                "experience_years": 14,
                "consultation_fee": 800.0,
                "consultation_duration_minutes": 20,
                "department": "General Medicine",
                "designation": "Consultant",
                "available_days": ["monday", "wednesday", "friday"],
                "available_time_slots": [{"start": "09:00", "end": "13:00"}],
                "rating_at_clinic": 4.7,
                "rating_count_at_clinic": 128,
                "is_primary": true,
                "status": "active"
            }),
        ),
        (
            "AssociationCreateRequest",
            json!({
                "doctor_id": DOCTOR,
                "is_primary": true,
                "consultation_fee": 800.0,
                "consultation_duration_minutes": 20,
                "department": "General Medicine",
                "designation": "Consultant",
                "available_days": ["monday", "wednesday", "friday"],
                "available_time_slots": [{"start": "09:00", "end": "13:00"}],
                "appointment_booking_enabled": true
            }),
        ),
        (
            "AssociationUpdateRequest",
            json!({"consultation_fee": 900.0, "available_days": ["monday", "thursday"], "status": "on_leave"}),
        ),
        (
            "AssociationEndRequest",
            json!({"end_date": "2026-06-30T18:30:00Z"}),
        ),
        ("DoctorClinicResponse", association()),
        (
            "DoctorCreateRequest",
            json!({
                "email": "meera.iyer@doctor.example.com",
                "full_name": "Dr. Meera Iyer",
                "phone": "+91 98200 11223",
                "license_number": "MMC-2011-04521",
                "specialization": "General Medicine",
                "sub_specialization": "Allergy",
                "qualification": "MBBS, MD (Medicine)",
                "experience_years": 14,
                "consultation_fee": 800.0,
                "consultation_duration_minutes": 20,
                "bio": "Family physician with an interest in allergies and asthma.",
                "languages_spoken": ["English", "Hindi", "Marathi"],
                "medical_council_registration": "MMC/2011/04521"
            }),
        ),
        (
            "DoctorUpdateRequest",
            json!({"consultation_fee": 900.0, "languages_spoken": ["English", "Hindi", "Marathi", "Tamil"]}),
        ),
        (
            "DoctorVerifyRequest",
            json!({"verification_documents": {"registration_certificate": "checked 2026-02-01"}}),
        ),
        ("DoctorResponse", doctor()),
        ("DoctorDetailResponse", doctor_detail()),
        (
            "DoctorListItemResponse",
            json!({
                "id": DOCTOR,
                "email": "meera.iyer@doctor.example.com",
                "full_name": "Dr. Meera Iyer",
                "phone": "+91 98200 11223",
                "profile_picture_url": null,
                "license_number": "MMC-2011-04521",
                "specialization": "General Medicine",
                "sub_specialization": "Allergy",
                "experience_years": 14,
                "consultation_fee": 800.0,
                "is_verified": true,
                "rating": 4.7,
                "rating_count": 128,
                "distance_km": 1.2,
                "clinic_id": CLINIC,
                "clinic_name": "Lotus Family Clinic"
            }),
        ),
        // Notifications
        (
            "RegisterTokenRequest",
            json!({"fcm_token": FCM_TOKEN, "platform": "android"}),
        ),
        (
            "PushTokenResponse",
            json!({
                "id": PUSH_TOKEN, "user_id": USER, "fcm_token": FCM_TOKEN, "platform": "android",
                "is_active": true, "last_used_at": "2026-02-01T08:00:00Z", "created_at": "2026-01-10T09:12:00Z"
            }),
        ),
        ("DeactivateTokenRequest", json!({"fcm_token": FCM_TOKEN})),
        (
            "SendNotificationRequest",
            json!({
                "user_id": USER,
                "title": "Appointment tomorrow",
                "body": "Dr. Meera Iyer at 10:00, Lotus Family Clinic",
                "data": {"appointment_id": APPOINTMENT},
                "notification_type": "appointment_reminder",
                "priority": "high"
            }),
        ),
        (
            "SendResultResponse",
            json!({"success_count": 2, "failure_count": 0, "message": "Sent to 2 devices, 0 failed"}),
        ),
        (
            "NotificationHistoryResponse",
            json!({"notifications": [notification()], "total": 1, "page": 1, "page_size": 20}),
        ),
        (
            "NotificationDetailResponse",
            json!({
                "notification": notification(),
                "deliveries": [{
                    "id": DELIVERY,
                    "notification_id": NOTIFICATION,
                    "push_token_id": PUSH_TOKEN,
                    "fcm_message_id": "projects/medico24/messages/0:1767225600000000%abcdef",
                    "delivery_status": "sent",
                    "delivered_at": null,
                    "failure_reason": null,
                    "created_at": "2026-03-13T12:00:00Z"
                }],
                "total_devices": 1,
                "successful_deliveries": 1,
                "failed_deliveries": 0
            }),
        ),
        (
            "NotificationStatsResponse",
            json!({
                "total_count": 12,
                "by_status": {"delivered": 9, "failed": 1, "read": 2},
                "by_type": {"appointment_reminder": 8, "system_announcement": 4},
                "by_priority": {"high": 8, "normal": 4},
                "days": 30
            }),
        ),
        (
            "NotificationLogPage",
            json!({"logs": [notification()], "total": 1, "page": 1, "page_size": 20, "total_pages": 1}),
        ),
        (
            "BroadcastRequest",
            json!({
                "title": "Clinic hours during the holiday",
                "body": "Clinics close at 14:00 on 26 January.",
                "target": "patients",
                "data": {"screen": "announcements"}
            }),
        ),
        (
            "BroadcastResultResponse",
            json!({
                "success_count": 180, "failure_count": 3, "total_users": 183,
                "message": "Broadcast to 183 users: 180 succeeded, 3 failed", "broadcast_id": BROADCAST
            }),
        ),
        (
            "BroadcastQueuedResponse",
            json!({"broadcast_id": BROADCAST, "total_users": 25_000, "status": "queued"}),
        ),
        (
            "BroadcastResponse",
            json!({
                "id": BROADCAST,
                "title": "Clinic hours during the holiday",
                "body": "Clinics close at 14:00 on 26 January.",
                "target": "patients",
                "data": {"screen": "announcements"},
                "status": "running",
                "total_users": 25_000,
                "processed_users": 12_000,
                "success_count": 11_950,
                "failure_count": 50,
                "failure_reason": null,
                "created_by": ADMIN,
                "created_at": "2026-01-24T10:00:00Z",
                "started_at": "2026-01-24T10:00:01Z",
                "completed_at": null
            }),
        ),
        // Environment
        (
            "EnvironmentalConditions",
            json!({
                "aqi": 61,
                "aqi_category": "Moderate air quality",
                "temperature": 29.4,
                "condition": "Partly cloudy",
                "humidity": 74.0,
                "dominant_pollutant": "pm25",
                "observed_at": "2026-03-13T06:00:00Z",
                "stale": false
            }),
        ),
    ]
}

fn detailed_health() -> Value {
    json!({
        "status": "healthy",
        "version": "0.1.0",
        "environment": "production",
        "database": "healthy",
        "redis": "healthy",
        "checks": {
            "database": {"status": "healthy", "latency_ms": 1.8},
            "redis": {"status": "healthy", "latency_ms": 0.6}
        }
    })
}

fn login() -> Value {
    json!({
        "access_token": ACCESS_TOKEN,
        "refresh_token": REFRESH_TOKEN,
        "token_type": "bearer",
        "user": {
            "id": USER,
            "email": "riya.patel@example.com",
            "name": "Riya Patel",
            "picture": null,
            "is_active": true,
            "role": "patient",
            "is_onboarded": true
        }
    })
}

fn user() -> Value {
    json!({
        "email": "riya.patel@example.com",
        "full_name": "Riya Patel",
        "given_name": "Riya",
        "family_name": "Patel",
        "photo_url": null,
        "phone": "+91 98765 43210",
        "id": USER,
        "firebase_uid": "kP3xQ9rT2vW8yZ1aB4cD6eF7gH0i",
        "email_verified": true,
        "auth_provider": "google",
        "role": "patient",
        "is_active": true,
        "is_onboarded": true,
        "created_at": "2026-01-10T09:00:00Z",
        "updated_at": "2026-02-01T08:00:00Z",
        "last_login_at": "2026-03-13T07:45:12Z"
    })
}

fn admin_user() -> Value {
    json!({
        "id": USER,
        "email": "riya.patel@example.com",
        "email_verified": true,
        "auth_provider": "google",
        "full_name": "Riya Patel",
        "given_name": "Riya",
        "family_name": "Patel",
        "photo_url": null,
        "phone": "+91 98765 43210",
        "role": "patient",
        "is_active": true,
        "is_onboarded": true,
        "created_at": "2026-01-10T09:00:00Z",
        "updated_at": "2026-02-01T08:00:00Z",
        "last_login_at": "2026-03-13T07:45:12Z"
    })
}

fn personal_data_export() -> Value {
    json!({
        "format": "medico24.personal-data-export.v1",
        "generated_at": "2026-03-13T08:00:00Z",
        "user_id": USER,
        "profile": {"user": user(), "patient": {"blood_group": null}, "admin": null,
                    "pharmacy_staff": [], "notification_preferences": null, "erasure": null},
        "sessions": [{"created_at": "2026-03-13T07:45:12Z", "last_used_at": "2026-03-13T07:59:00Z"}],
        "appointments": [appointment()],
        "notifications": [{"id": NOTIFICATION, "title": "Appointment confirmed", "deliveries": []}],
        "push_tokens": [{"id": PUSH_TOKEN, "platform": "android", "token_hint": "…x9Qa",
                         "is_active": true, "created_at": "2026-01-10T09:05:00Z", "last_used_at": null}],
        "scheduled_messages": [],
        "audit_events": []
    })
}

fn audit_page() -> Value {
    json!({
        "events": [{
            "id": AUDIT_EVENT,
            "actor_user_id": ADMIN,
            "actor_type": "user",
            "action": "user.update",
            "resource_type": "user",
            "resource_id": USER,
            "request_id": REQUEST,
            "ip": "203.0.113.24",
            "at": "2026-02-01T08:00:00Z",
            "details": {"role": {"from": "patient", "to": "doctor"}},
            "subject_ids": [USER]
        }],
        "total": 1,
        "page": 1,
        "page_size": 20,
        "total_pages": 1
    })
}

fn admin_metrics() -> Value {
    json!({
        "users": {
            "total": 1250,
            "active": 1198,
            "by_role": {"patient": 1100, "doctor": 120, "pharmacy": 25, "admin": 5}
        },
        "appointments": {
            "total": 5400,
            "pending": 310,
            "confirmed": 220,
            "by_status": {
                "scheduled": 310, "confirmed": 220, "rescheduled": 45,
                "cancelled": 600, "completed": 4100, "no_show": 125
            }
        },
        "pharmacies": {"total": 1000, "verified": 640, "active": 950},
        "notifications": {"sent_today": 85, "sent_this_week": 610, "sent_this_month": 2400}
    })
}

fn dashboard() -> Value {
    let day = |name: &str, date: &str, appointments: i64, pharmacies: i64| json!({"name": name, "date": date, "appointments": appointments, "pharmacies": pharmacies});
    let activity = |status: &str, title: &str, description: &str| json!({"status": status, "title": title, "description": description, "time": "Now"});
    json!({
        "stats": {
            "total_users": {"value": 1250, "change": "+12.4%", "description": "from last month"},
            "appointments": {"value": 5400, "change": "+18", "description": "today"},
            "verified_pharmacies": {"value": 640, "change": "+7", "description": "this week"},
            "notifications_sent": {"value": 85, "change": "97.5%", "description": "delivery rate"}
        },
        "chart_data": [
            day("Sat", "2026-03-07", 40, 2),
            day("Sun", "2026-03-08", 22, 0),
            day("Mon", "2026-03-09", 51, 3),
            day("Tue", "2026-03-10", 47, 1),
            day("Wed", "2026-03-11", 55, 4),
            day("Thu", "2026-03-12", 49, 2),
            day("Fri", "2026-03-13", 18, 1)
        ],
        "recent_activity": [
            activity("online", "Main API", "Uptime 3d 4h"),
            activity("online", "Database", "Latency 1.8 ms"),
            activity("online", "Redis", "Latency 0.6 ms"),
            activity("online", "Push delivery", "Delivery rate 97.5% in the last 24h")
        ]
    })
}

fn appointment() -> Value {
    json!({
        "doctor_name": "Dr. Meera Iyer",
        "clinic_name": "Lotus Family Clinic",
        "appointment_at": "2026-03-14T04:30:00Z",
        "appointment_end_at": "2026-03-14T05:00:00Z",
        "reason": "Follow-up for seasonal allergies",
        "contact_phone": "+91 98765 43210",
        "notes": "Prefers a morning slot",
        "id": APPOINTMENT,
        "patient_id": USER,
        "doctor_id": DOCTOR,
        "clinic_id": CLINIC,
        "status": "scheduled",
        "source": "patient_app",
        "created_at": "2026-03-10T11:20:41.421354Z",
        "updated_at": "2026-03-10T11:20:41.421354Z",
        "cancelled_at": null,
        "deleted_at": null
    })
}

fn admin_appointment() -> Value {
    let mut value = appointment();
    if let Some(object) = value.as_object_mut() {
        object.insert("doctor_clinic_id".to_owned(), Value::from(ASSOCIATION));
    }
    value
}

fn location_in() -> Value {
    json!({
        "address_line": "14 Hill Road, Bandra West",
        "city": "Mumbai",
        "state": "Maharashtra",
        "country": "India",
        "pincode": "400050",
        "latitude": 19.0552,
        "longitude": 72.8302
    })
}

fn hours_in() -> Value {
    json!({"day_of_week": 1, "open_time": "09:00", "close_time": "21:00", "is_closed": false})
}

fn pharmacy_hours() -> Value {
    json!({
        "day_of_week": 1, "open_time": "09:00:00", "close_time": "21:00:00", "is_closed": false,
        "id": HOURS, "pharmacy_id": PHARMACY
    })
}

fn pharmacy() -> Value {
    json!({
        "name": "CarePlus Pharmacy",
        "description": "24-hour pharmacy near Bandra station",
        "phone": "+91 22 2640 0000",
        "email": "care@pharmacy.example.com",
        "supports_delivery": true,
        "supports_pickup": true,
        "id": PHARMACY,
        "is_verified": true,
        "is_active": true,
        "rating": 4.5,
        "rating_count": 87,
        "timezone": "Asia/Kolkata",
        "created_at": "2026-01-05T06:00:00Z",
        "updated_at": "2026-02-02T10:15:00Z",
        "location": {
            "address_line": "14 Hill Road, Bandra West",
            "city": "Mumbai",
            "state": "Maharashtra",
            "country": "India",
            "pincode": "400050",
            "latitude": 19.0552,
            "longitude": 72.8302,
            "id": LOCATION,
            "pharmacy_id": PHARMACY,
            "created_at": "2026-01-05T06:00:00Z"
        },
        "hours": [pharmacy_hours()]
    })
}

fn pharmacy_list_item() -> Value {
    let mut value = pharmacy();
    if let Some(object) = value.as_object_mut() {
        object.insert("distance_km".to_owned(), Value::from(0.8));
    }
    value
}

fn clinic() -> Value {
    json!({
        "name": "Lotus Family Clinic",
        "slug": "lotus-family-clinic",
        "description": "General practice and paediatrics",
        "logo_url": "https://clinic.example.com/logo.png",
        "contacts": {"phone": "+91 22 2645 0000", "email": "desk@clinic.example.com"},
        "address": "12 Hill Road, Bandra West, Mumbai 400050",
        "latitude": 19.0596,
        "longitude": 72.8295,
        "opening_hours": {"mon-fri": "09:00-19:00", "sat": "09:00-13:00"},
        "id": CLINIC,
        "rating": 4.6,
        "rating_count": 212,
        "status": "active",
        "is_active": true,
        "created_at": "2026-01-03T05:30:00Z",
        "updated_at": "2026-02-20T09:00:00Z",
        "deleted_at": null
    })
}

fn clinic_list_item() -> Value {
    json!({
        "id": CLINIC,
        "name": "Lotus Family Clinic",
        "slug": "lotus-family-clinic",
        "description": "General practice and paediatrics",
        "logo_url": "https://clinic.example.com/logo.png",
        "address": "12 Hill Road, Bandra West, Mumbai 400050",
        "latitude": 19.0596,
        "longitude": 72.8295,
        "rating": 4.6,
        "rating_count": 212,
        "status": "active",
        "is_active": true,
        "distance_km": 1.2
    })
}

fn association() -> Value {
    json!({
        "is_primary": true,
        "consultation_fee": 800.0,
        "consultation_duration_minutes": 20,
        "department": "General Medicine",
        "designation": "Consultant",
        "available_days": ["monday", "wednesday", "friday"],
        "available_time_slots": [{"start": "09:00", "end": "13:00"}],
        "appointment_booking_enabled": true,
        "id": ASSOCIATION,
        "doctor_id": DOCTOR,
        "clinic_id": CLINIC,
        "start_date": "2026-01-15T00:00:00Z",
        "end_date": null,
        "total_appointments": 342,
        "completed_appointments": 310,
        "rating_at_clinic": 4.7,
        "rating_count_at_clinic": 128,
        "status": "active",
        "created_at": "2026-01-15T00:00:00Z",
        "updated_at": "2026-02-20T09:00:00Z"
    })
}

fn doctor() -> Value {
    json!({
        "email": "meera.iyer@doctor.example.com",
        "full_name": "Dr. Meera Iyer",
        "phone": "+91 98200 11223",
        "profile_picture_url": null,
        "license_number": "MMC-2011-04521",
        "specialization": "General Medicine",
        "sub_specialization": "Allergy",
        "qualification": "MBBS, MD (Medicine)",
        "experience_years": 14,
        "consultation_fee": 800.0,
        "consultation_duration_minutes": 20,
        "bio": "Family physician with an interest in allergies and asthma.",
        "languages_spoken": ["English", "Hindi", "Marathi"],
        "medical_council_registration": "MMC/2011/04521",
        "id": DOCTOR,
        "is_verified": true,
        "verification_documents": {"registration_certificate": "checked 2026-02-01"},
        "verified_at": "2026-02-01T10:00:00Z",
        "verified_by": ADMIN,
        "rating": 4.7,
        "rating_count": 128,
        "total_patients_treated": 2150,
        "created_at": "2026-01-12T08:00:00Z",
        "updated_at": "2026-02-01T10:00:00Z"
    })
}

fn doctor_detail() -> Value {
    let mut summary = association();
    if let Some(object) = summary.as_object_mut() {
        object.insert("clinic_name".to_owned(), Value::from("Lotus Family Clinic"));
        object.insert(
            "clinic_address".to_owned(),
            Value::from("12 Hill Road, Bandra West, Mumbai 400050"),
        );
        object.insert("latitude".to_owned(), Value::from(19.0596));
        object.insert("longitude".to_owned(), Value::from(72.8295));
    }
    let mut value = doctor();
    if let Some(object) = value.as_object_mut() {
        object.insert("clinics".to_owned(), Value::Array(vec![summary]));
    }
    value
}

fn notification() -> Value {
    json!({
        "id": NOTIFICATION,
        "user_id": USER,
        "title": "Appointment tomorrow",
        "body": "Dr. Meera Iyer at 10:00, Lotus Family Clinic",
        "notification_type": "appointment_reminder",
        "priority": "high",
        "data": {"appointment_id": APPOINTMENT},
        "status": "delivered",
        "sent_at": "2026-03-13T12:00:00Z",
        "delivered_at": "2026-03-13T12:00:01Z",
        "read_at": null,
        "failure_reason": null,
        "retry_count": 0,
        "max_retries": 3,
        "scheduled_for": null,
        "expires_at": null,
        "metadata": null,
        "created_at": "2026-03-13T12:00:00Z",
        "updated_at": "2026-03-13T12:00:01Z"
    })
}
