//! Which members of a result a search writes (`fields=` / `view=`): the top-level members of
//! [`super::response::OfferHit`], in its order. `id` is always written; the others as asked.

use std::fmt;

/// One top-level member of a result, in the order results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ResultField {
    /// `id`: FHIR id of the HealthcareService (always written).
    Id,
    /// `identifier`.
    Identifier,
    /// `name`.
    Name,
    /// `offer_type`.
    OfferType,
    /// `activity_field`.
    ActivityField,
    /// `activity`.
    Activity,
    /// `care_mode`.
    CareMode,
    /// `reception`.
    Reception,
    /// `age_min_years`.
    AgeMinYears,
    /// `age_max_years`.
    AgeMaxYears,
    /// `eg`: the EG object.
    Eg,
    /// `lat`.
    Lat,
    /// `lon`.
    Lon,
    /// `position_source`.
    PositionSource,
    /// `distance_m`.
    DistanceM,
    /// `price`.
    Price,
    /// `capacity`.
    Capacity,
    /// `score`.
    Score,
    /// `last_updated`.
    LastUpdated,
}

impl ResultField {
    /// Every member, in the order of a result.
    pub const ALL: [ResultField; 19] = [
        ResultField::Id,
        ResultField::Identifier,
        ResultField::Name,
        ResultField::OfferType,
        ResultField::ActivityField,
        ResultField::Activity,
        ResultField::CareMode,
        ResultField::Reception,
        ResultField::AgeMinYears,
        ResultField::AgeMaxYears,
        ResultField::Eg,
        ResultField::Lat,
        ResultField::Lon,
        ResultField::PositionSource,
        ResultField::DistanceM,
        ResultField::Price,
        ResultField::Capacity,
        ResultField::Score,
        ResultField::LastUpdated,
    ];

    /// Its name in a result (`distance_m`).
    pub const fn name(self) -> &'static str {
        match self {
            ResultField::Id => "id",
            ResultField::Identifier => "identifier",
            ResultField::Name => "name",
            ResultField::OfferType => "offer_type",
            ResultField::ActivityField => "activity_field",
            ResultField::Activity => "activity",
            ResultField::CareMode => "care_mode",
            ResultField::Reception => "reception",
            ResultField::AgeMinYears => "age_min_years",
            ResultField::AgeMaxYears => "age_max_years",
            ResultField::Eg => "eg",
            ResultField::Lat => "lat",
            ResultField::Lon => "lon",
            ResultField::PositionSource => "position_source",
            ResultField::DistanceM => "distance_m",
            ResultField::Price => "price",
            ResultField::Capacity => "capacity",
            ResultField::Score => "score",
            ResultField::LastUpdated => "last_updated",
        }
    }

    /// The member of a name.
    pub fn from_name(name: &str) -> Option<ResultField> {
        ResultField::ALL.into_iter().find(|field| field.name() == name)
    }

    /// Whether its value changes from one request to the next for the same offer (distance,
    /// price of the GIR asked, live capacities, text score): written per request, never kept
    /// in a pre-rendered fragment.
    pub(crate) const fn is_per_request(self) -> bool {
        matches!(self, ResultField::DistanceM | ResultField::Price | ResultField::Capacity | ResultField::Score)
    }

    const fn bit(self) -> u32 {
        1 << self as u8
    }
}

/// A set of result members; `id` is always in it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FieldSet(u32);

impl Default for FieldSet {
    fn default() -> Self {
        FieldSet::FULL
    }
}

impl fmt::Debug for FieldSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(ResultField::name)).finish()
    }
}

impl FieldSet {
    /// Every member (`view=full`, the default).
    pub const FULL: FieldSet = FieldSet((1 << ResultField::ALL.len()) - 1);
    /// `view=ids`: the id and the distance, for clients that look the rest up or already have it.
    pub const IDS: FieldSet = FieldSet::of(&[ResultField::Id, ResultField::DistanceM]);
    /// `view=summary`: what a list or a map marker shows.
    pub const SUMMARY: FieldSet = FieldSet::of(&[
        ResultField::Id,
        ResultField::Name,
        ResultField::Activity,
        ResultField::CareMode,
        ResultField::Eg,
        ResultField::Lat,
        ResultField::Lon,
        ResultField::DistanceM,
        ResultField::Price,
        ResultField::Capacity,
    ]);

    /// The set of `fields` and `id`.
    pub const fn of(fields: &[ResultField]) -> FieldSet {
        let mut bits = ResultField::Id.bit();
        let mut index = 0;
        while index < fields.len() {
            bits |= fields[index].bit();
            index += 1;
        }
        FieldSet(bits)
    }

    /// The set of a view's name (`ids`, `summary`, `full`).
    pub fn view(name: &str) -> Option<FieldSet> {
        match name {
            "ids" => Some(FieldSet::IDS),
            "summary" => Some(FieldSet::SUMMARY),
            "full" => Some(FieldSet::FULL),
            _ => None,
        }
    }

    /// Whether it has `field`.
    pub const fn contains(self, field: ResultField) -> bool {
        self.0 & field.bit() != 0
    }

    /// Whether it is every member.
    pub const fn is_full(self) -> bool {
        self.0 == FieldSet::FULL.0
    }

    /// Its members, in the order of a result.
    pub fn iter(self) -> impl Iterator<Item = ResultField> {
        ResultField::ALL.into_iter().filter(move |field| self.contains(*field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_members_are_those_of_a_result_in_its_order() {
        // Every member of a rendered result, in the order serde writes them.
        let json = serde_json::to_value(crate::engine::response::tests::full_hit()).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted: Vec<&str> = ResultField::ALL.iter().map(|field| field.name()).collect();
        sorted.sort_unstable();
        assert_eq!(keys, sorted, "serde_json's map sorts keys: the same set");
        let text = serde_json::to_string(&crate::engine::response::tests::full_hit()).unwrap();
        let positions: Vec<usize> =
            ResultField::ALL.iter().map(|field| text.find(&format!("\"{}\":", field.name())).unwrap()).collect();
        assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "in the order of OfferHit: {positions:?}");
        for field in ResultField::ALL {
            assert_eq!(ResultField::from_name(field.name()), Some(field));
        }
        assert_eq!(ResultField::from_name("eg.name"), None);
    }

    #[test]
    fn sets_always_hold_the_id() {
        assert!(FieldSet::of(&[]).contains(ResultField::Id));
        assert_eq!(FieldSet::of(&[ResultField::Name]).iter().collect::<Vec<_>>(), [ResultField::Id, ResultField::Name]);
        assert!(FieldSet::FULL.is_full() && !FieldSet::SUMMARY.is_full());
        assert_eq!(FieldSet::FULL.iter().count(), ResultField::ALL.len());
        assert_eq!(FieldSet::view("ids"), Some(FieldSet::IDS));
        assert_eq!(FieldSet::view("all"), None);
        assert_eq!(format!("{:?}", FieldSet::IDS), r#"["id", "distance_m"]"#);
    }
}
