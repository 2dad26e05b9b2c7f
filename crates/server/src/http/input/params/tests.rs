use actix_web::test::TestRequest;
use serde_json::{Value, json};
use utoipa::IntoParams;

use crate::http::input::{Above, FlagOr, Int, IntOr, Number, Query, Repeated, Text};

request_query! {
    /// A group with one member of each kind.
    pub struct Sample {
        /// Required, bounded.
        pub lat: Number<-90, 90>,
        /// Defaulted.
        pub size: IntOr<1, 100, 20>,
        /// Defaulted flag.
        pub active: FlagOr<true>,
        /// Optional text.
        pub name: Option<Text<0, 5>>,
        /// Exclusive lower bound.
        pub radius: Option<Above<0, 100>>,
        /// Repeatable.
        pub tag: Repeated<Text<1, 3>>,
    }
}

request_query! {
    /// A second group read from the same query.
    pub struct Other {
        /// Optional integer.
        pub n: Option<Int<0, 9>>,
    }
}

fn query_of(text: &str) -> Query {
    Query::new(&TestRequest::with_uri(&format!("/x?{text}")).to_http_request())
}

fn issues(text: &str) -> Vec<(Value, String, String)> {
    let mut query = query_of(text);
    let sample = query.read::<Sample>();
    let other = query.read::<Other>();
    match query.complete((sample, other)) {
        Ok(read) => panic!("expected issues, read {read:?}"),
        Err(error) => error
            .body()
            .details
            .iter()
            .map(|issue| (json!(issue.loc), issue.kind.to_string(), issue.msg.clone()))
            .collect(),
    }
}

#[test]
fn absent_values_take_their_defaults_and_text_is_read_leniently() {
    let mut query = query_of("lat=12.5&active=no&tag=a&tag=&tag=bc&size=30.0");
    let sample = query.read::<Sample>();
    let sample = query.finish(sample).unwrap();
    assert_eq!(sample.lat.get(), 12.5);
    assert_eq!(sample.size.get(), 30);
    assert!(!sample.active.get());
    assert!(sample.name.is_none() && sample.radius.is_none());
    let tags: Vec<String> = sample
        .tag
        .into_vec()
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(tags, ["a", "bc"]);
    let mut query = query_of("lat=0&size=&n=9");
    let sample = query.read::<Sample>();
    let other = query.read::<Other>();
    let (sample, other) = query.complete((sample, other)).unwrap();
    assert_eq!(other.n.map(Int::get), Some(9));
    assert_eq!(
        (sample.size.get(), sample.active.get()),
        (20, true),
        "empty is absent"
    );
}

#[test]
fn every_group_reports_into_one_answer_in_reading_order() {
    let found = issues("size=0&active=maybe&name=a%00b&radius=0&tag=toolong&n=x");
    let kinds: Vec<(Value, &str)> = found
        .iter()
        .map(|(l, k, _)| (l.clone(), k.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (json!(["query", "lat"]), "missing"),
            (json!(["query", "size"]), "greater_than_equal"),
            (json!(["query", "active"]), "bool_parsing"),
            (json!(["query", "name"]), "value_error"),
            (json!(["query", "radius"]), "greater_than"),
            (json!(["query", "tag"]), "string_too_long"),
            (json!(["query", "n"]), "int_parsing"),
        ]
    );
    assert_eq!(found[4].2, "Input should be greater than 0");
    let above = issues("lat=91&radius=101");
    assert_eq!(above[0].2, "Input should be less than or equal to 90");
    assert_eq!(above[1].1, "less_than_equal");
}

#[test]
fn the_parameters_are_documented_from_the_same_members() {
    let parameters = serde_json::to_value(Sample::into_params(|| None)).unwrap();
    let by_name = |name: &str| {
        parameters
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("lat")["required"], true);
    assert_eq!(by_name("lat")["schema"]["minimum"], -90.0);
    assert_eq!(by_name("size")["required"], false);
    assert_eq!(by_name("size")["schema"]["default"], 20);
    assert_eq!(by_name("active")["schema"]["default"], true);
    assert_eq!(by_name("name")["schema"]["maxLength"], 5);
    assert_eq!(by_name("radius")["schema"]["exclusiveMinimum"], 0.0);
    assert_eq!(by_name("tag")["explode"], true);
    assert_eq!(by_name("tag")["schema"]["items"]["maxLength"], 3);
    assert_eq!(by_name("lat")["in"], "query");
    assert_eq!(by_name("lat")["description"], "Required, bounded.");
}
