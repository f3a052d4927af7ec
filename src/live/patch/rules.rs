//! The business rules a write must pass (`business-rule` 400s): counts, dates, codes, nature,
//! selector agreement; the indicator catalogue is pluggable.

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------------------------------------
// Business rules
// ---------------------------------------------------------------------------------------------

/// The tunable limits of [`validate_operation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ValidationPolicy {
    /// Largest accepted `nbCapacity` (beds / places / dwellings).
    pub(crate) max_count: u32,
    /// How far ahead of `now`, in seconds, a `capacityUpdateDate` may be.
    pub(crate) future_tolerance_seconds: i64,
}

impl Default for ValidationPolicy {
    fn default() -> ValidationPolicy {
        ValidationPolicy { max_count: MAX_CAPACITY_COUNT, future_tolerance_seconds: DEFAULT_FUTURE_TOLERANCE_SECONDS }
    }
}

/// A valid capacity indicator, as a catalog knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Indicator {
    /// The indicator's name in the ANS list (printed in the wrong-nature message), if known.
    pub(crate) name: Option<String>,
    /// The `capacityType` (TRE_R329) the indicator requires, if the catalog knows it.
    pub(crate) capacity_type: Option<Code>,
}

/// Which tuples are capacity indicators. The official list (indicators and their FHIRPaths) is
/// handed privately to writers by the ANS and is not public (`ror-api.md` §1.5, §5); plug it in
/// here when available. [`KnownCodesCatalog`] is the stand-in.
pub(crate) trait IndicatorCatalog {
    /// The indicator `key` names, or None when the tuple is not a valid indicator.
    fn indicator(&self, key: &CapacityKey) -> Option<Indicator>;
}

/// Stand-in catalog: any tuple whose codes are all known in their code systems is an indicator,
/// with no name and no required nature (so [`check_capacity_type`] never fires through it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct KnownCodesCatalog;

impl IndicatorCatalog for KnownCodesCatalog {
    fn indicator(&self, key: &CapacityKey) -> Option<Indicator> {
        CapacityField::TUPLE
            .into_iter()
            .all(|field| match (key.code(field), field.code_system()) {
                (Some(code), Some(system)) => system.label(code).is_some(),
                _ => true,
            })
            .then(Indicator::default)
    }
}

/// A count above the policy's maximum (negative counts never parse).
pub(crate) fn check_count(record: &CapacityRecord, policy: &ValidationPolicy) -> Option<OutcomeIssue> {
    (record.count > policy.max_count).then(|| {
        OutcomeIssue::business_rule(format!(
            "La valeur de 'nbCapacity' ({}) dépasse le maximum admis ({})",
            record.count, policy.max_count
        ))
    })
}

/// A `capacityUpdateDate` more than the tolerance ahead of `now` (UTC Unix seconds), or missing.
pub(crate) fn check_update_date(
    record: &CapacityRecord,
    now: UnixSeconds,
    policy: &ValidationPolicy,
) -> Option<OutcomeIssue> {
    match record.updated_at {
        None => Some(OutcomeIssue::business_rule("L'attribut 'capacityUpdateDate' est obligatoire")),
        Some(updated_at) if updated_at > now.saturating_add(policy.future_tolerance_seconds) => {
            Some(OutcomeIssue::business_rule(format!(
                "La date 'capacityUpdateDate' ({}) est dans le futur (heure du serveur : {})",
                format_rfc3339(updated_at),
                format_rfc3339(now)
            )))
        }
        Some(_) => None,
    }
}

/// Every coded field of the record whose code is not in its code system's table.
pub(crate) fn check_known_codes(record: &CapacityRecord) -> Vec<OutcomeIssue> {
    CapacityField::ALL
        .into_iter()
        .filter_map(|field| {
            let system = field.code_system()?;
            let code = field.code_of(record)?;
            system.label(code).is_none().then(|| {
                OutcomeIssue::business_rule(format!(
                    "Le code '{code}' de l'attribut '{field}' est inconnu dans {}",
                    system.nos_id()
                ))
            })
        })
        .collect()
}

/// The ROR's wrong-nature check: the record's `capacityType` differs from the indicator's.
pub(crate) fn check_capacity_type(record: &CapacityRecord, indicator: &Indicator) -> Option<OutcomeIssue> {
    let expected = indicator.capacity_type.as_ref()?;
    (*expected != record.capacity_type).then(|| OutcomeIssue::wrong_capacity_type(indicator.name.as_deref()))
}

/// On a `replace` of one record: the selector's tuple differs from the new record's.
pub(crate) fn check_selector_matches(criteria: &RecordCriteria, record: &CapacityRecord) -> Option<OutcomeIssue> {
    (!criteria.matches(record)).then(|| {
        OutcomeIssue::business_rule(format!(
            "Les critères du FhirPath ne correspondent pas aux valeurs du nouvel objet : FhirPath {} ; nouvel objet {}",
            criteria.ror_tuple_text(),
            CapacityKey::of(record).ror_tuple_text()
        ))
    })
}

/// Every business rule of one operation, against `now` (UTC Unix seconds): counts, dates, codes,
/// indicator validity and nature of each record, indicator validity of a record selector, and on
/// a one-record `replace` the agreement of selector and record.
///
/// # Errors
/// A 400 `business-rule` [`OperationOutcome`] with one issue per broken rule.
pub(crate) fn validate_operation(
    operation: &Operation,
    catalog: &dyn IndicatorCatalog,
    policy: &ValidationPolicy,
    now: UnixSeconds,
) -> Result<(), OperationOutcome> {
    let mut issues = Vec::new();
    let (selector, records): (Option<&Selector>, &[CapacityUpdate]) = match operation {
        Operation::Replace { selector, records } => (Some(selector), records),
        Operation::Add { records } => (None, records),
        Operation::Delete { selector } => (Some(selector), &[]),
    };
    if let Some(Selector::Record(criteria)) = selector
        && criteria.key().and_then(|key| catalog.indicator(&key)).is_none()
    {
        issues.push(OutcomeIssue::invalid_selector(criteria));
    }
    for update in records {
        let record = &update.record;
        issues.extend(check_count(record, policy));
        issues.extend(check_update_date(record, now, policy));
        issues.extend(check_known_codes(record));
        let key = CapacityKey::of(record);
        match catalog.indicator(&key) {
            None => issues.push(OutcomeIssue::invalid_new_record(&key)),
            Some(indicator) => issues.extend(check_capacity_type(record, &indicator)),
        }
        if let Some(Selector::Record(criteria)) = selector {
            issues.extend(check_selector_matches(criteria, record));
        }
    }
    if issues.is_empty() { Ok(()) } else { Err(OperationOutcome::business_rules(issues)) }
}
