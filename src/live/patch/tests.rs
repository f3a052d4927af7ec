//! Tests of the PATCH parser on the ROR documentation's bodies and their variants.

use serde_json::json;

use super::*;

const SCENARIO_2: &[u8] = include_bytes!("../../../tests/fixtures/capacity-patch/scenario-2-add.json");
const SCENARIO_2BIS: &[u8] = include_bytes!("../../../tests/fixtures/capacity-patch/scenario-2bis-replace.json");
const SCENARIO_3: &[u8] = include_bytes!("../../../tests/fixtures/capacity-patch/scenario-3-delete.json");
const SCENARIO_9: &[u8] = include_bytes!("../../../tests/fixtures/capacity-patch/scenario-9-replace-all.json");

fn date(text: &str) -> UnixSeconds {
    parse_fhir_datetime(text).unwrap()
}

fn code(text: &str) -> Code {
    Code::from(text)
}

/// The record of scenarios 2 and 2 BIS (count aside).
fn scenario_2_record(count: u32) -> CapacityRecord {
    CapacityRecord {
        capacity_type: code("02"),
        status: code("02"),
        temporality: code("01"),
        gender: Some(code("03")),
        closing_type: None,
        additional_bed_type: None,
        crisis_type: None,
        temporary_assignment: Some(code("01")),
        source_type: Some(code("02")),
        count,
        updated_at: Some(date("2025-02-26T15:17:33Z")),
    }
}

fn scenario_2bis_criteria() -> RecordCriteria {
    RecordCriteria {
        status: Some(code("02")),
        temporality: Some(code("01")),
        gender: Some(code("03")),
        temporary_assignment: Some(code("01")),
        ..RecordCriteria::default()
    }
}

fn update(record: CapacityRecord) -> CapacityUpdate {
    CapacityUpdate { record, comment: None }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Scenario 2 BIS with its value record replaced by `sub_extensions`.
fn replace_body(sub_extensions: Value) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(SCENARIO_2BIS).unwrap();
    body["parameter"][0]["part"][2]["part"][0]["extension"][0]["extension"] = sub_extensions;
    serde_json::to_vec(&body).unwrap()
}

fn scenario_2bis_subs() -> Vec<Value> {
    let body: Value = serde_json::from_slice(SCENARIO_2BIS).unwrap();
    body["parameter"][0]["part"][2]["part"][0]["extension"][0]["extension"].as_array().unwrap().clone()
}

fn with_sub(url: &str, replacement: Option<Value>) -> Vec<u8> {
    let mut subs: Vec<Value> = scenario_2bis_subs().into_iter().filter(|sub| sub["url"] != url).collect();
    subs.extend(replacement);
    replace_body(Value::Array(subs))
}

fn parse_error(body: &[u8]) -> PatchError {
    parse_patch(body).expect_err("the body must be refused")
}

// --- fixtures -------------------------------------------------------------------------------

#[test]
fn scenario_2_is_one_add_with_every_field() {
    let operations = parse_patch(SCENARIO_2).unwrap();
    assert_eq!(operations, vec![Operation::Add { records: vec![update(scenario_2_record(25))] }]);
}

#[test]
fn scenario_2bis_is_one_replace_of_the_four_field_key() {
    let operations = parse_patch(SCENARIO_2BIS).unwrap();
    assert_eq!(
        operations,
        vec![Operation::Replace {
            selector: Selector::Record(scenario_2bis_criteria()),
            records: vec![update(scenario_2_record(12))],
        }]
    );
}

#[test]
fn scenario_3_is_one_delete_and_remove_is_its_alias() {
    let expected = vec![Operation::Delete { selector: Selector::Record(scenario_2bis_criteria()) }];
    assert_eq!(parse_patch(SCENARIO_3).unwrap(), expected);
    let old_spelling = text(SCENARIO_3).replace("\"valueString\": \"delete\"", "\"valueString\": \"remove\"");
    assert_ne!(old_spelling.as_bytes(), SCENARIO_3);
    assert_eq!(parse_patch(old_spelling.as_bytes()).unwrap(), expected);
}

#[test]
fn scenario_9_is_repaired_and_replaces_the_whole_collection() {
    // The published body is not JSON: a comma is missing between records 2 and 3.
    let strict = serde_json::from_slice::<Value>(SCENARIO_9).unwrap_err();
    assert!(strict.to_string().starts_with("expected `,` or `]`"), "{strict}");
    let parsed = parse_patch_report(SCENARIO_9).unwrap();
    assert_eq!(parsed.inserted_commas.len(), 1);
    let at = parsed.inserted_commas[0];
    let before = text(&SCENARIO_9[..at]);
    assert!(before.trim_end().ends_with('}'), "{before:?}");
    assert_eq!(SCENARIO_9[at], b'{');
    assert!(text(&SCENARIO_9[..at]).matches("ror-location-supported-capacity").count() == 3);

    let record = |status: &str, count: u32, gender: Option<&str>, updated: &str| {
        update(CapacityRecord {
            capacity_type: code("01"),
            status: code(status),
            temporality: code("01"),
            gender: gender.map(code),
            closing_type: None,
            additional_bed_type: None,
            crisis_type: None,
            temporary_assignment: Some(code("01")),
            source_type: Some(code("02")),
            count,
            updated_at: Some(date(updated)),
        })
    };
    assert_eq!(
        parsed.operations,
        vec![Operation::Replace {
            selector: Selector::Collection,
            records: vec![
                record("01", 10, None, "2023-09-25T15:20:00+01:00"),
                record("02", 6, Some("02"), "2023-09-25T15:20:00+01:00"),
                record("02", 4, Some("03"), "2024-02-02T11:30:00+01:00"),
            ],
        }]
    );
    // +01:00 is read as such: 15:20 in Paris winter time is 14:20 UTC.
    assert_eq!(format_rfc3339(date("2023-09-25T15:20:00+01:00")), "2023-09-25T14:20:00Z");
}

#[test]
fn fixtures_pass_the_business_rules() {
    let now = date("2025-02-26T15:20:00Z");
    for body in [SCENARIO_2, SCENARIO_2BIS, SCENARIO_3, SCENARIO_9] {
        for operation in parse_patch(body).unwrap() {
            assert_eq!(validate_operation(&operation, &KnownCodesCatalog, &ValidationPolicy::default(), now), Ok(()));
        }
    }
}

// --- value shapes and codings ---------------------------------------------------------------

#[test]
fn value_extension_and_part_item_value_extension_are_read() {
    let subs = Value::Array(scenario_2bis_subs());
    let extension = json!({"url": CAPACITY_EXTENSION_URL, "extension": subs});
    let parts = |value: Value| {
        json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
            {"name": "type", "valueString": "add"},
            {"name": "path", "valueString": CAPACITY_COLLECTION_PATH},
            value
        ]}]})
    };
    let expected = vec![Operation::Add { records: vec![update(scenario_2_record(12))] }];
    for value in [
        json!({"name": "value", "valueExtension": extension}),
        json!({"name": "value", "part": [{"name": "value", "valueExtension": extension}]}),
        json!({"name": "value", "part": [extension]}),
    ] {
        assert_eq!(parse_patch(&serde_json::to_vec(&parts(value)).unwrap()).unwrap(), expected);
    }
    // Standard FHIRPath Patch add: path `Location`, name `extension`.
    let standard = json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "add"},
        {"name": "path", "valueString": "Location"},
        {"name": "name", "valueString": "extension"},
        {"name": "value", "valueExtension": extension}
    ]}]});
    assert_eq!(parse_patch(&serde_json::to_vec(&standard).unwrap()).unwrap(), expected);
}

#[test]
fn codings_are_read_leniently() {
    let status_variants = [
        json!({"url": "capacityStatus", "valueCode": "02"}),
        json!({"url": "capacityStatus", "valueCoding": {"system": "http://mos.esante.gouv.fr/NOS/TRE_R330-TypeStatutCapacite/FHIR/TRE-R330-TypeStatutCapacite/", "code": "02"}}),
        json!({"url": "capacityStatus", "valueCodeableConcept": {"coding": [{"code": "02"}]}}),
        json!({"url": "capacityStatus", "valueCodeableConcept": {"coding": [
            {"system": "https://example.org/local-codes", "code": "DISPO"},
            {"system": "https://mos.esante.gouv.fr/NOS/JDV_J188-TypeStatutCapacite-ROR/FHIR/JDV-J188-TypeStatutCapacite-ROR/", "code": "02"}
        ]}}),
    ];
    for variant in status_variants {
        let operations = parse_patch(&with_sub("capacityStatus", Some(variant.clone()))).unwrap();
        let Operation::Replace { records, .. } = &operations[0] else { panic!() };
        assert_eq!(records[0].record, scenario_2_record(12), "{variant}");
    }
    // A comment and a string count under valueInteger.
    let mut subs = scenario_2bis_subs();
    subs.retain(|sub| sub["url"] != "nbCapacity");
    subs.push(json!({"url": "nbCapacity", "valueInteger": "12"}));
    subs.push(json!({"url": "comment", "valueString": "Aile B fermée"}));
    let operations = parse_patch(&replace_body(Value::Array(subs))).unwrap();
    let Operation::Replace { records, .. } = &operations[0] else { panic!() };
    assert_eq!(records[0].comment.as_deref(), Some("Aile B fermée"));
    assert_eq!(records[0].record.count, 12);
}

#[test]
fn capacity_code_system_reads_tre_and_jdv_urls() {
    let cases = [
        (
            "https://mos.esante.gouv.fr/NOS/TRE_R330-TypeStatutCapacite/FHIR/TRE-R330-TypeStatutCapacite",
            CodeSystem::StatutCapacite,
        ),
        (
            "https://mos.esante.gouv.fr/NOS/JDV_J187-NatureCapacite-ROR/FHIR/JDV-J187-NatureCapacite-ROR/",
            CodeSystem::NatureCapacite,
        ),
        (
            "http://mos.esante.gouv.fr/NOS/JDV_J195-AffectationTemporaire-ROR/FHIR/JDV-J195-AffectationTemporaire-ROR",
            CodeSystem::AffectationTemporaire,
        ),
        ("JDV-J194-TypeCrise-ROR", CodeSystem::TypeCrise),
    ];
    for (url, system) in cases {
        assert_eq!(capacity_code_system(url), Some(system), "{url}");
    }
    assert_eq!(
        capacity_code_system("https://mos.esante.gouv.fr/NOS/JDV_J238-TypeOffre-ROR/FHIR/JDV-J238-TypeOffre-ROR"),
        None
    );
    assert_eq!(capacity_code_system("https://example.org/XJDV_J188"), None);
    for field in CapacityField::ALL {
        assert_eq!(CapacityField::from_url(field.url()), Some(field));
        assert_eq!(field.code_system().is_some(), field.jdv_number().is_some());
    }
    assert!(is_capacity_extension_url(
        "http://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity/"
    ));
    assert!(!is_capacity_extension_url(
        "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-equipment"
    ));
}

// --- body errors ----------------------------------------------------------------------------

#[test]
fn every_required_sub_extension_is_checked() {
    for field in CapacityField::ALL.into_iter().filter(|field| field.is_required()) {
        let error = parse_error(&with_sub(field.url(), None));
        assert_eq!(error.code, IssueType::Required, "{field}");
        assert!(error.message.contains(&format!("'{field}'")), "{field}: {error}");
        assert_eq!(
            error.expression.as_deref(),
            Some("Parameters.parameter[0].part[2].part[0].extension[0]"),
            "{field}"
        );
    }
    // Optional ones may go.
    assert!(parse_patch(&with_sub("genderCapacityAvailable", None)).is_ok());
}

#[test]
fn counts_must_be_non_negative_integers() {
    let cases = [
        (json!({"url": "nbCapacity", "valueInteger": -1}), IssueType::BusinessRule, "negative"),
        (json!({"url": "nbCapacity", "valueInt": "-3"}), IssueType::BusinessRule, "negative"),
        (json!({"url": "nbCapacity", "valueInteger": 5_000_000_000_u64}), IssueType::BusinessRule, "out of range"),
        (json!({"url": "nbCapacity", "valueInteger": 12.5}), IssueType::Value, "integer"),
        (json!({"url": "nbCapacity", "valueInteger": 12.0}), IssueType::Value, "integer"),
        (json!({"url": "nbCapacity", "valueInt": "douze"}), IssueType::Value, "integer"),
        (json!({"url": "nbCapacity", "valueInt": ""}), IssueType::Value, "integer"),
        (json!({"url": "nbCapacity", "valueInteger": true}), IssueType::Value, "integer"),
        (json!({"url": "nbCapacity", "valueString": "12"}), IssueType::Required, "valueInteger"),
    ];
    for (sub, code, needle) in cases {
        let error = parse_error(&with_sub("nbCapacity", Some(sub.clone())));
        assert_eq!(error.code, code, "{sub}");
        assert!(error.message.contains(needle), "{sub}: {error}");
    }
    let ok = with_sub("nbCapacity", Some(json!({"url": "nbCapacity", "valueInt": 7})));
    let Operation::Replace { records, .. } = &parse_patch(&ok).unwrap()[0] else { panic!() };
    assert_eq!(records[0].record.count, 7);
}

#[test]
fn malformed_sub_extensions_are_refused() {
    let cases = [
        (
            Some(json!({"url": "capacityUpdateDate", "valueDateTime": "26/02/2025"})),
            "capacityUpdateDate",
            IssueType::Value,
        ),
        (Some(json!({"url": "capacityUpdateDate", "valueDateTime": 20250226})), "capacityUpdateDate", IssueType::Value),
        (
            Some(
                json!({"url": "capacityStatus", "valueCodeableConcept": {"coding": [{"system": "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement", "code": "02"}]}}),
            ),
            "capacityStatus",
            IssueType::Value,
        ),
        (
            Some(json!({"url": "capacityStatus", "valueCodeableConcept": {"coding": []}})),
            "capacityStatus",
            IssueType::Required,
        ),
        (Some(json!({"url": "capacityStatus", "valueString": "02"})), "capacityStatus", IssueType::Required),
        (Some(json!({"url": "capacityStatus", "valueCode": ""})), "capacityStatus", IssueType::Value),
        (Some(json!({"url": "capacityStatus", "valueCode": 2})), "capacityStatus", IssueType::Value),
    ];
    for (replacement, url, code) in cases {
        let error = parse_error(&with_sub(url, replacement.clone()));
        assert_eq!(error.code, code, "{replacement:?}: {error}");
    }
    let mut subs = scenario_2bis_subs();
    subs.push(json!({"url": "bedColour", "valueCode": "blue"}));
    let error = parse_error(&replace_body(Value::Array(subs)));
    assert_eq!(
        (error.code, error.message.as_str()),
        (IssueType::Invalid, "unknown capacity sub-extension 'bedColour'")
    );
    let mut subs = scenario_2bis_subs();
    subs.push(json!({"url": "capacityStatus", "valueCode": "03"}));
    assert!(parse_error(&replace_body(Value::Array(subs))).message.contains("twice"));
    let body = text(SCENARIO_2).replace(
        "\"url\": \"https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity\"",
        "\"url\": \"https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-equipment\"",
    );
    assert_eq!(parse_error(body.as_bytes()).code, IssueType::Invalid);
}

#[test]
fn malformed_parameters_are_refused() {
    let operation =
        |parts: Value| json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": parts}]});
    let delete = |kind: &str| json!([{"name": "type", "valueString": kind}, {"name": "path", "valueString": format!("{CAPACITY_COLLECTION_PATH}.where(extension.where(url='capacityStatus' and valueCode='02') and extension.where(url='temporalityCapacity' and valueCode='01'))")}]);
    let value = json!({"name": "value", "part": [{"url": CAPACITY_EXTENSION_URL, "extension": scenario_2bis_subs()}]});
    let two_records = json!({"name": "value", "part": [
        {"url": CAPACITY_EXTENSION_URL, "extension": scenario_2bis_subs()},
        {"url": CAPACITY_EXTENSION_URL, "extension": scenario_2bis_subs()}
    ]});
    let cases: Vec<(Value, IssueType, &str)> = vec![
        (json!([1, 2]), IssueType::Structure, "JSON object"),
        (json!({"resourceType": "Bundle"}), IssueType::Structure, "Parameters"),
        (json!({"resourceType": "Parameters"}), IssueType::Required, "no `parameter`"),
        (json!({"resourceType": "Parameters", "parameter": []}), IssueType::Required, "no `parameter`"),
        (
            json!({"resourceType": "Parameters", "parameter": [{"name": "op", "part": []}]}),
            IssueType::Invalid,
            "`operation`",
        ),
        (operation(delete("insert")), IssueType::Invalid, "not supported"),
        (operation(delete("upsert")), IssueType::Invalid, "unknown operation type"),
        (operation(json!([{"name": "type", "valueString": "delete"}])), IssueType::Required, "`path`"),
        (operation(json!([{"name": "path", "valueString": CAPACITY_COLLECTION_PATH}])), IssueType::Required, "`type`"),
        (
            operation(
                json!([{"name": "type", "valueString": "delete"}, {"name": "path", "valueString": CAPACITY_COLLECTION_PATH}]),
            ),
            IssueType::Invalid,
            "needs a `.where(...)`",
        ),
        (
            operation(
                json!([{"name": "type", "valueString": "add"}, {"name": "path", "valueString": CAPACITY_COLLECTION_PATH}]),
            ),
            IssueType::Required,
            "`value`",
        ),
        (
            operation(
                json!([{"name": "type", "valueString": "add"}, {"name": "path", "valueString": CAPACITY_COLLECTION_PATH}, {"name": "value", "part": []}]),
            ),
            IssueType::Required,
            "no capacity record",
        ),
        (
            operation(
                json!([{"name": "type", "valueString": "add"}, {"name": "path", "valueString": CAPACITY_COLLECTION_PATH}, {"name": "value", "valueString": "x"}]),
            ),
            IssueType::Required,
            "neither",
        ),
        (
            operation(json!([{"name": "type", "valueString": "add"}, delete("add")[1].clone(), value.clone()])),
            IssueType::Invalid,
            "capacity collection",
        ),
        (
            operation(
                json!([{"name": "type", "valueString": "add"}, {"name": "path", "valueString": CAPACITY_COLLECTION_PATH}, {"name": "name", "valueString": "extension"}, value.clone()]),
            ),
            IssueType::Invalid,
            "`name`",
        ),
        (
            operation(json!([{"name": "type", "valueString": "replace"}, delete("replace")[1].clone(), two_records])),
            IssueType::Invalid,
            "exactly one record",
        ),
        (
            operation(json!([delete("delete")[0].clone(), delete("delete")[1].clone(), value.clone()])),
            IssueType::Invalid,
            "no `value`",
        ),
        (
            operation(
                json!([delete("delete")[0].clone(), delete("delete")[1].clone(), {"name": "index", "valueInteger": 0}]),
            ),
            IssueType::Invalid,
            "unsupported operation part `index`",
        ),
        (operation(json!([delete("delete")[0].clone(), delete("delete")[0].clone()])), IssueType::Invalid, "twice"),
        (
            operation(
                json!([{"name": "type", "valueString": "delete"}, {"name": "path", "valueString": "Location.extension.where(url='x')"}]),
            ),
            IssueType::Invalid,
            "invalid capacity selector",
        ),
    ];
    for (body, code, needle) in cases {
        let error = parse_error(&serde_json::to_vec(&body).unwrap());
        assert_eq!(error.code, code, "{body}: {error}");
        assert!(error.message.contains(needle), "{body}: {error}");
    }
    let error = parse_error(b"{\"resourceType\": \"Parameters\", ");
    assert_eq!(error.code, IssueType::Structure);
    assert!(error.message.starts_with("the body is not JSON"), "{error}");
    // Several operations in one body are kept in order.
    let two = json!({"resourceType": "Parameters", "parameter": [
        {"name": "operation", "part": delete("delete")},
        {"name": "operation", "part": delete("remove")}
    ]});
    assert_eq!(parse_patch(&serde_json::to_vec(&two).unwrap()).unwrap().len(), 2);
}

// --- lenient JSON ---------------------------------------------------------------------------

#[test]
fn missing_commas_are_inserted_and_bounded() {
    let repaired = parse_json_lenient(b"[1 2]").unwrap();
    assert_eq!((repaired.value, repaired.inserted_commas), (json!([1, 2]), vec![3]));
    let repaired = parse_json_lenient(b"[{\"a\": 1}\n  {\"b\": [true false]} \"c\"]").unwrap();
    assert_eq!(repaired.value, json!([{"a": 1}, {"b": [true, false]}, "c"]));
    assert_eq!(repaired.inserted_commas, vec![12, 24, 32]);
    let repaired = parse_json_lenient(b"\xEF\xBB\xBF{\"a\": 1 \"b\": null}").unwrap();
    assert_eq!((repaired.value, repaired.inserted_commas), (json!({"a": 1, "b": null}), vec![11]));
    // Not a missing comma: left alone.
    for broken in [&b"[1 }"[..], b"{\"a\" 1}", b"[1,]", b"[1 :]", b"", b"nul"] {
        assert!(parse_json_lenient(broken).is_err(), "{}", String::from_utf8_lossy(broken));
    }
    let many = format!("[{}]", ["0"; MAX_COMMA_REPAIRS + 2].join(" "));
    assert!(parse_json_lenient(many.as_bytes()).is_err());
    let enough = format!("[{}]", ["0"; MAX_COMMA_REPAIRS + 1].join(" "));
    assert_eq!(parse_json_lenient(enough.as_bytes()).unwrap().inserted_commas.len(), MAX_COMMA_REPAIRS);
}

// --- selector grammar -----------------------------------------------------------------------

#[test]
fn selector_accepts_spacing_quoting_and_order_variants() {
    let url = CAPACITY_EXTENSION_URL;
    let expected = Selector::Record(scenario_2bis_criteria());
    let variants = [
        format!(
            "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' and valueCodeableConcept.coding.code='02') and extension.where(url='temporalityCapacity' and valueCodeableConcept.coding.code='01') and extension.where(url='genderCapacityAvailable' and valueCodeableConcept.coding.code='03') and extension.where(url='temporaryAssignement' and valueCodeableConcept.coding.code='01'))"
        ),
        format!(
            "Location.extension.where(url = \"{url}\")\n  .where(\n    extension.where(valueCode = \"01\" and url = \"temporaryAssignement\")\n\tand extension.where(url = 'genderCapacityAvailable' and valueCoding.code = '03')\n    and extension.where(url = 'temporalityCapacity' and valueCodeableConcept.coding[0].code = '01')\n    and extension.where(url = 'capacityStatus' and valueCodeableConcept . coding . code = '02')\n  )"
        ),
        format!(
            "Location.extension.where(url='{}/').where(extension.where(url='capacityStatus' and valueCode='02') and extension.where(url='temporalityCapacity' and valueCode='01') and extension.where(url='genderCapacityAvailable' and valueCode='03') and extension.where(url='temporaryAssignment' and valueCode='01'))",
            url.replace("https", "http")
        ),
    ];
    for path in &variants {
        assert_eq!(parse_selector(path), Ok(expected.clone()), "{path}");
    }
    assert_eq!(parse_selector(CAPACITY_COLLECTION_PATH), Ok(Selector::Collection));
    assert_eq!(parse_selector(&format!(" Location . extension . where ( url = '{url}' ) ")), Ok(Selector::Collection));
    // A subset, and the crisis fields.
    let crisis = format!(
        "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' and valueCode='06') and extension.where(url='additionalBedType' and valueCode='02') and extension.where(url='crisisType' and valueCode='02') and extension.where(url='capacityClosingType' and valueCode='\\'01\\''))"
    );
    let Ok(Selector::Record(criteria)) = parse_selector(&crisis) else { panic!() };
    assert_eq!(
        criteria,
        RecordCriteria {
            status: Some(code("06")),
            additional_bed_type: Some(code("02")),
            crisis_type: Some(code("02")),
            closing_type: Some(code("'01'")),
            ..RecordCriteria::default()
        }
    );
    assert_eq!(criteria.key(), None);
}

#[test]
fn selector_refuses_near_misses_with_a_message() {
    let url = CAPACITY_EXTENSION_URL;
    let clause = "extension.where(url='capacityStatus' and valueCode='02')";
    let cases = [
        (
            format!(
                "Location.extension.where(url='https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-equipment').where({clause})"
            ),
            "must select the extension",
        ),
        (
            format!(
                "Location.extension.where(url='{url}').where({clause} or extension.where(url='temporalityCapacity' and valueCode='01'))"
            ),
            "only `and`",
        ),
        (
            format!(
                "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' or valueCode='02'))"
            ),
            "expected `and`",
        ),
        (
            format!("Location.extension.where(url='{url}').where(extension.where(url='bedColour' and valueCode='02'))"),
            "unknown capacity sub-extension 'bedColour'",
        ),
        (
            format!(
                "Location.extension.where(url='{url}').where(extension.where(url='capacityType' and valueCode='01'))"
            ),
            "cannot select a record",
        ),
        (
            format!(
                "Location.extension.where(url='{url}').where(extension.where(url='nbCapacity' and valueInteger='3'))"
            ),
            "expected `url`, `valueCodeableConcept",
        ),
        (format!("Location.extension.where(url='{url}').where({clause}"), "expected `)`, found the end"),
        (format!("Location.extension.where(url='{url}').where({clause}))"), "expected the end of the path, found `)`"),
        (format!("Location.extension.where(url='{url}'.where({clause})"), "expected `)`"),
        (format!("Location.extension.where(url='{url}').where({clause} and {clause})"), "compared twice"),
        (
            format!(
                "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' and valueCode=''))"
            ),
            "invalid code",
        ),
        (
            format!(
                "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' and valueCode != '02'))"
            ),
            "only `=` comparisons",
        ),
        (
            format!(
                "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' and valueCode='02)))"
            ),
            "unterminated string",
        ),
        (
            format!(
                "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' and url='temporalityCapacity'))"
            ),
            "`url` twice",
        ),
        (
            format!("Location.extension.where(url='{url}').where(extension.where(valueCode='01' and valueCode='02'))"),
            "no `url`",
        ),
        (
            format!(
                "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' and valueCodeableConcept.coding[1].code='02'))"
            ),
            "expected `0`",
        ),
        (format!("Location.extension.where(url='{url}').where()"), "expected `extension`, found `)`"),
        (format!("Location.extension.where(url='{url}') | Location"), "unions"),
        (format!("Location.extension.where(url='{url}').first()"), "expected `where`, found `first`"),
        ("Location.extension".to_owned(), "expected `.`, found the end"),
        ("HealthcareService.extension".to_owned(), "expected `Location`"),
        (String::new(), "expected `Location`, found the end"),
    ];
    for (path, needle) in cases {
        let error = parse_selector(&path).expect_err(&path);
        assert!(error.message.contains(needle), "{path}\n→ {error}");
        assert!(error.offset <= path.len());
    }
    let error = parse_selector(&format!("Location.extension.where(url='{url}').where({clause} or x)")).unwrap_err();
    assert_eq!(error.offset, format!("Location.extension.where(url='{url}').where({clause} ").len());
}

// --- OperationOutcome, exactly as the DOC prints them ---------------------------------------

#[test]
fn not_found_and_multiple_matches_answers_are_the_rors() {
    let location = OperationOutcome::location_not_found("1350054680/SSR38888");
    assert_eq!(location.http_status(), 404);
    assert_eq!(
        location.to_json(),
        json!({"resourceType": "OperationOutcome", "issue": [{
            "severity": "error",
            "code": "not-found",
            "diagnostics": "La Location avec l'identifiant externe de synchro OU l'identifiant unique de saisie : '1350054680/SSR38888' n'a pas été trouvée.",
            "expression": ["Location"]
        }]})
    );
    let capacity = OperationOutcome::capacity_not_found();
    assert_eq!(capacity.http_status(), 404);
    assert_eq!(
        capacity.to_json(),
        json!({"resourceType": "OperationOutcome", "issue": [{
            "severity": "error",
            "code": "not-found",
            "diagnostics": "Les données fournies ne permettent pas de déterminer l'indicateur à mettre à jour: Aucun indicateur présent en base ne correspond",
            "expression": ["Location.extension.where(url='https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity')"]
        }]})
    );
    let multiple = OperationOutcome::multiple_locations(2);
    assert_eq!(multiple.http_status(), 412);
    assert_eq!(
        multiple.to_json(),
        json!({"resourceType": "OperationOutcome", "issue": [{
            "severity": "error",
            "code": "multiple-matches",
            "diagnostics": "La Location recherchée n'est pas unique, il y a '2' résultats",
            "expression": ["Location"]
        }]})
    );
    // resourceType first, as the ROR writes it.
    assert!(serde_json::to_string(&multiple).unwrap().starts_with("{\"resourceType\":\"OperationOutcome\""));
}

/// The DOC's 400 example, issue for issue, produced from scenario 2 BIS by a catalog that
/// knows no indicator (invalid tuple) and one that expects beds (wrong nature).
#[test]
fn business_rule_answer_is_the_rors() {
    struct NoIndicator;
    impl IndicatorCatalog for NoIndicator {
        fn indicator(&self, _: &CapacityKey) -> Option<Indicator> {
            None
        }
    }
    struct Beds;
    impl IndicatorCatalog for Beds {
        fn indicator(&self, _: &CapacityKey) -> Option<Indicator> {
            Some(Indicator { name: None, capacity_type: Some(code("01")) })
        }
    }
    let operation = parse_patch(SCENARIO_2BIS).unwrap().remove(0);
    let now = date("2025-02-26T15:20:00Z");
    let policy = ValidationPolicy::default();
    let wrong_nature = validate_operation(&operation, &Beds, &policy, now).unwrap_err();
    let invalid = validate_operation(&operation, &NoIndicator, &policy, now).unwrap_err();
    assert_eq!(invalid.issue.len(), 2);
    let mut issues = wrong_nature.issue.clone();
    issues.push(invalid.issue[1].clone());
    issues.push(invalid.issue[0].clone());
    let outcome = OperationOutcome::business_rules(issues);
    assert_eq!(outcome.http_status(), 400);
    assert_eq!(
        outcome.to_json(),
        json!({"resourceType": "OperationOutcome", "issue": [
            {
                "severity": "error",
                "code": "business-rule",
                "diagnostics": "Indicateur INDICATEUR_INCONNU : L'attribut 'natureCapacite' a un code différent de celui attendu",
                "expression": ["Location.extension('https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity').extension('capacityType')"]
            },
            {
                "severity": "error",
                "code": "business-rule",
                "diagnostics": "Les valeurs du nouvel objet ne correspondent pas à un indicateur valide : capacityStatus: 02 / temporalityCapacity: 01 / genderCapacityAvailable: 03 / capacityClosingType: null / additionalBedType: null / crisisType: null / temporaryAssignement: 01",
                "expression": ["Location.extension('https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity')"]
            },
            {
                "severity": "error",
                "code": "business-rule",
                "diagnostics": "Les critères du FhirPath ne correspondent pas à un indicateur valide : capacityStatus: 02 / temporalityCapacity: 01 / genderCapacityAvailable: 03 / capacityClosingType: null / additionalBedType: null / crisisType: null / temporaryAssignement: 01"
            }
        ]})
    );
    let named = Indicator { name: Some("LITS_DISPO".into()), capacity_type: Some(code("01")) };
    let issue = check_capacity_type(&scenario_2_record(1), &named).unwrap();
    assert!(issue.diagnostics.starts_with("Indicateur LITS_DISPO : "));
    assert_eq!(
        check_capacity_type(&scenario_2_record(1), &Indicator { name: None, capacity_type: Some(code("02")) }),
        None
    );
}

#[test]
fn business_rules_count_date_codes_and_selector_agreement() {
    let policy = ValidationPolicy { max_count: 100_000, future_tolerance_seconds: 300 };
    let now = date("2025-02-26T15:17:33Z");
    let mut record = scenario_2_record(100_000);
    assert_eq!(check_count(&record, &policy), None);
    record.count = 100_001;
    assert!(check_count(&record, &policy).unwrap().diagnostics.contains("100001"));
    assert_eq!(check_update_date(&record, now - 300, &policy), None);
    let issue = check_update_date(&record, now - 301, &policy).unwrap();
    assert_eq!(issue.code, IssueType::BusinessRule);
    assert!(issue.diagnostics.contains("2025-02-26T15:17:33Z"), "{}", issue.diagnostics);
    record.updated_at = None;
    assert!(check_update_date(&record, now, &policy).is_some());

    let mut record = scenario_2_record(3);
    assert!(check_known_codes(&record).is_empty());
    record.status = code("99");
    record.source_type = Some(code("07"));
    let issues = check_known_codes(&record);
    assert_eq!(issues.len(), 2);
    assert_eq!(
        issues[0].diagnostics,
        "Le code '99' de l'attribut 'capacityStatus' est inconnu dans TRE_R330-TypeStatutCapacite"
    );
    assert_eq!(KnownCodesCatalog.indicator(&CapacityKey::of(&record)), None);
    assert_eq!(KnownCodesCatalog.indicator(&CapacityKey::of(&scenario_2_record(3))), Some(Indicator::default()));

    let criteria = scenario_2bis_criteria();
    assert_eq!(check_selector_matches(&criteria, &scenario_2_record(3)), None);
    let mut other = scenario_2_record(3);
    other.gender = Some(code("01"));
    let issue = check_selector_matches(&criteria, &other).unwrap();
    assert!(
        issue.diagnostics.contains("genderCapacityAvailable: 03")
            && issue.diagnostics.contains("genderCapacityAvailable: 01")
    );

    // All at once: a replace whose record disagrees with its selector, is in the future and
    // counts too much; every issue is reported.
    let mut record = other;
    record.count = 200_000;
    record.updated_at = Some(now + 3600);
    let operation = Operation::Replace { selector: Selector::Record(criteria.clone()), records: vec![update(record)] };
    let outcome = validate_operation(&operation, &KnownCodesCatalog, &policy, now).unwrap_err();
    assert_eq!(outcome.issue.len(), 3, "{outcome:?}");
    assert!(outcome.issue.iter().all(|issue| issue.code == IssueType::BusinessRule));
    // A selector without status names no indicator.
    let partial = RecordCriteria { status: None, ..criteria };
    let delete = Operation::Delete { selector: Selector::Record(partial) };
    let outcome = validate_operation(&delete, &KnownCodesCatalog, &policy, now).unwrap_err();
    assert!(outcome.issue[0].diagnostics.contains("capacityStatus: null"));
}

#[test]
fn patch_errors_become_400_outcomes_with_an_array_expression() {
    let error = parse_error(&with_sub("nbCapacity", Some(json!({"url": "nbCapacity", "valueInteger": -2}))));
    let outcome = OperationOutcome::from_patch_error(&error);
    assert_eq!(outcome.http_status(), 400);
    let json = outcome.to_json();
    assert_eq!(json["issue"][0]["code"], "business-rule");
    assert_eq!(
        json["issue"][0]["expression"],
        json!(["Parameters.parameter[0].part[2].part[0].extension[0].extension[7].valueInteger"])
    );
    let outcome = OperationOutcome::from_patch_error(&parse_error(b"not json"));
    assert_eq!(outcome.to_json()["issue"][0]["code"], "structure");
    assert!(outcome.to_json()["issue"][0].get("expression").is_none());
    let outcome = OperationOutcome::invalid_identifier(&parse_synchro_identifier("SSR38888").unwrap_err());
    assert_eq!(
        (outcome.http_status(), outcome.to_json()["issue"][0]["expression"].clone()),
        (400, json!(["identifier"]))
    );
}

// --- identifier -----------------------------------------------------------------------------

#[test]
fn synchro_identifier_forms() {
    let expected = SynchroIdentifier { finess: Finess::parse("350054680").unwrap(), synchro_id: "SSR38888".into() };
    for value in
        ["1350054680/SSR38888", "https://ror.sante.fr/idExterneSynchro|1350054680/SSR38888", "|1350054680/SSR38888"]
    {
        assert_eq!(parse_synchro_identifier(value).as_ref(), Ok(&expected), "{value}");
    }
    assert_eq!(expected.to_string(), "1350054680/SSR38888");
    assert_eq!(expected.id_nat_struct(), "1350054680");
    let corsica = parse_synchro_identifier("12A0000123/URG/NORD").unwrap();
    assert_eq!((corsica.finess.as_str(), corsica.synchro_id.as_str()), ("2A0000123", "URG/NORD"));
    let refused = [
        ("", IdentifierError::Empty),
        ("sys|", IdentifierError::Empty),
        ("1350054680", IdentifierError::NoSeparator("1350054680".into())),
        ("350054680/SSR38888", IdentifierError::NotAnEgIdNatStruct("350054680".into())),
        ("3350054680/SSR38888", IdentifierError::NotAnEgIdNatStruct("3350054680".into())),
        ("11350054680/SSR38888", IdentifierError::NotAnEgIdNatStruct("11350054680".into())),
        ("1350054680/", IdentifierError::EmptySynchroId("1350054680/".into())),
        ("1350054680/SSR 38888", IdentifierError::BadSynchroId("SSR 38888".into())),
    ];
    for (value, error) in refused {
        assert_eq!(parse_synchro_identifier(value), Err(error), "{value}");
    }
}

// --- never panic ----------------------------------------------------------------------------

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn fixtures() -> [&'static [u8]; 4] {
        [SCENARIO_2, SCENARIO_2BIS, SCENARIO_3, SCENARIO_9]
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Flip(usize, u8),
        Delete(usize, usize),
        Insert(usize, Vec<u8>),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip(at, byte)),
            (any::<usize>(), 1usize..64).prop_map(|(at, length)| Mutation::Delete(at, length)),
            (
                any::<usize>(),
                prop::collection::vec(prop::sample::select(b"{}[]\",: -0123456789aeflnrstu\\".to_vec()), 1..8)
            )
                .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        ]
    }

    fn apply(body: &mut Vec<u8>, mutation: &Mutation) {
        if body.is_empty() {
            return;
        }
        match mutation {
            Mutation::Flip(at, byte) => {
                let at = at % body.len();
                body[at] = *byte;
            }
            Mutation::Delete(at, length) => {
                let at = at % body.len();
                let end = (at + length).min(body.len());
                body.drain(at..end);
            }
            Mutation::Insert(at, bytes) => {
                let at = at % (body.len() + 1);
                body.splice(at..at, bytes.iter().copied());
            }
        }
    }

    fn exercise(body: &[u8]) {
        if let Ok(operations) = parse_patch(body) {
            for operation in &operations {
                let _ = validate_operation(&operation.clone(), &KnownCodesCatalog, &ValidationPolicy::default(), 0);
            }
        } else if let Err(error) = parse_patch(body) {
            let _ = OperationOutcome::from_patch_error(&error).to_json();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
            exercise(&body);
        }

        #[test]
        fn mutated_fixtures_never_panic(which in 0usize..4, mutations in prop::collection::vec(mutation(), 1..6)) {
            let mut body = fixtures()[which].to_vec();
            for mutation in &mutations {
                apply(&mut body, mutation);
            }
            exercise(&body);
        }

        #[test]
        fn arbitrary_selectors_never_panic(path in ".{0,200}") {
            let _ = parse_selector(&path);
            let prefixed = format!("{CAPACITY_COLLECTION_PATH}.where({path}");
            let _ = parse_selector(&prefixed);
        }

        #[test]
        fn arbitrary_identifiers_never_panic(value in ".{0,40}") {
            let _ = parse_synchro_identifier(&value);
        }

        /// Generated selectors with random spacing, quotes, clause order and value forms read
        /// back as the criteria they were written from.
        #[test]
        fn generated_selectors_round_trip(
            codes in prop::collection::vec(prop::option::of("[0-9]{2}"), 7),
            order in Just((0..7usize).collect::<Vec<_>>()).prop_shuffle(),
            spaces in prop::collection::vec(prop::sample::select(vec!["", " ", "  ", "\n\t"]), 8),
            double_quotes in any::<bool>(),
            value_form in 0usize..4,
        ) {
            prop_assume!(codes.iter().any(Option::is_some));
            let quote = if double_quotes { '"' } else { '\'' };
            let value_path = ["valueCodeableConcept.coding.code", "valueCodeableConcept.coding[0].code", "valueCoding.code", "valueCode"][value_form];
            let (s0, s1, s2, s3) = (spaces[0], spaces[1], spaces[2], spaces[3]);
            // `and` needs a blank on the side of an identifier.
            let nonempty = |space: &'static str| if space.is_empty() { " " } else { space };
            let after_and = nonempty(s3);
            let mut criteria = RecordCriteria::default();
            let mut clauses = Vec::new();
            for index in order {
                let Some(code) = &codes[index] else { continue };
                let field = CapacityField::TUPLE[index];
                *criteria.slot(field).unwrap() = Some(Code::from(code.as_str()));
                clauses.push(format!(
                    "extension.where({s0}url{s1}={s2}{quote}{}{quote}{s3}and{after_and}{value_path}{s1}={s0}{quote}{code}{quote})",
                    field.url()
                ));
            }
            let joiner = format!("{}and{}", nonempty(spaces[4]), nonempty(spaces[5]));
            let path = format!(
                "Location.extension.where(url{s1}={s2}{quote}{CAPACITY_EXTENSION_URL}{quote}){}.where({}{}{})",
                spaces[6],
                spaces[7],
                clauses.join(&joiner),
                spaces[7]
            );
            prop_assert_eq!(parse_selector(&path), Ok(Selector::Record(criteria)), "{}", path);
        }
    }
}
