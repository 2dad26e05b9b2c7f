// Compiled with `tsc --strict` against the types openapi-typescript generates from the server's
// /openapi.json (see ../openapi-clients.sh). Each line is a claim about the document that a
// typed client relies on; `@ts-expect-error` lines claim that a mistake does not compile.

import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Schemas = components["schemas"];

/** `true` only when `A` and `B` are the same type. */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | undefined {
  return undefined;
}

// Closed value sets are unions of literals, so a misspelt value is a compile error.
const status: Schemas["AppointmentStatus"] = "cancelled";
// @ts-expect-error "canceled" is not an appointment status
const misspelt: Schemas["AppointmentStatus"] = "canceled";
assertType<Equal<Schemas["Role"], "patient" | "doctor" | "pharmacy" | "admin">>();
assertType<Equal<Schemas["Platform"], "android" | "ios" | "web">>();
assertType<Equal<Schemas["AppointmentResponse"]["status"], Schemas["AppointmentStatus"]>>();

// Every member an answer always carries is required: a nullable member is `T | null`, never
// `T | null | undefined`.
assertType<Equal<Schemas["AppointmentResponse"]["clinic_name"], string | null>>();
assertType<Equal<Schemas["UserResponse"]["last_login_at"], string | null>>();
assertType<Equal<Schemas["PharmacyResponse"]["location"], Schemas["PharmacyLocationResponse"] | null>>();
assertType<Equal<Schemas["AdminUserPage"]["next_cursor"], string | null>>();

// Errors: the envelope's members are all required; a 409 may name the legal targets.
assertType<Equal<Schemas["Error"]["request_id"], string>>();
assertType<Equal<Schemas["Error"]["error"], Schemas["ErrorCode"]>>();
assertType<Equal<Schemas["ConflictError"]["allowed_statuses"], Schemas["AppointmentStatus"][] | undefined>>();
assertType<Equal<Schemas["ValidationError"]["error"], "validation_error">>();

const client = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });

export async function book(token: string): Promise<string | undefined> {
  const { data, error, response } = await client.POST("/api/v1/appointments", {
    headers: { Authorization: `Bearer ${token}` },
    // An optional header is optional, never `null`.
    params: { header: { "Idempotency-Key": "booking-7f3a" } },
    body: {
      doctor_name: "Dr. Meera Iyer",
      appointment_at: "2026-03-14T04:30:00Z",
      reason: "Follow-up",
      contact_phone: "+91 98765 43210",
      source: "patient_app",
    },
  });
  if (error) {
    return error.request_id;
  }
  const replayed: "true" | undefined = response.headers.get("Idempotent-Replayed") === "true" ? "true" : undefined;
  return replayed ?? data.id;
}

export async function nullKey(): Promise<void> {
  await client.POST("/api/v1/appointments", {
    // @ts-expect-error Idempotency-Key is a string when present, not null
    params: { header: { "Idempotency-Key": null } },
    body: { doctor_name: "d", appointment_at: "2026-03-14T04:30:00Z", reason: "r", contact_phone: "+91 98765 43210" },
  });
}

export async function verify(doctorId: string): Promise<boolean | undefined> {
  // An optional body may be left out.
  const { data } = await client.POST("/api/v1/doctors/{doctor_id}/verify", {
    params: { path: { doctor_id: doctorId } },
  });
  return data?.is_verified;
}

export async function changeStatus(id: string): Promise<Schemas["AppointmentStatus"][] | undefined> {
  const { error } = await client.PATCH("/api/v1/appointments/{appointment_id}/status", {
    params: { path: { appointment_id: id } },
    body: { status: "confirmed" },
  });
  return error && "allowed_statuses" in error ? error.allowed_statuses : undefined;
}

export async function listByStatus(): Promise<number | undefined> {
  const { data } = await client.GET("/api/v1/appointments", {
    // @ts-expect-error the status filter is a closed set
    params: { query: { status: "canceled" } },
  });
  return data?.total;
}

export const used = [status, misspelt];
