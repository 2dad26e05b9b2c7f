//! Google adapter: the Air Quality and Weather current-conditions lookups, implementing the
//! environment domain's `ConditionsProvider` port, and the environment service over them with at
//! most one lookup per grid point in flight (`EnvironmentConditions`).

mod conditions;
mod parse;
pub mod single_flight;
#[cfg(test)]
mod tests;

pub use conditions::{
    CallObserver, DEFAULT_AIR_QUALITY_URL, DEFAULT_WEATHER_URL, GoogleConditions, GoogleConfig,
    InvalidUrl, Outcome, SERVICE_AIR_QUALITY, SERVICE_WEATHER,
};
pub use single_flight::{EnvironmentConditions, FlightAborted, Lookup, SingleFlight};
