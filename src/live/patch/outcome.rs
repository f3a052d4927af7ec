//! The ROR's answers: `OperationOutcome`s with its codes, diagnostics and expressions.

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------------------------------------
// OperationOutcome
// ---------------------------------------------------------------------------------------------

/// `OperationOutcome.issue.severity`; the ROR's answers only use `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    /// `error`.
    Error,
    /// `warning`.
    #[allow(dead_code)] // a severity of the FHIR value set, not emitted yet
    Warning,
}

/// One issue of an [`OperationOutcome`]. `expression` is always serialized as an array (R4), and
/// left out when empty (as in the ROR's third 400 example).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct OutcomeIssue {
    /// Severity.
    pub(crate) severity: Severity,
    /// Issue type.
    pub(crate) code: IssueType,
    /// Human-readable text (French for the ROR's own messages).
    pub(crate) diagnostics: String,
    /// FHIRPath expressions of the elements concerned.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) expression: Vec<String>,
}

impl OutcomeIssue {
    /// An `error` issue.
    pub(crate) fn error(code: IssueType, diagnostics: impl Into<String>, expression: Vec<String>) -> OutcomeIssue {
        OutcomeIssue { severity: Severity::Error, code, diagnostics: diagnostics.into(), expression }
    }

    /// A `business-rule` error on the capacity extension (`Location.extension('…')`).
    pub(crate) fn business_rule(diagnostics: impl Into<String>) -> OutcomeIssue {
        OutcomeIssue::error(IssueType::BusinessRule, diagnostics, vec![CAPACITY_RULE_EXPRESSION.to_owned()])
    }

    /// The ROR's wrong-nature issue: "Indicateur `name` : L'attribut 'natureCapacite' a un code
    /// différent de celui attendu", on `….extension('capacityType')`. `indicator_name` None
    /// prints `INDICATEUR_INCONNU`, as in the DOC.
    pub(crate) fn wrong_capacity_type(indicator_name: Option<&str>) -> OutcomeIssue {
        OutcomeIssue::error(
            IssueType::BusinessRule,
            format!(
                "Indicateur {} : L'attribut 'natureCapacite' a un code différent de celui attendu",
                indicator_name.unwrap_or("INDICATEUR_INCONNU")
            ),
            vec![format!("{CAPACITY_RULE_EXPRESSION}.extension('capacityType')")],
        )
    }

    /// The ROR's invalid-tuple issue for a record: "Les valeurs du nouvel objet ne correspondent
    /// pas à un indicateur valide : capacityStatus: 02 / …".
    pub(crate) fn invalid_new_record(key: &CapacityKey) -> OutcomeIssue {
        OutcomeIssue::business_rule(format!(
            "Les valeurs du nouvel objet ne correspondent pas à un indicateur valide : {}",
            key.ror_tuple_text()
        ))
    }

    /// The ROR's invalid-selector issue: "Les critères du FhirPath ne correspondent pas à un
    /// indicateur valide : …" (no expression, as in the DOC).
    pub(crate) fn invalid_selector(criteria: &RecordCriteria) -> OutcomeIssue {
        OutcomeIssue::error(
            IssueType::BusinessRule,
            format!(
                "Les critères du FhirPath ne correspondent pas à un indicateur valide : {}",
                criteria.ror_tuple_text()
            ),
            Vec::new(),
        )
    }
}

/// A FHIR R4 `OperationOutcome`, as the ROR answers a capacity PATCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OperationOutcome {
    /// The issues (at least one).
    pub(crate) issue: Vec<OutcomeIssue>,
}

impl Serialize for OperationOutcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(rename = "resourceType")]
            resource_type: &'static str,
            issue: &'a [OutcomeIssue],
        }
        Wire { resource_type: "OperationOutcome", issue: &self.issue }.serialize(serializer)
    }
}

impl OperationOutcome {
    /// 404 `not-found`, expression `["Location"]`: no Location carries the synchro id. The
    /// client must not retry as `add`. `identifier` is the query value as received
    /// (e.g. `1350054680/SSR38888`).
    pub(crate) fn location_not_found(identifier: &str) -> OperationOutcome {
        OperationOutcome {
            issue: vec![OutcomeIssue::error(
                IssueType::NotFound,
                format!(
                    "La Location avec l'identifiant externe de synchro OU l'identifiant unique de saisie : '{identifier}' n'a pas été trouvée."
                ),
                vec!["Location".to_owned()],
            )],
        }
    }

    /// 404 `not-found`, expression `[CAPACITY_COLLECTION_PATH]`: a `replace` (or `delete`) found
    /// no record with the selected key. The client then re-sends the record as `add`.
    pub(crate) fn capacity_not_found() -> OperationOutcome {
        OperationOutcome {
            issue: vec![OutcomeIssue::error(
                IssueType::NotFound,
                "Les données fournies ne permettent pas de déterminer l'indicateur à mettre à jour: Aucun indicateur présent en base ne correspond",
                vec![CAPACITY_COLLECTION_PATH.to_owned()],
            )],
        }
    }

    /// 412 `multiple-matches`, expression `["Location"]`: `count` Locations carry the synchro id.
    pub(crate) fn multiple_locations(count: usize) -> OperationOutcome {
        OperationOutcome {
            issue: vec![OutcomeIssue::error(
                IssueType::MultipleMatches,
                format!("La Location recherchée n'est pas unique, il y a '{count}' résultats"),
                vec!["Location".to_owned()],
            )],
        }
    }

    /// 400 `business-rule` with one or more issues (see [`validate_operation`]).
    pub(crate) fn business_rules(issues: Vec<OutcomeIssue>) -> OperationOutcome {
        debug_assert!(!issues.is_empty(), "an OperationOutcome has at least one issue");
        OperationOutcome { issue: issues }
    }

    /// 400 for a body that [`parse_patch`] refused (`structure`, `invalid`, `required`, `value`,
    /// or `business-rule` for a negative count).
    pub(crate) fn from_patch_error(error: &PatchError) -> OperationOutcome {
        OperationOutcome {
            issue: vec![OutcomeIssue::error(
                error.code,
                error.message.clone(),
                error.expression.iter().cloned().collect(),
            )],
        }
    }

    /// 400 `value` for an `identifier` query parameter that [`parse_synchro_identifier`] refused.
    pub(crate) fn invalid_identifier(error: &IdentifierError) -> OperationOutcome {
        OperationOutcome {
            issue: vec![OutcomeIssue::error(IssueType::Value, error.to_string(), vec!["identifier".to_owned()])],
        }
    }

    /// The HTTP status to answer with: 404 for `not-found`, 412 for `multiple-matches`, else
    /// 400 (decided by the first issue).
    pub(crate) fn http_status(&self) -> u16 {
        self.issue.first().map_or(400, |issue| issue.code.http_status())
    }

    /// The JSON body (`application/fhir+json`).
    pub(crate) fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}
