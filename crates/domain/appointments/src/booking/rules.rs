//! The appointment rules: who may use which source, the status state machine with its role rule,
//! and the end-after-start invariant.

use crate::booking::model::{AppointmentSource, AppointmentStatus, Caller};
use medico24_kernel::Role;

/// A requested status change that is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// Non-admins may only request `confirmed` or `cancelled` (403).
    #[error("Patients may only confirm or cancel appointments")]
    NotPermitted,
    /// The state machine forbids it (409); `allowed` lists the legal targets.
    #[error("illegal transition")]
    Illegal {
        /// Current status.
        from: AppointmentStatus,
        /// Requested status.
        to: AppointmentStatus,
        /// Targets allowed from `from`, in table order.
        allowed: &'static [AppointmentStatus],
    },
}

impl TransitionError {
    /// The 409 message of a refused status change.
    pub fn message(&self) -> String {
        match self {
            TransitionError::NotPermitted => self.to_string(),
            TransitionError::Illegal { from, to, allowed } => {
                let list = if allowed.is_empty() {
                    "none".to_owned()
                } else {
                    allowed
                        .iter()
                        .map(AppointmentStatus::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                format!("Cannot change appointment status from '{from}' to '{to}'; allowed: {list}")
            }
        }
    }
}

/// Checks a change from `from` to `to` (different statuses) by `caller`, in this order:
/// the role rule first, then the state machine.
///
/// # Errors
/// [`TransitionError`].
pub fn check_transition(
    caller: &Caller,
    from: AppointmentStatus,
    to: AppointmentStatus,
) -> Result<(), TransitionError> {
    if !caller.is_admin()
        && !matches!(
            to,
            AppointmentStatus::Confirmed | AppointmentStatus::Cancelled
        )
    {
        return Err(TransitionError::NotPermitted);
    }
    let allowed = from.allowed_targets();
    if allowed.contains(&to) {
        Ok(())
    } else {
        Err(TransitionError::Illegal { from, to, allowed })
    }
}

/// Whether `caller` may create appointments with `source`.
pub fn may_use_source(role: Role, source: AppointmentSource) -> bool {
    match source {
        AppointmentSource::PatientApp | AppointmentSource::Api => true,
        AppointmentSource::DoctorApp | AppointmentSource::AdminPanel => {
            matches!(role, Role::Doctor | Role::Admin)
        }
    }
}

/// `end` is absent or strictly after `start`.
pub fn end_is_after_start(
    start: chrono::DateTime<chrono::Utc>,
    end: Option<chrono::DateTime<chrono::Utc>>,
) -> bool {
    end.is_none_or(|end| end > start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use medico24_kernel::UserId;

    fn caller(role: Role) -> Caller {
        Caller {
            id: UserId::new_v7(),
            role,
        }
    }

    /// The status transitions as a table: (from, to) → allowed for admins; patients additionally
    /// only to confirmed/cancelled.
    #[test]
    fn every_status_pair_and_role_is_answered_as_the_table_says() {
        use AppointmentStatus::*;
        let table: [(AppointmentStatus, &[AppointmentStatus]); 6] = [
            (
                Scheduled,
                &[Confirmed, Rescheduled, Cancelled, Completed, NoShow],
            ),
            (Confirmed, &[Rescheduled, Cancelled, Completed, NoShow]),
            (Rescheduled, &[Confirmed, Cancelled, Completed, NoShow]),
            (Cancelled, &[]),
            (Completed, &[]),
            (NoShow, &[]),
        ];
        for (from, allowed) in table {
            for to in AppointmentStatus::ALL {
                if to == from {
                    continue;
                }
                for role in Role::ALL {
                    let result = check_transition(&caller(role), from, to);
                    let role_ok = role == Role::Admin || matches!(to, Confirmed | Cancelled);
                    let expected = if !role_ok {
                        Err(TransitionError::NotPermitted)
                    } else if allowed.contains(&to) {
                        Ok(())
                    } else {
                        Err(TransitionError::Illegal {
                            from,
                            to,
                            allowed: from.allowed_targets(),
                        })
                    };
                    assert_eq!(result, expected, "{from} → {to} as {role}");
                }
            }
        }
    }

    #[test]
    fn illegal_transition_messages_list_the_allowed_targets() {
        let error = check_transition(
            &caller(Role::Admin),
            AppointmentStatus::Confirmed,
            AppointmentStatus::Scheduled,
        )
        .err()
        .unwrap();
        assert_eq!(
            error.message(),
            "Cannot change appointment status from 'confirmed' to 'scheduled'; allowed: rescheduled, cancelled, completed, no_show"
        );
        let terminal = check_transition(
            &caller(Role::Patient),
            AppointmentStatus::Cancelled,
            AppointmentStatus::Confirmed,
        )
        .err()
        .unwrap();
        assert_eq!(
            terminal.message(),
            "Cannot change appointment status from 'cancelled' to 'confirmed'; allowed: none"
        );
    }

    #[test]
    fn privileged_sources_need_a_doctor_or_admin() {
        for role in Role::ALL {
            assert!(may_use_source(role, AppointmentSource::PatientApp));
            assert!(may_use_source(role, AppointmentSource::Api));
            let privileged = matches!(role, Role::Doctor | Role::Admin);
            assert_eq!(
                may_use_source(role, AppointmentSource::DoctorApp),
                privileged
            );
            assert_eq!(
                may_use_source(role, AppointmentSource::AdminPanel),
                privileged
            );
        }
    }

    #[test]
    fn the_end_must_be_strictly_after_the_start() {
        let start = chrono::Utc::now();
        assert!(end_is_after_start(start, None));
        assert!(end_is_after_start(
            start,
            Some(start + chrono::Duration::seconds(1))
        ));
        assert!(!end_is_after_start(start, Some(start)));
        assert!(!end_is_after_start(
            start,
            Some(start - chrono::Duration::seconds(1))
        ));
    }
}
