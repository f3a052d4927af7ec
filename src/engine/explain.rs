//! `explain`: why one offer matches a request or which criterion excludes it, and the hit it
//! makes (so that the collector can tell its rank).

use super::Index;
use super::collector::Hit;
use super::plan::Plan;
use super::response::{Criterion, Explanation};
use super::text::TextQuery;
use crate::model::rules::PriceBasis;
use crate::util::geo::haversine_m;

impl Index {
    /// Why a doc matches or not, and its hit when it matches.
    pub(crate) fn explain_doc(
        &self,
        plan: &Plan<'_>,
        doc: u32,
        query: Option<&TextQuery>,
        basis: PriceBasis,
    ) -> (Explanation<'_>, Option<Hit>) {
        let offer = &self.data.dataset.offers[self.layout.offer_of_doc[doc as usize] as usize];
        let mut criteria = Vec::new();
        let mut distance = 0.0;
        let position = self.layout.position_of(doc);
        if plan.centre.is_some() || plan.bbox.is_some() {
            match position {
                None => criteria.push(Criterion {
                    parameter: "position".into(),
                    passed: false,
                    detail: "the offer has no position (no location, EG or commune coordinates)".into(),
                }),
                Some(point) => {
                    if let Some(centre) = plan.centre {
                        distance = haversine_m(centre, point);
                        match plan.radius_m {
                            Some(radius) => criteria.push(Criterion {
                                parameter: "radius_km".into(),
                                passed: distance <= radius,
                                detail: format!(
                                    "{:.3} km from the centre, at most {:.3} km asked",
                                    distance / 1000.0,
                                    radius / 1000.0
                                ),
                            }),
                            None => criteria.push(Criterion {
                                parameter: "centre".into(),
                                passed: true,
                                detail: format!("{:.3} km from the centre", distance / 1000.0),
                            }),
                        }
                    }
                    if let Some(bbox) = &plan.bbox {
                        criteria.push(Criterion {
                            parameter: "bbox".into(),
                            passed: bbox.contains(point),
                            detail: format!("offer at lat {}, lon {}", point.lat, point.lon),
                        });
                    }
                }
            }
        }
        let mut score = 0.0;
        if let Some(query) = query {
            let text = self.text.as_ref().expect("a text query has an index");
            let found = text.scorer(query).and_then(|mut scorer| (scorer.seek(doc) == doc).then(|| scorer.score()));
            score = found.unwrap_or(0.0);
            criteria.push(Criterion {
                parameter: "q".into(),
                passed: found.is_some(),
                detail: if found.is_some() {
                    format!("text matches every word of {:?} (score {score:.3})", query.words.join(" "))
                } else {
                    format!("text does not match every word of {:?}", query.words.join(" "))
                },
            });
        }
        criteria.extend(plan.filter.explain(&self.columns, plan.live, doc, basis));
        let matched = criteria.iter().all(|criterion| criterion.passed);
        let hit = matched.then(|| plan.hit(doc, distance, score));
        (Explanation { offer_id: &offer.id, matched, rank: None, on_this_page: false, strategy: None, criteria }, hit)
    }
}
