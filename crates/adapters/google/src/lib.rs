//! Google adapter: the Air Quality and Weather current-conditions lookups,
//! implementing the environment domain's `ConditionsProvider` port.

mod conditions;
mod parse;
#[cfg(test)]
mod tests;

pub use conditions::{
    CallObserver, DEFAULT_AIR_QUALITY_URL, DEFAULT_WEATHER_URL, GoogleConditions, GoogleConfig,
    InvalidUrl, Outcome, SERVICE_AIR_QUALITY, SERVICE_WEATHER,
};
