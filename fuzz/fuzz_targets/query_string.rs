//! The query strings of the search routes, as their handlers read them (`src/http/handlers.rs`,
//! `src/http/quality.rs`): percent-decoded into pairs strictly (`api::decode_query`), parsed into the
//! route's struct (`api::from_pairs`), checked into the engine's request, and answered on a
//! small engine (the fixture snapshot with the communes table), the answer serialised.
//!
//! Input: a first byte choosing the caller's access profiles (its low six bits, profile 1 when
//! none), then the raw query string (the part after `?`), the same for every route:
//! `GET /v1/offers` (with its `format=json|geojson`), `/v1/crisis`, `/v1/communes`,
//! `/v1/quality`, `POST /admin/reload`. Nothing may panic, whatever the bytes.

#![no_main]

mod common;

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use ror_search::api::{CommunesQuery, CrisisQuery, OffersQuery, QualityQuery, ReloadQuery};
use ror_search::engine::{Engine, ParamError, SearchRequest};
use ror_search::model::access::{Profile, ProfileSet};
use ror_search::fuzzing;
use ror_search::quality::QualityReport;

struct Served {
    engine: Engine,
    quality: QualityReport,
}

static SERVED: LazyLock<Served> = LazyLock::new(|| {
    let dir = common::scratch_dir("query").join("snapshot");
    common::build_fixture_snapshot(&dir, true, true);
    let engine = Engine::open(&dir).expect("the fixture snapshot opens");
    let remarks = ror_search::quality::read_remarks(&dir).expect("the fixture's remarks read");
    let quality = QualityReport::compute(&engine, remarks, common::BUILT_AT);
    Served { engine, quality }
});

fn keep<T>(result: Result<T, ParamError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            std::hint::black_box(format!("{error} {error:?}"));
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let served = &*SERVED;
    let Some((&first, query)) = data.split_first() else { return };
    let profiles = ProfileSet::from_profiles(Profile::ALL.into_iter().filter(|p| first >> p.number() & 1 == 1));
    let profiles = if profiles.is_empty() { ProfileSet::default() } else { profiles };
    // A URI's query is ASCII; hyper hands the handlers a `str`.
    let Ok(query) = std::str::from_utf8(query) else { return };
    let Some(owned) = keep(ror_search::api::decode_query(query)) else { return };
    let pairs: Vec<(&str, &str)> = owned.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();

    // GET /v1/offers: `format` first, then the other parameters.
    let format_ok =
        pairs.iter().find(|(name, _)| *name == "format").is_none_or(|(_, f)| matches!(*f, "json" | "geojson"));
    if format_ok {
        let offers = pairs.iter().copied().filter(|(name, _)| *name != "format");
        if let Some(request) =
            keep(fuzzing::from_pairs::<OffersQuery>(offers, &["format"]).and_then(fuzzing::offers_request))
            && let Some(response) = keep(served.engine.search(&SearchRequest { profiles, ..request }))
        {
            std::hint::black_box(serde_json::to_vec(&response).expect("a search answer serialises"));
        }
    }

    // GET /v1/crisis.
    if let Some(mut request) =
        keep(fuzzing::from_pairs::<CrisisQuery>(pairs.iter().copied(), &[]).and_then(fuzzing::crisis_request))
        && let Some(response) = keep({
            request.search.profiles = profiles;
            served.engine.crisis(&request)
        })
    {
        std::hint::black_box(serde_json::to_vec(&response).expect("a crisis answer serialises"));
    }

    // GET /v1/communes.
    if let Some((q, limit)) =
        keep(fuzzing::from_pairs::<CommunesQuery>(pairs.iter().copied(), &[]).and_then(fuzzing::communes_request))
    {
        let hits = served.engine.communes_search(&q, limit);
        assert!(hits.len() <= limit, "{} communes for limit {limit}", hits.len());
        std::hint::black_box(serde_json::to_vec(&hits).expect("communes serialise"));
    }

    // GET /v1/quality.
    if let Some(request) =
        keep(fuzzing::from_pairs::<QualityQuery>(pairs.iter().copied(), &[]).and_then(QualityQuery::into_request))
    {
        let selection = served.quality.select(&served.engine, &request.filter);
        let page = selection.page(request.offset, request.limit);
        assert!(page.len() <= request.limit);
        std::hint::black_box(serde_json::to_vec(&page).expect("a page serialises"));
        std::hint::black_box(format!("{:?}", selection.counts()));
    }

    // POST /admin/reload.
    std::hint::black_box(keep(fuzzing::from_pairs::<ReloadQuery>(pairs.iter().copied(), &[])));
});
