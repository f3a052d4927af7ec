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
    pub(crate) fn write(&self, out: &mut Vec<u8>, fields: FieldSet, sees_orsan_level: bool, per: &PerRequest) {
        out.push(b'{');
        let mut first = true;
        for field in fields.iter() {
            if !first {
                out.push(b',');
            }
            first = false;
            let (start, end) = self.members[field as usize];
            let (start, end) = (start as usize, end as usize);
            match field {
                ResultField::DistanceM => member(out, "distance_m", &per.distance_m),
                ResultField::Price => member(out, "price", &per.price),
                ResultField::Capacity => member(out, "capacity", &per.capacity),
                ResultField::Score => member(out, "score", &per.score),
                ResultField::Eg if !sees_orsan_level && self.orsan_level.1 > 0 => {
                    let (cut, cut_end) = (self.orsan_level.0 as usize, self.orsan_level.1 as usize);
                    out.extend_from_slice(&self.bytes[start..cut]);
                    out.extend_from_slice(&self.bytes[cut_end..end]);
                }
                _ => out.extend_from_slice(&self.bytes[start..end]),
            }
        }
        out.push(b'}');
    }
}

/// Writes `"name":value`.
fn member<T: serde::Serialize>(out: &mut Vec<u8>, name: &str, value: &T) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    sonic_rs::to_writer(&mut *out, value).expect("a per-request member serialises");
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
