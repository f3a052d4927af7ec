//! A seeded generator of national-scale synthetic feeds, for benchmarks and load tests.
//!
//! EGs are placed where real establishments and communes are: half of them exactly at the
//! position of an establishment of the sample feed (real FINESS positions, so thousands of
//! EGs share a position as in reality), half around commune centroids drawn in proportion to
//! population. Their offers follow the same category templates as the sample import, and EHPAD
//! tariffs are drawn from the real CNSA tariffs of the sample. Nothing in the output is a
//! fact about a real establishment; it only has the geography and the value distributions of
//! real data.

use super::opendata::offers::{OfferGenerator, OfferTemplate, templates_for};
use super::opendata::sort_dataset;
use crate::model::place::Commune;
use crate::model::{AgeRange, Code, Dataset, Eg, Ej, GeoPoint, Location, Offer, Tariff};
use crate::util::rng::SplitMix64;
use crate::util::time::{DAY_SECONDS, UnixSeconds};

/// Size and seed of a synthetic feed.
#[derive(Debug, Clone, Copy)]
pub struct SynthConfig {
    /// Number of EGs to generate.
    pub egs: usize,
    /// Number of offers to generate.
    pub offers: usize,
    /// Seed of the generator: the same seed gives the same feed.
    pub seed: u64,
    /// The date the feed stands for (generated update dates are before it).
    pub feed_date: UnixSeconds,
}

/// Families of establishments with the FINESS category used for their templates and weight.
const COMMUNE_FAMILIES: [(&str, u32); 8] =
    [("500", 40), ("202", 12), ("355", 8), ("109", 6), ("292", 4), ("183", 12), ("255", 8), ("437", 10)];

/// Relative offer counts per family (hospitals run many more offers than an IME).
fn offer_weight(category: &str) -> f64 {
    match category {
        "101" => 6.0,
        "355" | "131" => 4.0,
        "106" | "109" | "128" | "365" | "292" => 2.5,
        "500" => 1.6,
        _ => 1.0,
    }
}

/// Extra activities a big establishment runs beyond its templates (R244 type, R211 activity).
const EXTRA_MCO: [(&str, &str, &str); 12] = [
    ("Pneumologie", "163", "115"),
    ("Néphrologie", "159", "243"),
    ("Hépato-gastro-entérologie", "170", "083"),
    ("Rhumatologie", "165", "083"),
    ("Endocrinologie, diabétologie", "167", "040"),
    ("Dermatologie", "154", "083"),
    ("Hématologie", "169", "083"),
    ("Maladies infectieuses", "168", "083"),
    ("Soins palliatifs", "175", "170"),
    ("Unité de surveillance continue", "254", "373"),
    ("Médecine interne", "176", "085"),
    ("Ophtalmologie", "172", "083"),
];

/// Generates a synthetic dataset from the positions and tariffs of a real sample.
pub fn generate(sample: &Dataset, communes: &[Commune], config: SynthConfig) -> Dataset {
    let mut rng = SplitMix64::new(config.seed);
    let generator = OfferGenerator { feed_date: config.feed_date };
    let real_sites: Vec<&Eg> = sample.egs.iter().filter(|eg| eg.position.is_some()).collect();
    let tariff_pool: Vec<&Vec<Tariff>> =
        sample.egs.iter().filter(|eg| !eg.tariffs.is_empty()).map(|eg| &eg.tariffs).collect();
    let current_communes: Vec<&Commune> =
        communes.iter().filter(|commune| commune.kind == "commune-actuelle").collect();
    let population_weights: Vec<u32> =
        current_communes.iter().map(|commune| commune.population.unwrap_or(100).clamp(50, 300_000)).collect();
    let family_weights: Vec<u32> = COMMUNE_FAMILIES.iter().map(|(_, weight)| *weight).collect();

    let mut dataset = Dataset::default();
    let ej_count = (config.egs / 3).max(1);
    for index in 0..ej_count {
        dataset.ejs.push(Ej {
            id: format!("sej-{index:07}"),
            finess: Some(format!("99{index:07}").into()),
            name: Some(format!("Gestionnaire synthétique {index}")),
            ..Ej::default()
        });
    }

    // EGs: position, category, name.
    struct Plan {
        category: String,
        weight: f64,
    }
    let mut plans = Vec::with_capacity(config.egs);
    for index in 0..config.egs {
        let (position, category, name, commune, postal_code, city) = if !real_sites.is_empty() && rng.chance(0.5) {
            let site = *rng.pick(&real_sites);
            (
                site.position.expect("filtered"),
                site.category.as_deref().unwrap_or("500").to_owned(),
                site.name.clone(),
                site.address.commune.clone(),
                site.address.postal_code.clone(),
                site.address.city.clone(),
            )
        } else {
            let commune = current_communes[rng.weighted(&population_weights)];
            let category = COMMUNE_FAMILIES[rng.weighted(&family_weights)].0.to_owned();
            // Up to ~2 km around the centroid.
            let lat = (commune.lat + (rng.unit_f64() - 0.5) * 0.036).clamp(-90.0, 90.0);
            let lon = (commune.lon + (rng.unit_f64() - 0.5) * 0.05).clamp(-180.0, 180.0);
            let family = match category.as_str() {
                "500" => "EHPAD",
                "202" => "Résidence autonomie",
                "183" => "IME",
                "255" => "MAS",
                "437" => "FAM",
                "292" => "Centre psychothérapique",
                "109" => "Clinique SMR",
                _ => "Centre hospitalier",
            };
            (
                GeoPoint { lat, lon },
                category,
                format!("{family} de {}", commune.name),
                Some(commune.code.clone()),
                commune.postal_codes.first().cloned(),
                Some(commune.name.clone()),
            )
        };
        let mut eg = Eg {
            id: format!("seg-{index:07}"),
            finess: Some(format!("98{index:07}").into()),
            name,
            category: Some(category.as_str().into()),
            ej: Some(rng.below(ej_count as u64) as u32),
            position: Some(position),
            last_updated: Some(config.feed_date - rng.range_inclusive(0, 700 * DAY_SECONDS)),
            ..Eg::default()
        };
        eg.address.commune = commune;
        eg.address.postal_code = postal_code;
        eg.address.city = city;
        eg.region =
            Some(Code::from(["11", "84", "75", "76", "44", "32", "28", "53", "52", "24", "27", "93"][index % 12]));
        if category == "500" && !tariff_pool.is_empty() {
            eg.tariffs = (*rng.pick(&tariff_pool)).clone();
            if rng.chance(0.7) {
                eg.financial_help.push("02".into());
            }
        }
        if category == "101" {
            eg.orsan_level = Some("4".into());
        } else if category == "355" {
            eg.orsan_level = Some("1".into());
        }
        plans.push(Plan { weight: offer_weight(&category) * (0.5 + rng.unit_f64()), category });
        dataset.egs.push(eg);
    }

    // Offer counts: proportional to the weights, at least one each, summing to exactly `offers`.
    let total_weight: f64 = plans.iter().map(|plan| plan.weight).sum();
    let spare = config.offers.saturating_sub(config.egs) as f64;
    let mut counts: Vec<usize> =
        plans.iter().map(|plan| 1 + (spare * plan.weight / total_weight).floor() as usize).collect();
    let mut assigned: usize = counts.iter().sum();
    while assigned < config.offers {
        let index = rng.below(counts.len() as u64) as usize;
        counts[index] += 1;
        assigned += 1;
    }
    while assigned > config.offers {
        let index = rng.below(counts.len() as u64) as usize;
        if counts[index] > 1 {
            counts[index] -= 1;
            assigned -= 1;
        }
    }

    for (eg_index, plan) in plans.iter().enumerate() {
        let mut templates = templates_for(&plan.category);
        if templates.is_empty() {
            templates = templates_for("500");
        }
        let count = counts[eg_index];
        let location_count = count.div_ceil(3);
        let first_location = dataset.locations.len() as u32;
        let eg = &dataset.egs[eg_index];
        let position = eg.position;
        let commune = eg.address.commune.clone();
        for location_number in 0..location_count {
            let template = &templates[location_number % templates.len()];
            let closure = generator.closure(&mut rng);
            let closed = closure.0.is_some() && closure.1.is_none();
            dataset.locations.push(Location {
                id: format!("sloc-{eg_index:07}-{location_number}"),
                identifier: Some(format!("99/L{eg_index:07}{location_number}")),
                synchro_id: Some(format!("ZS{location_number:03}")),
                name: Some(format!("Lieu {} - {}", location_number + 1, template.name)),
                commune: commune.clone(),
                position,
                capacities: generator.capacities(template, &mut rng, closed),
                last_updated: Some(config.feed_date - rng.range_inclusive(0, 3 * DAY_SECONDS)),
                ..Location::default()
            });
        }
        for offer_number in 0..count {
            let base: OfferTemplate = templates[offer_number % templates.len()];
            let round = offer_number / templates.len();
            let (name, offer_type, activity) = if round == 0 {
                (base.name.to_owned(), base.offer_type, base.activity)
            } else if base.activity_field == "01" {
                let (name, offer_type, activity) = EXTRA_MCO[(offer_number + eg_index) % EXTRA_MCO.len()];
                (format!("{name} ({})", round + 1), offer_type, activity)
            } else {
                (format!("{} - unité {}", base.name, round + 1), base.offer_type, base.activity)
            };
            let (closed_from, reopens_at) = generator.closure(&mut rng);
            dataset.offers.push(Offer {
                id: format!("shs-{eg_index:07}-{offer_number}"),
                identifier: Some(format!("99/{eg_index:07}{offer_number}")),
                name,
                eg: Some(eg_index as u32),
                offer_type: Some(offer_type.into()),
                activity_field: Some(base.activity_field.into()),
                activity: Some(activity.into()),
                care_mode: Some(base.care_mode.into()),
                reception: base.reception.map(Code::from),
                publics: base.public.map(Code::from).into_iter().collect(),
                specialisations: base.specialisation.map(Code::from).into_iter().collect(),
                age_range: Some(AgeRange { min_years: Some(base.ages.0), max_years: Some(base.ages.1) }),
                closed_from,
                reopens_at,
                locations: vec![first_location + (offer_number % location_count) as u32],
                region: dataset.egs[eg_index].region.clone(),
                last_updated: Some(generator.last_updated(&mut rng)),
                ..Offer::default()
            });
        }
    }
    sort_dataset(&mut dataset);
    dataset
}
