//! Reading the conditions fields out of Google's answers: required ones must be present with the
//! right type (else the answer is unusable), optional ones that are absent or malformed are
//! simply `None`, and unknown members are ignored.

use chrono::{DateTime, Utc};
use medico24_environment::ProviderError;
use serde_json::Value;

/// What the Air Quality answer contributes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AirQuality {
    /// `indexes[0].aqi`.
    pub aqi: i64,
    /// `indexes[0].category`.
    pub category: String,
    /// `indexes[0].dominantPollutant`.
    pub dominant_pollutant: Option<String>,
    /// `dateTime`.
    pub date_time: Option<DateTime<Utc>>,
}

/// What the Weather answer contributes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Weather {
    /// `temperature.degrees` (°C with `unitsSystem=METRIC`).
    pub temperature: f64,
    /// `weatherCondition.description.text`.
    pub condition: String,
    /// `relativeHumidity`.
    pub humidity: Option<f64>,
    /// `currentTime`.
    pub current_time: Option<DateTime<Utc>>,
}

fn json(body: &[u8]) -> Result<Value, ProviderError> {
    serde_json::from_slice(body).map_err(|_| ProviderError::BadBody("answer is not JSON"))
}

/// Parses an Air Quality `currentConditions:lookup` answer.
pub(crate) fn parse_air_quality(body: &[u8]) -> Result<AirQuality, ProviderError> {
    let value = json(body)?;
    let index = value
        .pointer("/indexes/0")
        .ok_or(ProviderError::BadBody("indexes[0] missing"))?;
    let aqi = index
        .get("aqi")
        .and_then(integer)
        .ok_or(ProviderError::BadBody("indexes[0].aqi missing"))?;
    let category = index
        .get("category")
        .and_then(text)
        .ok_or(ProviderError::BadBody("indexes[0].category missing"))?;
    Ok(AirQuality {
        aqi,
        category,
        dominant_pollutant: index.get("dominantPollutant").and_then(text),
        date_time: value.get("dateTime").and_then(timestamp),
    })
}

/// Parses a Weather `currentConditions:lookup` answer.
pub(crate) fn parse_weather(body: &[u8]) -> Result<Weather, ProviderError> {
    let value = json(body)?;
    let temperature = value
        .pointer("/temperature/degrees")
        .and_then(Value::as_f64)
        .ok_or(ProviderError::BadBody("temperature.degrees missing"))?;
    let condition = value
        .pointer("/weatherCondition/description/text")
        .and_then(text)
        .ok_or(ProviderError::BadBody(
            "weatherCondition.description.text missing",
        ))?;
    Ok(Weather {
        temperature,
        condition,
        humidity: value.get("relativeHumidity").and_then(Value::as_f64),
        current_time: value.get("currentTime").and_then(timestamp),
    })
}

/// An integer, also written as a number with a zero fraction (`61.0`).
fn integer(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            // A whole number below 2^53 converts exactly.
            .map(|f| f as i64)
    })
}

/// A non-blank string.
fn text(value: &Value) -> Option<String> {
    value
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}

/// An RFC 3339 timestamp with any offset (Google sends `Z` and up to nine fraction digits),
/// in UTC.
fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod unit {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_documented_fields_are_read_and_others_ignored() {
        let air = parse_air_quality(
            br#"{"dateTime":"2026-02-15T09:00:00Z","regionCode":"in",
                "indexes":[{"code":"uaqi","aqi":61,"aqiDisplay":"61","category":"Moderate air quality","dominantPollutant":"pm25"},
                           {"code":"ind_cpcb","aqi":99,"category":"Satisfactory"}]}"#,
        )
        .unwrap();
        assert_eq!(
            air,
            AirQuality {
                aqi: 61,
                category: "Moderate air quality".to_owned(),
                dominant_pollutant: Some("pm25".to_owned()),
                date_time: Utc.with_ymd_and_hms(2026, 2, 15, 9, 0, 0).single(),
            }
        );
        let weather = parse_weather(
            br#"{"currentTime":"2026-02-15T14:35:12.123456789+05:30","isDaytime":true,
                "weatherCondition":{"description":{"text":"Partly cloudy","languageCode":"en"},"type":"PARTLY_CLOUDY"},
                "temperature":{"degrees":29.4,"unit":"CELSIUS"},"relativeHumidity":74}"#,
        )
        .unwrap();
        assert_eq!(weather.temperature, 29.4);
        assert_eq!(weather.condition, "Partly cloudy");
        assert_eq!(weather.humidity, Some(74.0));
        assert_eq!(
            weather.current_time.map(|t| t.to_rfc3339()),
            Some("2026-02-15T09:05:12.123456789+00:00".to_owned())
        );
    }

    #[test]
    fn optional_fields_absent_or_malformed_are_none() {
        let air = parse_air_quality(br#"{"indexes":[{"aqi":61.0,"category":"Moderate","dominantPollutant":7}],"dateTime":"yesterday"}"#).unwrap();
        assert_eq!(air.aqi, 61);
        assert_eq!(air.dominant_pollutant, None);
        assert_eq!(air.date_time, None);
        let weather = parse_weather(
            br#"{"temperature":{"degrees":-3},"weatherCondition":{"description":{"text":"Snow"}},"relativeHumidity":"high"}"#,
        )
        .unwrap();
        assert_eq!(weather.temperature, -3.0);
        assert_eq!(weather.humidity, None);
        assert_eq!(weather.current_time, None);
    }

    #[test]
    fn a_missing_or_mistyped_required_field_makes_the_answer_unusable() {
        for body in [
            &br#"{}"#[..],
            br#"{"indexes":[]}"#,
            br#"{"indexes":[{"category":"Moderate"}]}"#,
            br#"{"indexes":[{"aqi":61.5,"category":"Moderate"}]}"#,
            br#"{"indexes":[{"aqi":"61","category":"Moderate"}]}"#,
            br#"{"indexes":[{"aqi":61}]}"#,
            br#"{"indexes":[{"aqi":61,"category":"  "}]}"#,
            br#"not json"#,
        ] {
            assert!(
                matches!(parse_air_quality(body), Err(ProviderError::BadBody(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        for body in [
            &br#"{"weatherCondition":{"description":{"text":"Snow"}}}"#[..],
            br#"{"temperature":{"degrees":"3"},"weatherCondition":{"description":{"text":"Snow"}}}"#,
            br#"{"temperature":{"degrees":3}}"#,
            br#"{"temperature":{"degrees":3},"weatherCondition":{"description":{}}}"#,
            br#"[]"#,
        ] {
            assert!(
                matches!(parse_weather(body), Err(ProviderError::BadBody(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
