//! `search`: one request from parameters to a rendered page. It resolves the centre, compiles
//! the filter, chooses the [`Strategy`], runs its plan ([`super::plan`]) into a
//! [`Collector`], then renders the page, the facets and the explanation.

use super::Index;
use super::collector::{Collector, FacetCounts, Hit};
use super::columns::bit;
use super::facets::facets_of;
use super::filter::CompiledFilter;
use super::layout::commune_by_code;
use super::live::LiveView;
use super::page::{PageHead, PageParts};
use super::plan::count::TextDocs;
use super::plan::{Plan, Strategy};
use super::render::HitView;
use super::request::{Centre, ParamError, SearchRequest, SortKey};
use super::response::{CentreView, CommuneView, SearchResponse};
use crate::model::GeoPoint;

impl Index {
    /// The centre of a request, with the commune it came from.
    pub(crate) fn resolve_centre(&self, centre: &Centre) -> Result<(GeoPoint, Option<CommuneView<'_>>), ParamError> {
        match centre {
            Centre::Point(point) => Ok((*point, None)),
            Centre::Commune(code) => {
                let commune = commune_by_code(&self.data.communes, code)
                    .ok_or_else(|| ParamError::new("commune", format!("unknown INSEE commune code {code:?}")))?;
                Ok((
                    GeoPoint { lat: commune.lat, lon: commune.lon },
                    Some(CommuneView {
                        code: commune.code.as_str(),
                        name: Some(commune.name.as_str()),
                        departement: Some(commune.departement.as_str()),
                    }),
                ))
            }
        }
    }

    /// The centre of a request as a point and as it is shown in the answer.
    pub(crate) fn centre_of(
        &self,
        centre: Option<&Centre>,
    ) -> Result<(Option<GeoPoint>, Option<CentreView<'_>>), ParamError> {
        match centre {
            Some(centre) => {
                let (point, commune) = self.resolve_centre(centre)?;
                Ok((Some(point), Some(CentreView { lat: point.lat, lon: point.lon, commune })))
            }
            None => Ok((None, None)),
        }
    }

    /// Answers a search request.
    pub(crate) fn search(&self, live: &LiveView, request: &SearchRequest) -> Result<SearchResponse<'_>, ParamError> {
        Ok(self.search_parts(live, request)?.into_response(self, live))
    }

    /// Answers a search request up to its page's hits, unwritten (see [`PageParts`]).
    pub(crate) fn search_parts(&self, live: &LiveView, request: &SearchRequest) -> Result<PageParts<'_>, ParamError> {
        request.validate()?;
        let now = request.now.unwrap_or_else(crate::util::time::now);
        let (centre, centre_view) = self.centre_of(request.centre.as_ref())?;
        let filter = CompiledFilter::new(request, &self.columns, now)?;
        let text_query = match &request.q {
            Some(q) => self.text_query("q", q)?,
            None => None,
        };
        let sort = request.effective_sort();
        let plan = Plan::new(self, live, filter, sort, centre, request.radius_km.map(|km| km * 1000.0), request.bbox);
        let explain_doc = match &request.explain {
            Some(id) => Some(
                self.doc_of_offer_id(id)
                    .filter(|&doc| plan.filter.access.sees_doc(&self.columns, doc as usize))
                    .ok_or_else(|| ParamError::new("explain", format!("no offer with id {id:?}")))?,
            ),
            None => None,
        };
        // (every total is exact, and facets do not need every match walked: a walk that stops
        // early has its region's matches counted apart, below)
        let need_all = explain_doc.is_some();
        let mut collector = Collector::new(request.offset + request.limit);
        if request.facets {
            collector.facets = Some(FacetCounts::new(&self.columns.dictionaries));
        }
        let explanation_seed =
            explain_doc.map(|doc| self.explain_doc(&plan, doc, text_query.as_ref(), request.price_basis));
        if let Some((_, Some(target))) = &explanation_seed {
            collector.rank_target = Some(*target);
        }
        let strategy = if request.q.is_some() && text_query.is_none() {
            Strategy::Empty // a query of only separators matches nothing
        } else if text_query.is_some() {
            Strategy::Text
        } else if centre.is_some() && sort == SortKey::Distance && !need_all {
            Strategy::NearestWalk
        } else if centre.is_none() && !plan.bbox_is_small {
            Strategy::Bulk
        } else {
            Strategy::Region
        };
        let (total_exact, strategy) = match (strategy, &text_query) {
            (Strategy::Empty, _) => (true, Strategy::Empty),
            (Strategy::Text, Some(query)) => plan.text(query, &mut collector, need_all),
            (Strategy::NearestWalk, _) => plan.walk_nearest(&mut collector),
            (Strategy::Bulk, _) => {
                plan.bulk(&mut collector);
                (true, Strategy::Bulk)
            }
            (_, _) => (plan.enumerate(&mut collector, need_all), Strategy::Region),
        };
        let mut total_exact = total_exact;
        // The walk stopped once its page was certain: count every match apart, without walking
        // them (the region's runs, their bitsets), so that every total is exact; the facets,
        // when asked, are counted from the same matches.
        if !total_exact {
            let mut facets = collector.facets.as_mut().map(|facets| {
                *facets = FacetCounts::new(&self.columns.dictionaries);
                facets
            });
            let mut count = |text: Option<TextDocs<'_>>| plan.count(text, facets.as_deref_mut());
            collector.total = match &text_query {
                Some(query) => {
                    let text = self.text.as_ref().expect("a text query has a text index");
                    match text.dense_docs(query, self.layout.doc_count() as usize) {
                        Some(words) => count(Some(TextDocs::Words(&words))),
                        None => text.matcher(query).map_or(0, |mut docs| count(Some(TextDocs::Walk(docs.as_mut())))),
                    }
                }
                None => count(None),
            };
            total_exact = true;
        }
        tracing::trace!(?strategy, total = collector.total, total_exact, "search planned");
        let total = if strategy == Strategy::Empty { 0 } else { collector.total };
        let hits = collector.heap.into_sorted_vec();
        let page: Vec<Hit> = hits.iter().skip(request.offset).take(request.limit).copied().collect();
        let facets = collector.facets.map(|counts| facets_of(&counts, &self.columns.dictionaries));
        let explain = explanation_seed.map(|(mut explanation, target)| {
            explanation.strategy = Some(strategy);
            if let Some(target) = target {
                explanation.rank = Some(collector.better_than_target + 1);
                explanation.on_this_page = page.iter().any(|hit| hit.doc == target.doc);
            }
            explanation
        });
        Ok(PageParts {
            hit_view: HitView::new(request, centre.is_some(), text_query.is_some()),
            hits: page,
            head: PageHead {
                snapshot: &self.manifest.snapshot_id,
                total,
                total_exact,
                offset: request.offset,
                limit: request.limit,
                sort,
                centre: centre_view,
            },
            facets,
            explain,
        })
    }

    /// The plan of a request answered whole (every match, no page), and its text part: what
    /// the streamed and the map answers share before they walk. (`search`, the hot path, keeps
    /// its own copy, as measured.)
    fn plan_whole<'a>(&'a self, live: &'a LiveView, request: &SearchRequest) -> Result<(Plan<'a>, Text), ParamError> {
        SearchRequest { limit: 1, offset: 0, ..request.clone() }.validate()?;
        let now = request.now.unwrap_or_else(crate::util::time::now);
        let (centre, _) = self.centre_of(request.centre.as_ref())?;
        let filter = CompiledFilter::new(request, &self.columns, now)?;
        let text = match &request.q {
            Some(q) => self.text_query("q", q)?.map_or(Text::MatchesNothing, Text::Query),
            None => Text::None,
        };
        let sort = request.effective_sort();
        let plan = Plan::new(self, live, filter, sort, centre, request.radius_km.map(|km| km * 1000.0), request.bbox);
        Ok((plan, text))
    }

    /// Every match of a request in its order, without page limits (`offset` and `limit` are
    /// not read): the streamed answers, with how to write them.
    pub(crate) fn all_hits(&self, live: &LiveView, request: &SearchRequest) -> Result<(Vec<Hit>, HitView), ParamError> {
        let (plan, text) = self.plan_whole(live, request)?;
        let mut collector = Collector::new(self.data.dataset.offers.len().max(1));
        let hits = match &text {
            Text::MatchesNothing => Vec::new(),
            Text::Query(query) => {
                plan.text(query, &mut collector, true);
                collector.heap.into_sorted_vec()
            }
            Text::None if plan.centre.is_none() && !plan.bbox_is_small => {
                plan.bulk(&mut collector);
                collector.heap.into_sorted_vec()
            }
            Text::None => {
                plan.enumerate(&mut collector, true);
                collector.heap.into_sorted_vec()
            }
        };
        Ok((hits, HitView::new(request, plan.centre.is_some(), matches!(text, Text::Query(_)))))
    }

    /// The walk over the matches of `request` that have a position (see [`PositionedWalk`]),
    /// planned.
    pub(crate) fn positioned_walk<'a>(
        &'a self,
        live: &'a LiveView,
        request: &SearchRequest,
    ) -> Result<PositionedWalk<'a>, ParamError> {
        let (plan, text) = self.plan_whole(live, request)?;
        Ok(PositionedWalk { index: self, live, plan, text })
    }

    /// A text query parsed by the snapshot's text index (`None`: only separators); the error
    /// names `parameter`.
    pub(crate) fn text_query(&self, parameter: &str, q: &str) -> Result<Option<super::text::TextQuery>, ParamError> {
        let text = self.text.as_ref().ok_or_else(|| ParamError::new(parameter, "this snapshot has no text index"))?;
        text.parse(q).map_err(|error| ParamError::new(parameter, error.to_string()))
    }

    /// The doc of an offer's FHIR id (the dataset is sorted by id).
    pub(crate) fn doc_of_offer_id(&self, id: &str) -> Option<u32> {
        let offers = &self.data.dataset.offers;
        let index = offers.binary_search_by(|offer| offer.id.as_str().cmp(id)).ok()?;
        Some(self.layout.doc_of_offer[index])
    }
}

/// The matches of a request that have a position (the map's input), planned once by
/// [`Index::positioned_walk`]: neither collected nor sorted, a whole-France viewport allocates
/// nothing per match.
pub(crate) struct PositionedWalk<'a> {
    index: &'a Index,
    live: &'a LiveView,
    plan: Plan<'a>,
    text: Text,
}

impl PositionedWalk<'_> {
    /// Whether the matches are every doc of the positions in [`Self::bbox`] (every position
    /// without one) but those of their exceptional docs that do not [`Self::matches`]: no
    /// text, no doc-level filter (only the sensitive mask and closures), no radius, and a bbox
    /// too large for the R-tree. A caller may then scan the positions in its own order.
    pub(crate) fn is_whole_scan(&self) -> bool {
        self.scans_positions() && self.plan.filter.only_masks()
    }

    /// Whether the walk visits every position, testing the bbox on each: no text, no radius,
    /// and a bbox too large for the R-tree (or none). A caller may then visit the positions in
    /// its own order, asking [`Self::position_matches`] of each inside [`Self::bbox`].
    pub(crate) fn scans_positions(&self) -> bool {
        matches!(self.text, Text::None) && self.plan.scans(self.plan.radius_m)
    }

    /// Calls `visit` on each of `docs` (those of `position`) that matches the filter, in doc
    /// order (the position's summary first: most positions are passed over whole).
    #[inline]
    pub(crate) fn position_matches(&self, position: u32, docs: std::ops::Range<u32>, visit: impl FnMut(u32)) {
        let (index, filter) = (self.index, &self.plan.filter);
        if filter.only_masks() || filter.position_may_match(&index.summaries, self.live, position as usize) {
            self.docs_matching(docs, visit);
        }
    }

    /// Calls `visit` on each of `docs` that matches the filter, in doc order.
    #[inline]
    fn docs_matching(&self, docs: std::ops::Range<u32>, mut visit: impl FnMut(u32)) {
        let (index, filter) = (self.index, &self.plan.filter);
        for doc in docs.filter(|&doc| filter.matches(&index.columns, self.live, doc)) {
            visit(doc);
        }
    }

    /// The request's bbox.
    pub(crate) fn bbox(&self) -> Option<&super::request::BBox> {
        self.plan.bbox.as_ref()
    }

    /// Puts in `out` each of `exceptional` (a position's exceptional docs) with whether it
    /// matches the request's filter; the number that do not.
    pub(crate) fn exceptions(&self, exceptional: &[u32], out: &mut Vec<Exception>) -> usize {
        let (filter, columns) = (&self.plan.filter, &self.index.columns);
        out.clear();
        out.extend(exceptional.iter().map(|&doc| Exception { doc, matches: filter.matches(columns, self.live, doc) }));
        out.iter().filter(|exception| !exception.matches).count()
    }

    /// Every match, as `visit(Positioned::Doc(position, doc))`: a position's matches one after
    /// another, in doc order (the positions in no particular order). The same matches as
    /// [`Index::all_hits`]: a walk over the region's positions (summaries prune, the filter
    /// doc by doc), or the text index's matches for a text query.
    ///
    /// Without doc-level filters, every position is visited whole,
    /// `Positioned::Whole { position, docs, exceptions }`: every doc there matches but those of
    /// `exceptions` (its docs in `exceptional`, see [`Index::exceptional_docs`]) that do not.
    pub(crate) fn run(&self, exceptional: &ExceptionalDocs, visit: &mut dyn FnMut(Positioned)) {
        let (index, plan, live) = (self.index, &self.plan, self.live);
        match &self.text {
            Text::MatchesNothing => {}
            Text::Query(query) => {
                let mut collector = Collector::new(index.data.dataset.offers.len().max(1));
                plan.text(query, &mut collector, true);
                let layout = &index.layout;
                let mut matches: Vec<(u32, u32)> = collector
                    .heap
                    .into_iter()
                    .map(|hit| (layout.position_of_doc[hit.doc as usize], hit.doc))
                    .filter(|&(position, _)| (position as usize) < layout.positions.len())
                    .collect();
                matches.sort_unstable();
                for (position, doc) in matches {
                    visit(Positioned::Doc(position, doc));
                }
            }
            Text::None => {
                let summaries = &index.summaries;
                let whole = plan.filter.only_masks();
                // (without a code, price or capacity criterion every position's summary passes)
                let may_match =
                    |position: u32| whole || plan.filter.position_may_match(summaries, live, position as usize);
                let mut exceptions = Vec::new();
                plan.for_each_position(plan.radius_m, &may_match, &mut |position, _| {
                    let docs = index.layout.docs_at(position);
                    if whole {
                        let excluded = self.exceptions(exceptional.at(position), &mut exceptions);
                        if excluded < docs.len() {
                            visit(Positioned::Whole { position, docs, exceptions: &exceptions });
                        }
                        return;
                    }
                    self.docs_matching(docs, |doc| visit(Positioned::Doc(position, doc)));
                });
            }
        }
    }
}

/// One step of [`PositionedWalk::run`].
pub(crate) enum Positioned<'a> {
    /// A matching doc at a position.
    Doc(u32, u32),
    /// A position whose docs all match but the `exceptions` that do not; its `exceptions` are
    /// its sensitive docs and those that may close (ascending), each with whether it matches.
    Whole { position: u32, docs: std::ops::Range<u32>, exceptions: &'a [Exception] },
}

/// A doc of a position visited whole that is sensitive or may close.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exception {
    pub(crate) doc: u32,
    pub(crate) matches: bool,
}

/// The docs of each position that are sensitive or may close, ascending (see
/// [`Index::exceptional_docs`]).
#[derive(Debug)]
pub(crate) struct ExceptionalDocs {
    /// `docs[start[p]..start[p + 1]]` are those of position `p`.
    start: Vec<u32>,
    docs: Vec<u32>,
}

impl ExceptionalDocs {
    /// Per position, its docs that are sensitive or may close: those a search without
    /// doc-level filters may not match, and whose capacities a profile may see otherwise than
    /// the others'.
    pub(crate) fn new(layout: &super::layout::Layout, columns: &super::columns::Columns) -> ExceptionalDocs {
        let mut start = Vec::with_capacity(layout.positions.len() + 1);
        let mut docs = Vec::new();
        start.push(0);
        for position in 0..layout.positions.len() as u32 {
            docs.extend(
                layout
                    .docs_at(position)
                    .filter(|&doc| bit(&columns.sensitive, doc as usize) || bit(&columns.may_close, doc as usize)),
            );
            start.push(docs.len() as u32);
        }
        ExceptionalDocs { start, docs }
    }

    /// Where those of a position are in [`Self::slice`]'s.
    pub(crate) fn range_of(&self, position: u32) -> std::ops::Range<u32> {
        self.start[position as usize]..self.start[position as usize + 1]
    }

    /// Those of a [`Self::range_of`].
    pub(crate) fn slice(&self, range: std::ops::Range<u32>) -> &[u32] {
        &self.docs[range.start as usize..range.end as usize]
    }

    /// Those of a run of positions.
    pub(crate) fn of_positions(&self, positions: std::ops::Range<u32>) -> &[u32] {
        &self.docs[self.start[positions.start as usize] as usize..self.start[positions.end as usize] as usize]
    }

    fn at(&self, position: u32) -> &[u32] {
        self.of_positions(position..position + 1)
    }
}

/// The text part of a request answered whole.
enum Text {
    /// No `q`.
    None,
    /// A `q` of only separators: nothing matches.
    MatchesNothing,
    /// A parsed `q`.
    Query(super::text::TextQuery),
}
