//! Pre-rendered results. An offer's JSON is the same in every answer but for four members:
//! its distance, its price (of the GIR and basis asked), its live capacities and its text
//! score, and one member of its EG that only profile 1 sees (`orsan_level`). A [`Fragment`]
//! is the offer rendered once with those four left out and `orsan_level` in, with the byte
//! span of each member; a page copies the spans the request selects and writes the four
//! per-request members between them. The bytes are those of serialising the whole result (the
//! tests compare), since both come from the same serialiser and a member's bytes do not depend
//! on its neighbours.
//!
//! Fragments are rendered on first use and kept for the snapshot's life ([`Fragments`]), up to
//! a byte budget: past it, an offer is rendered for the answer and not kept (a whole-France
//! stream does not fill memory with offers no one asks for twice).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::fields::{FieldSet, ResultField};
use super::response::{CapacityView, OfferHit, PriceView};

/// Bytes of fragments kept per snapshot, at most (about 180,000 offers of ~1.4 KB: the offers
/// of the large cities at national scale, every offer of the sample).
pub(crate) const FRAGMENT_BUDGET_BYTES: usize = 256 << 20;

/// An offer's result rendered without its per-request members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fragment {
    bytes: Box<[u8]>,
    /// The span `"name":value` of each member in `bytes`, by [`ResultField`] (empty for the
    /// per-request ones).
    members: [(u32, u32); ResultField::ALL.len()],
    /// The span `,"orsan_level":value` in the EG's object, empty when the offer has no EG.
    orsan_level: (u32, u32),
}

/// The per-request members of one result.
#[derive(Debug, Clone)]
pub(crate) struct PerRequest {
    pub(crate) distance_m: Option<f64>,
    pub(crate) price: Option<PriceView>,
    pub(crate) capacity: CapacityView,
    pub(crate) score: Option<f32>,
}

impl PerRequest {
    /// Writes `"name":value` of one of its members.
    fn write(&self, out: &mut Vec<u8>, field: ResultField) {
        out.push(b'"');
        out.extend_from_slice(field.name().as_bytes());
        out.extend_from_slice(b"\":");
        match field {
            ResultField::DistanceM => json::f64_or_null(out, self.distance_m),
            ResultField::Price => json::price(out, self.price.as_ref()),
            ResultField::Capacity => json::capacity(out, &self.capacity),
            ResultField::Score => json::f32_or_null(out, self.score),
            _ => unreachable!("{} is not a per-request member", field.name()),
        }
    }
}

impl Fragment {
    /// The fragment of a result rendered with `orsan_level` in its EG (its per-request members
    /// are not read).
    pub(crate) fn new(hit: &OfferHit<'_>) -> Fragment {
        let bytes = sonic_rs::to_vec(hit).expect("a result serialises (no map keys, finite or null floats)");
        let mut members = [(0, 0); ResultField::ALL.len()];
        let mut orsan_level = (0, 0);
        for (index, member) in object_members(&bytes, 0).into_iter().enumerate() {
            let field = ResultField::ALL[index];
            debug_assert_eq!(&bytes[member.key.clone()], field.name().as_bytes(), "members in OfferHit's order");
            if field.is_per_request() {
                continue;
            }
            members[index] = (member.start as u32, member.end as u32);
            if field == ResultField::Eg
                && bytes[member.value] == b'{'
                && let Some(orsan) = object_members(&bytes, member.value)
                    .into_iter()
                    .find(|member| &bytes[member.key.clone()] == b"orsan_level")
            {
                // from the comma before it: orsan_level is never the EG's first member
                orsan_level = (orsan.start as u32 - 1, orsan.end as u32);
            }
        }
        Fragment { bytes: bytes.into_boxed_slice(), members, orsan_level }
    }

    /// Bytes it holds.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() + std::mem::size_of::<Fragment>()
    }

    /// Writes the result: the members of `fields`, the EG's `orsan_level` if `sees_orsan_level`.
    /// Static members that follow each other in the fragment are copied as one span (every
    /// member from `id` to `position_source` in a full result: two copies, not fifteen).
    pub(crate) fn write(&self, out: &mut Vec<u8>, fields: FieldSet, sees_orsan_level: bool, per: &PerRequest) {
        let mut copier = Copier { bytes: &self.bytes, pending: (0, 0) };
        out.push(b'{');
        let mut first = true;
        for field in fields.iter() {
            let (start, end) = self.members[field as usize];
            let (start, end) = (start as usize, end as usize);
            match field {
                _ if field.is_per_request() => {
                    copier.flush(out);
                    if !first {
                        out.push(b',');
                    }
                    per.write(out, field);
                }
                ResultField::Eg if !sees_orsan_level && self.orsan_level.1 > 0 => {
                    let (cut, cut_end) = (self.orsan_level.0 as usize, self.orsan_level.1 as usize);
                    copier.member(out, start, cut, first);
                    copier.flush(out);
                    copier.pending = (cut_end, end);
                }
                _ => copier.member(out, start, end, first),
            }
            first = false;
        }
        copier.flush(out);
        out.push(b'}');
    }
}

/// Copies spans of a fragment, joining a member to the span before it when only their comma
/// lies between them.
struct Copier<'f> {
    bytes: &'f [u8],
    /// The span not yet copied (empty when `start == end`).
    pending: (usize, usize),
}

impl Copier<'_> {
    /// The member at `start..end`, after a comma unless `first`.
    fn member(&mut self, out: &mut Vec<u8>, start: usize, end: usize, first: bool) {
        let (pending_start, pending_end) = self.pending;
        if pending_end > pending_start && start == pending_end + 1 && self.bytes[pending_end] == b',' {
            self.pending.1 = end;
            return;
        }
        self.flush(out);
        if !first {
            out.push(b',');
        }
        self.pending = (start, end);
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        let (start, end) = self.pending;
        out.extend_from_slice(&self.bytes[start..end]);
        self.pending = (end, end);
    }
}

/// The per-request members written by hand: the bytes sonic-rs writes for them (the tests
/// compare), without a serializer per member (a page of 20 wrote them in 8 µs through serde,
/// about the time of the rest of the page).
mod json {
    use std::sync::LazyLock;

    use crate::engine::response::{CapacityView, Coded, PriceView, Timestamp};
    use crate::model::labels::CodeSystem;
    use crate::model::rules::PriceBasis;

    fn integer(out: &mut Vec<u8>, value: impl itoa::Integer) {
        out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// A float as sonic-rs writes it: the shortest representation that round-trips (zmij),
    /// `null` when not finite.
    pub(super) fn f64(out: &mut Vec<u8>, value: f64) {
        if value.is_finite() {
            out.extend_from_slice(zmij::Buffer::new().format_finite(value).as_bytes());
        } else {
            out.extend_from_slice(b"null");
        }
    }

    pub(super) fn f64_or_null(out: &mut Vec<u8>, value: Option<f64>) {
        match value {
            Some(value) => f64(out, value),
            None => out.extend_from_slice(b"null"),
        }
    }

    pub(super) fn f32_or_null(out: &mut Vec<u8>, value: Option<f32>) {
        match value {
            Some(value) if value.is_finite() => {
                out.extend_from_slice(zmij::Buffer::new().format_finite(value).as_bytes())
            }
            _ => out.extend_from_slice(b"null"),
        }
    }

    fn timestamp_or_null(out: &mut Vec<u8>, value: Option<Timestamp>) {
        let Some(at) = value else {
            return out.extend_from_slice(b"null");
        };
        match at.rfc3339() {
            Some(text) => {
                out.push(b'"');
                out.extend_from_slice(&text);
                out.push(b'"');
            }
            None => sonic_rs::to_writer(&mut *out, &at).expect("a timestamp serialises"),
        }
    }

    /// Each basis's JSON string (`"gross"`), serialised once.
    static BASES: LazyLock<[Vec<u8>; 2]> = LazyLock::new(|| {
        [PriceBasis::Gross, PriceBasis::OutOfPocket].map(|basis| sonic_rs::to_vec(&basis).expect("a basis serialises"))
    });

    /// A band (`{"code":"01","label":"GIR 1-2"}`), its bytes serialised once.
    fn band(out: &mut Vec<u8>, band: &Coded<'static>) {
        type Band = (&'static str, Option<&'static str>, Vec<u8>);
        static BANDS: LazyLock<Vec<Band>> = LazyLock::new(|| {
            crate::model::rules::GIR_BANDS
                .iter()
                .map(|code| {
                    let coded = Coded { code, label: CodeSystem::GroupeTarifaireDependance.label(code) };
                    (coded.code, coded.label, sonic_rs::to_vec(&coded).expect("a code serialises"))
                })
                .collect()
        });
        match BANDS.iter().find(|(code, label, _)| *code == band.code && *label == band.label) {
            Some((.., bytes)) => out.extend_from_slice(bytes),
            None => sonic_rs::to_writer(&mut *out, band).expect("a code serialises"),
        }
    }

    /// Euros as sonic-rs writes the float `cents / 100`: below 2^43 cents that float's
    /// shortest round-trip decimal is the decimal of the cents itself (the float is within
    /// 10^-5 of it, any other decimal as short is 0.01 away), written without the float.
    fn eur(out: &mut Vec<u8>, cents: i64, value: f64) {
        if cents.unsigned_abs() >= 1 << 43 || cents as f64 / 100.0 != value {
            return f64(out, value);
        }
        if cents < 0 {
            out.push(b'-');
        }
        let (whole, fraction) = (cents.unsigned_abs() / 100, (cents.unsigned_abs() % 100) as u8);
        out.extend_from_slice(itoa::Buffer::new().format(whole).as_bytes());
        match fraction {
            0 => out.extend_from_slice(b".0"),
            _ if fraction % 10 == 0 => out.extend_from_slice(&[b'.', b'0' + fraction / 10]),
            _ => out.extend_from_slice(&[b'.', b'0' + fraction / 10, b'0' + fraction % 10]),
        }
    }

    /// A [`PriceView`] or `null`.
    pub(super) fn price(out: &mut Vec<u8>, price: Option<&PriceView>) {
        let Some(price) = price else {
            out.extend_from_slice(b"null");
            return;
        };
        out.extend_from_slice(b"{\"basis\":");
        out.extend_from_slice(match price.basis {
            PriceBasis::Gross => &BASES[0],
            PriceBasis::OutOfPocket => &BASES[1],
        });
        out.extend_from_slice(b",\"gir\":");
        match price.gir {
            Some(gir) => integer(out, gir),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"dependance_band\":");
        band(out, &price.dependance_band);
        out.extend_from_slice(b",\"hebergement_cents\":");
        integer(out, price.hebergement_cents);
        out.extend_from_slice(b",\"dependance_cents\":");
        integer(out, price.dependance_cents);
        out.extend_from_slice(b",\"daily_total_cents\":");
        integer(out, price.daily_total_cents);
        out.extend_from_slice(b",\"hebergement_eur\":");
        eur(out, price.hebergement_cents, price.hebergement_eur);
        out.extend_from_slice(b",\"dependance_eur\":");
        eur(out, price.dependance_cents, price.dependance_eur);
        out.extend_from_slice(b",\"daily_total_eur\":");
        eur(out, price.daily_total_cents, price.daily_total_eur);
        out.push(b'}');
    }

    /// A [`CapacityView`]: the counts the caller sees, each with its date.
    pub(super) fn capacity(out: &mut Vec<u8>, capacity: &CapacityView) {
        /// A count's name, the count and its date, each absent when the caller does not see it.
        type Counted<'n> = (&'n [u8], Option<u32>, Option<Option<Timestamp>>);
        let members: [Counted<'_>; 4] = [
            (b"installed", capacity.installed, capacity.installed_updated_at),
            (b"available", capacity.available, capacity.available_updated_at),
            (b"crisis_t0", capacity.crisis_t0, capacity.crisis_t0_updated_at),
            (b"crisis_t60", capacity.crisis_t60, capacity.crisis_t60_updated_at),
        ];
        out.push(b'{');
        let mut first = true;
        // `"name<suffix>":`, after a comma unless it is the first member.
        let mut key = |out: &mut Vec<u8>, name: &[u8], suffix: &[u8]| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(name);
            out.extend_from_slice(suffix);
            out.extend_from_slice(b"\":");
        };
        for (name, count, updated_at) in members {
            if let Some(count) = count {
                key(out, name, b"");
                integer(out, count);
            }
            if let Some(updated_at) = updated_at {
                key(out, name, b"_updated_at");
                timestamp_or_null(out, updated_at);
            }
        }
        out.push(b'}');
    }
}

/// The fragments of a snapshot's offers, each rendered at its first use.
#[derive(Debug)]
pub(crate) struct Fragments {
    slots: Box<[OnceLock<Box<Fragment>>]>,
    kept_bytes: AtomicUsize,
    budget_bytes: usize,
}

impl Fragments {
    /// Room for `offers` fragments, none rendered, keeping at most `budget_bytes`.
    pub(crate) fn new(offers: usize, budget_bytes: usize) -> Fragments {
        Fragments {
            slots: (0..offers).map(|_| OnceLock::new()).collect(),
            kept_bytes: AtomicUsize::new(0),
            budget_bytes,
        }
    }

    /// The fragment of an offer, rendered by `render` if it is not kept; kept if `keep` and
    /// the budget allows. `with` sees it either way.
    pub(crate) fn with<R>(
        &self,
        offer: usize,
        keep: bool,
        render: impl FnOnce() -> Fragment,
        with: impl FnOnce(&Fragment) -> R,
    ) -> R {
        let slot = &self.slots[offer];
        if let Some(fragment) = slot.get() {
            return with(fragment);
        }
        let fragment = render();
        if keep && self.kept_bytes.load(Ordering::Relaxed) < self.budget_bytes {
            let kept = slot.get_or_init(|| {
                self.kept_bytes.fetch_add(fragment.len(), Ordering::Relaxed);
                Box::new(fragment)
            });
            return with(kept);
        }
        with(&fragment)
    }

    /// Bytes kept now.
    pub(crate) fn kept_bytes(&self) -> usize {
        self.kept_bytes.load(Ordering::Relaxed)
    }
}

/// A member of a JSON object: the spans of its key (inside the quotes), of the member
/// (`"key":value`) and where its value starts.
#[derive(Debug)]
struct Member {
    key: std::ops::Range<usize>,
    start: usize,
    end: usize,
    value: usize,
}

/// The members of the object at `at` in compact JSON written by our serialiser (no
/// whitespace).
fn object_members(bytes: &[u8], at: usize) -> Vec<Member> {
    debug_assert_eq!(bytes[at], b'{');
    let mut members = Vec::with_capacity(ResultField::ALL.len());
    let mut index = at + 1;
    while bytes[index] != b'}' {
        let start = index;
        let key_end = skip_value(bytes, index);
        let value = key_end + 1; // past ':'
        let end = skip_value(bytes, value);
        members.push(Member { key: start + 1..key_end - 1, start, end, value });
        index = if bytes[end] == b',' { end + 1 } else { end };
    }
    members
}

/// Where the JSON value at `at` ends.
fn skip_value(bytes: &[u8], at: usize) -> usize {
    match bytes[at] {
        b'"' => skip_string(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut index = at;
            loop {
                match bytes[index] {
                    b'"' => {
                        index = skip_string(bytes, index);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return index + 1;
                        }
                    }
                    _ => {}
                }
                index += 1;
            }
        }
        _ => {
            let mut index = at;
            while !matches!(bytes[index], b',' | b'}' | b']') {
                index += 1;
            }
            index
        }
    }
}

/// Where the string at `at` (its opening quote) ends, past its closing quote.
fn skip_string(bytes: &[u8], at: usize) -> usize {
    let mut index = at + 1;
    loop {
        match bytes[index] {
            b'\\' => index += 2,
            b'"' => return index + 1,
            _ => index += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_found_through_strings_with_quotes_braces_and_escapes() {
        let json = br#"{"a":"x\"}{,","b":{"c":[1,{"d":"]"}],"e":null},"f":-1.5e-7,"g":[]}"#;
        let members = object_members(json, 0);
        let keys: Vec<&[u8]> = members.iter().map(|member| &json[member.key.clone()]).collect();
        assert_eq!(keys, [&b"a"[..], b"b", b"f", b"g"]);
        assert_eq!(&json[members[1].start..members[1].end], br#""b":{"c":[1,{"d":"]"}],"e":null}"#);
        assert_eq!(&json[members[2].start..members[2].end], br#""f":-1.5e-7"#);
        let inner = object_members(json, members[1].value);
        assert_eq!(&json[inner[1].start..inner[1].end], br#""e":null"#);
    }

    #[test]
    fn a_fragment_writes_the_serialised_result() {
        let hit = crate::engine::response::tests::full_hit();
        let fragment = Fragment::new(&hit);
        let per = PerRequest {
            distance_m: hit.distance_m,
            price: hit.price.clone(),
            capacity: hit.capacity.clone(),
            score: hit.score,
        };
        let mut out = Vec::new();
        fragment.write(&mut out, FieldSet::FULL, true, &per);
        assert_eq!(String::from_utf8(out).unwrap(), sonic_rs::to_string(&hit).unwrap());
        let mut hidden = hit.clone();
        hidden.eg.as_mut().unwrap().orsan_level = None;
        let mut out = Vec::new();
        fragment.write(&mut out, FieldSet::FULL, false, &per);
        assert_eq!(String::from_utf8(out).unwrap(), sonic_rs::to_string(&hidden).unwrap());
        let mut out = Vec::new();
        fragment.write(&mut out, FieldSet::IDS, false, &per);
        let distance = sonic_rs::to_string(&hit.distance_m).unwrap();
        let id = sonic_rs::to_string(&hit.id).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), format!(r#"{{"id":{id},"distance_m":{distance}}}"#));
    }

    #[test]
    fn per_request_members_are_written_as_sonic_writes_them() {
        use crate::engine::response::{Coded, Timestamp};
        use crate::model::rules::PriceBasis;
        let floats =
            [0.0, -0.0, 1.0, 75.0, 75.3, 0.1 + 0.2, 1e-7, 123_456_789.012, 1e21, 1e300, f64::MIN_POSITIVE, -2.5];
        for value in floats.into_iter().chain([f64::NAN, f64::INFINITY]) {
            let mut out = Vec::new();
            json::f64_or_null(&mut out, Some(value));
            assert_eq!(String::from_utf8(out).unwrap(), sonic_rs::to_string(&Some(value)).unwrap(), "{value}");
            let single = value as f32;
            let mut out = Vec::new();
            json::f32_or_null(&mut out, Some(single));
            assert_eq!(String::from_utf8(out).unwrap(), sonic_rs::to_string(&Some(single)).unwrap(), "{single}");
        }
        let dates = [
            None,
            Some(None),
            Some(Some(Timestamp(0))),
            Some(Some(Timestamp(1_790_000_000))),
            Some(Some(Timestamp(-80_000_000_000))),
            Some(Some(Timestamp(400_000_000_000))),
        ];
        for (index, (installed, available)) in dates.iter().zip(dates.iter().rev()).enumerate() {
            let count = |on: bool, value: u32| on.then_some(value);
            let capacity = CapacityView {
                installed: count(index % 2 == 0, 0),
                installed_updated_at: *installed,
                available: count(index % 3 != 0, u32::MAX),
                available_updated_at: *available,
                crisis_t0: count(index > 2, 7),
                crisis_t0_updated_at: dates[(index + 1) % dates.len()],
                crisis_t60: count(index < 4, 12),
                crisis_t60_updated_at: dates[(index + 3) % dates.len()],
            };
            let mut out = Vec::new();
            json::capacity(&mut out, &capacity);
            assert_eq!(String::from_utf8(out).unwrap(), sonic_rs::to_string(&capacity).unwrap(), "{capacity:?}");
        }
        let mut out = Vec::new();
        json::capacity(&mut out, &CapacityView::default());
        assert_eq!(out, b"{}");
        for (basis, gir, band, label) in [
            (PriceBasis::Gross, None, "03", Some("GIR 5-6")),
            (PriceBasis::Gross, Some(2), "01", Some("GIR 1-2")),
            (PriceBasis::OutOfPocket, Some(4), "03", Some("GIR 5-6")),
            (PriceBasis::Gross, Some(3), "02", Some("a \"quoted\" label")),
            (PriceBasis::Gross, Some(3), "99", None),
        ] {
            let price = PriceView {
                basis,
                gir,
                dependance_band: Coded { code: band, label },
                hebergement_cents: 4_924,
                dependance_cents: -1,
                daily_total_cents: i64::MAX,
                hebergement_eur: 49.24,
                dependance_eur: 100.0,
                daily_total_eur: 0.1 + 0.2,
            };
            let mut out = Vec::new();
            json::price(&mut out, Some(&price));
            assert_eq!(String::from_utf8(out).unwrap(), sonic_rs::to_string(&price).unwrap(), "{price:?}");
        }
        let mut out = Vec::new();
        json::price(&mut out, None);
        assert_eq!(out, b"null");
        // Euros from cents: every cent to 2,000 EUR, then spread to the bound, either sign.
        let mut rng = crate::util::rng::SplitMix64::new(43);
        let spread = (0..200_000).map(|_| (rng.next_u64() >> (21 + rng.next_u64() % 40)) as i64);
        for cents in (0..200_000).chain(spread).chain([(1 << 43) - 1, 1 << 43, i64::MAX, i64::MIN + 1]) {
            for cents in [cents, -cents] {
                let value = cents as f64 / 100.0;
                let price = PriceView {
                    basis: PriceBasis::Gross,
                    gir: None,
                    dependance_band: Coded { code: "03", label: Some("GIR 5-6") },
                    hebergement_cents: cents,
                    dependance_cents: cents,
                    daily_total_cents: cents,
                    hebergement_eur: value,
                    dependance_eur: value + 1.0,
                    daily_total_eur: value,
                };
                let mut out = Vec::new();
                json::price(&mut out, Some(&price));
                assert_eq!(out, sonic_rs::to_vec(&price).unwrap(), "{cents} cents");
            }
        }
    }

    #[test]
    fn fragments_are_kept_within_their_budget() {
        let hit = crate::engine::response::tests::full_hit();
        let size = Fragment::new(&hit).len();
        let fragments = Fragments::new(4, size + 1);
        let mut renders = 0;
        for offer in [0, 0, 1, 1, 2] {
            fragments.with(
                offer,
                true,
                || {
                    renders += 1;
                    Fragment::new(&hit)
                },
                |_| (),
            );
        }
        // 0 kept (under budget), 1 kept (the budget was not yet reached), 2 rendered only
        assert_eq!(renders, 3);
        assert_eq!(fragments.kept_bytes(), 2 * size);
        fragments.with(3, false, || Fragment::new(&hit), |_| ());
        fragments.with(2, true, || Fragment::new(&hit), |_| ());
        assert_eq!(fragments.kept_bytes(), 2 * size, "past the budget, nothing more is kept");
    }
}
