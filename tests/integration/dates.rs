//! `util::time` against the `time` crate: `parse_fhir_datetime` on random valid FHIR `date` /
//! `dateTime` / `instant` strings and on random mutations of them, `format_rfc3339` and
//! `format_date` on random instants.
//!
//! The parser reads FHIR, which differs from RFC 3339 on purpose (as its doc says): partial
//! dates `YYYY` and `YYYY-MM` (the first second of the period, UTC), a time without seconds
//! (`hh:mm`), a missing zone (UTC), and `T` / `Z` in upper case only. The reference below reads
//! those forms by rewriting them into RFC 3339 and leaves every calendar and clock check, and
//! all arithmetic, to the `time` crate.

use proptest::prelude::*;
use ror_search::util::time::{format_date, format_rfc3339, parse_fhir_datetime};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

/// Seed of the generated strings (runs are reproducible).
const SEED: u64 = 20_261_202;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(SEED),
        ..ProptestConfig::default()
    }
}

fn exact_digits(text: &str) -> Option<i32> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

fn date(year: &str, month: &str, day: &str) -> Option<Date> {
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let month = Month::try_from(u8::try_from(exact_digits(month)?).ok()?).ok()?;
    Date::from_calendar_date(exact_digits(year)?, month, u8::try_from(exact_digits(day)?).ok()?).ok()
}

fn midnight(date: Date) -> i64 {
    date.midnight().assume_utc().unix_timestamp()
}

/// The FHIR reading of `text` by way of the `time` crate, `None` when it is not a FHIR
/// date / dateTime / instant.
fn reference(text: &str) -> Option<i64> {
    if !text.is_ascii() {
        return None;
    }
    let part = |range: std::ops::Range<usize>| text.get(range).unwrap_or("");
    let dash = |index: usize| text.as_bytes().get(index) == Some(&b'-');
    match text.len() {
        4 => return date(text, "01", "01").map(midnight),
        7 if dash(4) => return date(part(0..4), part(5..7), "01").map(midnight),
        10 if dash(4) && dash(7) => return date(part(0..4), part(5..7), part(8..10)).map(midnight),
        _ => {}
    }
    if text.len() < 16 || text.as_bytes()[10] != b'T' || !dash(4) || !dash(7) {
        return None;
    }
    let (day, rest) = text.split_at(11);
    let zone_start = rest.find(['Z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_start);
    // FHIR: `hh:mm` means `hh:mm:00`; no zone means UTC; zones are at most ±14 h.
    let clock = if clock.len() == 5 { format!("{clock}:00") } else { clock.to_owned() };
    let zone = if zone.is_empty() { "Z" } else { zone };
    if zone != "Z" && exact_digits(zone.get(1..3)?)? > 14 {
        return None;
    }
    OffsetDateTime::parse(&format!("{day}{clock}{zone}"), &Rfc3339).ok().map(|instant| instant.unix_timestamp())
}

/// Forms the parser accepts beyond the reference (ISO 8601 leniencies, not FHIR): hour `24`
/// (`24:00:00` is the next midnight) and second `60` (a leap second read as the next second).
fn known_leniency(text: &str) -> bool {
    text.len() >= 13
        && text.as_bytes()[10] == b'T'
        && (text.get(11..13) == Some("24") || text.get(17..19) == Some("60"))
}

fn year_strategy() -> impl Strategy<Value = i32> {
    prop_oneof![
        3 => 1i32..=9999,
        3 => 1900i32..=2100,
        2 => 1968i32..=1972,
        2 => prop::sample::select(vec![1600, 1700, 1800, 1900, 2000, 2004, 2023, 2024, 2100, 2400]),
    ]
}

fn date_strategy() -> impl Strategy<Value = Date> {
    (year_strategy(), 1u8..=12, 0.0f64..1.0, any::<bool>()).prop_map(|(year, month, day_fraction, last_day)| {
        let month = Month::try_from(month).unwrap();
        let days = time::util::days_in_month(month, year);
        let day = if last_day { days } else { 1 + (day_fraction * f64::from(days)) as u8 % days };
        Date::from_calendar_date(year, month, day).unwrap()
    })
}

/// Valid FHIR date / dateTime / instant strings.
fn valid_strategy() -> impl Strategy<Value = String> {
    let zone = prop_oneof![
        1 => Just(String::new()),
        3 => Just("Z".to_owned()),
        1 => Just("+00:00".to_owned()),
        1 => Just("-00:00".to_owned()),
        3 => (any::<bool>(), 0u8..=13, 0u8..60).prop_map(|(plus, hours, minutes)| {
            format!("{}{hours:02}:{minutes:02}", if plus { '+' } else { '-' })
        }),
        1 => Just("+14:00".to_owned()),
        1 => Just("-14:00".to_owned()),
    ];
    let clock = prop_oneof![
        1 => (0u8..24, 0u8..60).prop_map(|(h, m)| format!("{h:02}:{m:02}")),
        3 => (0u8..24, 0u8..60, 0u8..60).prop_map(|(h, m, s)| format!("{h:02}:{m:02}:{s:02}")),
        2 => (0u8..24, 0u8..60, 0u8..60, "[0-9]{1,9}").prop_map(|(h, m, s, f)| format!("{h:02}:{m:02}:{s:02}.{f}")),
        1 => Just("00:00:00".to_owned()),
        1 => Just("23:59:59".to_owned()),
    ];
    (date_strategy(), 0u8..6, clock, zone).prop_map(|(date, precision, clock, zone)| {
        let (year, month, day) = (date.year(), date.month() as u8, date.day());
        match precision {
            0 => format!("{year:04}"),
            1 => format!("{year:04}-{month:02}"),
            2 => format!("{year:04}-{month:02}-{day:02}"),
            _ => format!("{year:04}-{month:02}-{day:02}T{clock}{zone}"),
        }
    })
}

/// Valid strings with one edit: most become invalid, some stay valid.
fn mutated_strategy() -> impl Strategy<Value = String> {
    let replacement =
        prop::sample::select(vec!['0', '1', '2', '3', '5', '9', '-', 'T', 't', ':', 'Z', 'z', '+', '.', ' ', 'x', 'é']);
    (valid_strategy(), 0u8..4, any::<prop::sample::Index>(), replacement).prop_map(|(text, edit, index, character)| {
        let mut chars: Vec<char> = text.chars().collect();
        let at = index.index(chars.len() + 1);
        match edit {
            0 if at < chars.len() => {
                chars.remove(at);
            }
            1 if at < chars.len() => chars[at] = character,
            2 => chars.insert(at, character),
            _ => chars.truncate(at),
        }
        chars.into_iter().collect()
    })
}

fn compare(text: &str) -> Result<(), TestCaseError> {
    let parsed = parse_fhir_datetime(text);
    match (parsed.as_ref().ok().copied(), reference(text)) {
        (Some(ours), Some(theirs)) => prop_assert_eq!(ours, theirs, "{:?}", text),
        (None, None) => {}
        (Some(_), None) if known_leniency(text) => {}
        (ours, theirs) => {
            return Err(TestCaseError::fail(format!("{text:?}: parser {parsed:?}, time crate {theirs:?} ({ours:?})")));
        }
    }
    if let Err(error) = &parsed {
        prop_assert_eq!(&error.text, text);
        prop_assert!(!error.reason.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn valid_strings_parse_as_the_time_crate_reads_them(text in valid_strategy()) {
        prop_assert!(reference(&text).is_some(), "the generator made an invalid string {:?}", text);
        compare(&text)?;
    }

    #[test]
    fn mutated_strings_are_refused_unless_still_valid(text in mutated_strategy()) {
        compare(&text)?;
    }

    #[test]
    fn arbitrary_strings_never_panic(text in prop_oneof![any::<String>(), "[0-9T:Z+.-]{0,30}", "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.Z+-]{0,20}"]) {
        compare(&text)?;
    }

    #[test]
    fn formatting_matches_the_time_crate(seconds in prop_oneof![
        // Years 0001 to 9999, and around the epoch.
        -62_135_596_800i64..253_402_300_800,
        -200_000_000i64..200_000_000,
        -86_401i64..86_401,
    ]) {
        let instant = OffsetDateTime::from_unix_timestamp(seconds).unwrap();
        let expected = instant.format(&Rfc3339).unwrap();
        prop_assert_eq!(format_rfc3339(seconds), expected.clone());
        prop_assert_eq!(format_date(seconds), expected[..10].to_owned());
        prop_assert_eq!(parse_fhir_datetime(&format_rfc3339(seconds)), Ok(seconds));
    }
}

#[test]
fn partial_dates_are_the_first_second_of_their_period() {
    // FHIR partial dates (not RFC 3339): the documented reading.
    for (text, year, month, day) in
        [("1970", 1970, 1, 1), ("1969", 1969, 1, 1), ("2024-02", 2024, 2, 1), ("1969-12", 1969, 12, 1)]
    {
        let expected = midnight(Date::from_calendar_date(year, Month::try_from(month).unwrap(), day).unwrap());
        assert_eq!(parse_fhir_datetime(text), Ok(expected), "{text}");
    }
    assert_eq!(parse_fhir_datetime("1969-12-31T23:59:59Z"), Ok(-1));
    assert_eq!(parse_fhir_datetime("1970-01-01T00:00:00Z"), Ok(0));
    assert_eq!(parse_fhir_datetime("1970-01-01T01:00:00+01:00"), Ok(0));
    assert_eq!(parse_fhir_datetime("1969-12-31T23:00:00-01:00"), Ok(0));
    // No zone is UTC; no seconds is :00; the fraction is dropped (floor, also before 1970).
    assert_eq!(parse_fhir_datetime("2024-07-08T18:15"), parse_fhir_datetime("2024-07-08T18:15:00Z"));
    assert_eq!(parse_fhir_datetime("1969-12-31T23:59:59.999Z"), Ok(-1));
}

#[test]
fn impossible_or_malformed_dates_are_refused() {
    for text in [
        "",
        "197",
        "19700",
        "+1970",
        "1970-1",
        "1970-00",
        "1970-13",
        "1970-01-00",
        "1970-01-32",
        "1900-02-29",
        "2100-02-29",
        "2023-02-29",
        "2024-04-31",
        "2024-7-8",
        "2024-07-08Z",
        "2024-07-08T",
        "2024-07-08T18Z",
        "2024-07-08T18:5",
        "2024-07-08T25:00:00Z",
        "2024-07-08T18:60:00Z",
        "2024-07-08T18:15:61Z",
        "2024-07-08T18:15:39.Z",
        "2024-07-08T18:15:39+2",
        "2024-07-08T18:15:39+15:00",
        "2024-07-08T18:15:39+02:60",
        "2024-07-08T18:15:39+0200",
        "2024-07-08T18:15:39Z ",
        "2024-07-08 18:15:39Z",
        "2024-07-08t18:15:39Z",
        "2024-07-08T18:15:39z",
        "2024-07-08T18:15:39ZZ",
        "２０２４-07-08",
        "2024-07-0８",
    ] {
        assert!(parse_fhir_datetime(text).is_err(), "{text:?} was accepted: {:?}", parse_fhir_datetime(text));
        assert_eq!(reference(text), None, "the reference accepts {text:?}");
    }
    // Leap years: 29 February exists in 2000, 2024 and 2400, not in 1900, 2023 and 2100.
    for year in [2000, 2024, 2400, 1600] {
        let text = format!("{year}-02-29");
        assert_eq!(parse_fhir_datetime(&text).ok(), reference(&text), "{text}");
        assert!(parse_fhir_datetime(&text).is_ok(), "{text}");
    }
}
