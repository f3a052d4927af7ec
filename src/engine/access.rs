//! The caller's access profile, compiled into the request (`model::access` holds the matrix):
//! which docs a query may match, which capacity counts it may read and render, and which
//! parameters it may not use at all (a 403 naming the parameter, never a silent empty answer).

use super::columns::{Columns, bit};
use super::request::{ParamError, SearchRequest, SortKey};
use crate::model::CapacityRecord;
use crate::model::access::{Field, ProfileSet};
use crate::model::quality::CapacityKind;

/// What one request may see, decided once from its profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Access {
    pub(crate) profiles: ProfileSet,
    /// Whether docs of unités sensibles are left out of every answer and count.
    pub(crate) hide_sensitive: bool,
}

/// Which capacity counts of one offer a profile sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CapacityVisibility {
    pub(crate) installed: bool,
    pub(crate) operational: bool,
    pub(crate) supplementary: bool,
}

impl CapacityVisibility {
    /// Whether a capacity record is of a kind seen.
    pub(crate) fn sees(&self, record: &CapacityRecord) -> bool {
        match CapacityKind::of_record(record) {
            CapacityKind::Installed => self.installed,
            CapacityKind::Operational => self.operational,
            CapacityKind::Supplementary => self.supplementary,
        }
    }
}

impl Access {
    pub(crate) fn new(profiles: ProfileSet) -> Access {
        Access { profiles, hide_sensitive: !profiles.sees_sensitive_units() }
    }

    /// Whether the profile sees this doc at all.
    #[inline(always)]
    pub(crate) fn sees_doc(&self, columns: &Columns, doc: usize) -> bool {
        !(self.hide_sensitive && bit(&columns.sensitive, doc))
    }

    /// Which capacity counts of a doc the profile sees.
    #[inline]
    pub(crate) fn capacity_of_doc(&self, columns: &Columns, doc: usize) -> CapacityVisibility {
        self.capacity(bit(&columns.medico_social, doc), bit(&columns.sensitive, doc))
    }

    /// Which capacity counts of an offer (medico-social or not, sensitive or not) it sees.
    #[inline]
    pub(crate) fn capacity(&self, medico_social: bool, sensitive: bool) -> CapacityVisibility {
        CapacityVisibility {
            installed: self.profiles.sees(Field::InstalledCapacity, medico_social, sensitive),
            operational: self.profiles.sees(Field::OperationalCapacity, medico_social, sensitive),
            supplementary: self.profiles.sees(Field::SupplementaryCapacity, medico_social, sensitive),
        }
    }

    /// Whether the profile sees the EG's niveau de recours ORSAN.
    pub(crate) fn sees_orsan_level(&self) -> bool {
        self.profiles.sees_everywhere(Field::OrsanLevel)
    }

    /// Refuses the parameters of a search the profile may not use: a filter or sort on
    /// capacities it sees on no offer.
    pub(crate) fn check_search(&self, request: &SearchRequest) -> Result<(), ParamError> {
        let profile = self.profiles;
        if !profile.sees_anywhere(Field::OperationalCapacity) {
            if request.min_available.is_some() {
                return Err(forbidden(profile, "min_available", "places available now"));
            }
            if request.sort == Some(SortKey::Available) {
                return Err(forbidden(profile, "sort", "places available now (sort=available)"));
            }
        }
        if !profile.sees_anywhere(Field::SupplementaryCapacity) {
            if request.min_crisis_t0.is_some() {
                return Err(forbidden(profile, "min_crisis_t0", "supplementary (crisis) capacities"));
            }
            if request.min_crisis_t60.is_some() {
                return Err(forbidden(profile, "min_crisis_t60", "supplementary (crisis) capacities"));
            }
        }
        Ok(())
    }
}

/// The 403 of a parameter on data the profile does not see.
pub(crate) fn forbidden(profiles: ProfileSet, parameter: &str, what: &str) -> ParamError {
    ParamError::forbidden(parameter, format!("access profile {profiles} does not see {what}"))
}
