//! A page of results written as JSON straight from the offers' pre-rendered fragments
//! ([`super::fragment`]): the envelope (snapshot, total, centre, facets, explanation) is
//! serialised around the results, each result is its fragment's members with the distance,
//! price, capacities and score of this request written in. The bytes are those of serialising
//! the typed [`SearchResponse`] (the tests compare), restricted to the request's `fields`.

use std::sync::Arc;

use serde::Serialize;

use super::Index;
use super::collector::Hit;
use super::live::LiveView;
use super::render::HitView;
use super::request::SortKey;
use super::response::{CentreView, Explanation, Facets, SearchResponse};

/// The members of a [`SearchResponse`] before its results.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PageHead<'a> {
    pub(crate) snapshot: &'a str,
    pub(crate) total: u64,
    pub(crate) total_exact: bool,
    pub(crate) offset: usize,
    pub(crate) limit: usize,
    pub(crate) sort: SortKey,
    pub(crate) centre: Option<CentreView<'a>>,
}

/// The members of a [`SearchResponse`] after its results.
#[derive(Serialize)]
struct PageTail<'p, 'a> {
    facets: &'p Option<Facets<'a>>,
    explain: &'p Option<Explanation<'a>>,
}

/// The members of a GeoJSON FeatureCollection of results before its features.
#[derive(Serialize)]
struct GeoHead<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    snapshot: &'a str,
    total: u64,
    total_exact: bool,
}

/// A GeoJSON point geometry: `[lon, lat]`.
#[derive(Debug, Serialize)]
pub(crate) struct Point {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) coordinates: [f64; 2],
}

/// A search answered up to its page's hits: what the typed response and the JSON writers
/// both render.
#[derive(Debug, Clone)]
pub(crate) struct PageParts<'a> {
    /// The hits of the page, in order.
    pub(crate) hits: Vec<Hit>,
    pub(crate) hit_view: HitView,
    pub(crate) head: PageHead<'a>,
    pub(crate) facets: Option<Facets<'a>>,
    pub(crate) explain: Option<Explanation<'a>>,
}

impl<'a> PageParts<'a> {
    /// The typed response: every member of every result, whatever the request's `fields`.
    pub(crate) fn into_response(self, index: &'a Index, live: &LiveView) -> SearchResponse<'a> {
        let PageParts { hits, hit_view, head, facets, explain } = self;
        SearchResponse {
            snapshot: head.snapshot,
            total: head.total,
            total_exact: head.total_exact,
            offset: head.offset,
            limit: head.limit,
            sort: head.sort,
            centre: head.centre,
            results: hits.iter().map(|hit| index.render_hit(live, hit, &hit_view)).collect(),
            facets,
            explain,
        }
    }
}

/// A search's page, written on demand ([`super::Engine::search_page`]); it holds the live
/// capacities it was answered with.
pub struct Page<'a> {
    index: &'a Index,
    live: Arc<LiveView>,
    parts: PageParts<'a>,
}

/// Serialises `value` (an object) into `out` without its closing brace.
fn open_object<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    sonic_rs::to_writer(&mut *out, value).expect("an envelope serialises");
    debug_assert_eq!(out.last(), Some(&b'}'));
    out.pop();
}

impl<'a> Page<'a> {
    pub(crate) fn new(index: &'a Index, live: Arc<LiveView>, parts: PageParts<'a>) -> Page<'a> {
        Page { index, live, parts }
    }

    /// Results on the page.
    pub fn len(&self) -> usize {
        self.parts.hits.len()
    }

    /// Whether the page has no result.
    pub fn is_empty(&self) -> bool {
        self.parts.hits.is_empty()
    }

    /// The typed response (every member of every result, whatever the request's `fields`).
    pub fn response(&self) -> SearchResponse<'_> {
        self.parts.clone().into_response(self.index, &self.live)
    }

    /// Appends the page as JSON: the bytes of serialising [`Page::response`] with only the
    /// request's `fields` in each result.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let parts = &self.parts;
        out.reserve(512 + 1536 * parts.hits.len());
        open_object(out, &parts.head);
        out.extend_from_slice(b",\"results\":[");
        for (index, hit) in parts.hits.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            self.index.write_hit(out, &self.live, hit, &parts.hit_view, true);
        }
        out.push(b']');
        let tail = out.len();
        sonic_rs::to_writer(&mut *out, &PageTail { facets: &parts.facets, explain: &parts.explain })
            .expect("facets and an explanation serialise");
        out[tail] = b','; // the tail's opening brace
    }

    /// Appends the page as a GeoJSON FeatureCollection (RFC 7946): a feature per result (its
    /// `id`, a point geometry or `null` without a position, the result as `properties`, with
    /// the request's `fields`), the snapshot and total as foreign members.
    pub fn write_geojson(&self, out: &mut Vec<u8>) {
        let parts = &self.parts;
        out.reserve(256 + 1600 * parts.hits.len());
        let head = GeoHead {
            kind: "FeatureCollection",
            snapshot: parts.head.snapshot,
            total: parts.head.total,
            total_exact: parts.head.total_exact,
        };
        open_object(out, &head);
        out.extend_from_slice(b",\"features\":[");
        let (index, layout) = (self.index, &self.index.layout);
        for (rank, hit) in parts.hits.iter().enumerate() {
            if rank > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"type\":\"Feature\",\"id\":");
            let offer = &index.data.dataset.offers[hit.offer as usize];
            sonic_rs::to_writer(&mut *out, &offer.id).expect("an id serialises");
            out.extend_from_slice(b",\"geometry\":");
            let geometry =
                layout.position_of(hit.doc).map(|point| Point { kind: "Point", coordinates: [point.lon, point.lat] });
            sonic_rs::to_writer(&mut *out, &geometry).expect("a point serialises");
            out.extend_from_slice(b",\"properties\":");
            index.write_hit(out, &self.live, hit, &parts.hit_view, true);
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
    }
}
