//! The body: lenient JSON (the missing comma of scenario 9), then the `Parameters` structure,
//! the operations and their records in the three value shapes.

#[allow(unused_imports)]
use super::*;

/// A JSON value read by [`parse_json_lenient`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LenientJson {
    /// The value.
    pub(crate) value: Value,
    /// Byte offsets in the input where a comma was inserted, ascending.
    pub(crate) inserted_commas: Vec<usize>,
}

/// Reads JSON, repairing the one defect seen in published ROR bodies: a missing comma between
/// two array items (DOC scenario 9), or between two object members.
///
/// The repair: when serde_json stops on "expected `,` or `]`" (or `}`), the unexpected byte
/// starts a value (or a member name), and the last non-blank byte before it ends one, a comma is
/// inserted just before the unexpected byte and the parse is retried; at most
/// [`MAX_COMMA_REPAIRS`] times. Nothing else is repaired. A UTF-8 byte-order mark is skipped.
///
/// # Errors
/// The serde_json error of the last attempt. Its line is exact; its column counts the commas
/// inserted earlier on the same line.
pub(crate) fn parse_json_lenient(body: &[u8]) -> Result<LenientJson, serde_json::Error> {
    let (skipped, body) = match body.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (3, rest),
        None => (0, body),
    };
    let mut text: Cow<'_, [u8]> = Cow::Borrowed(body);
    let mut inserted_commas = Vec::new();
    loop {
        let error = match serde_json::from_slice::<Value>(&text) {
            Ok(value) => return Ok(LenientJson { value, inserted_commas }),
            Err(error) => error,
        };
        if inserted_commas.len() >= MAX_COMMA_REPAIRS {
            return Err(error);
        }
        let Some(at) = missing_comma_offset(&text, &error) else {
            return Err(error);
        };
        // Repairs move forward through the text: each one is after the previous one, so the
        // original offset is the current one minus the commas inserted so far.
        let original = at - inserted_commas.len() + skipped;
        debug_assert!(inserted_commas.last().is_none_or(|&last| last <= original));
        inserted_commas.push(original);
        text.to_mut().insert(at, b',');
    }
}

/// Where a comma is missing, when `error` is serde_json's "expected `,` or `]`/`}`" and the
/// bytes around the error position are the end of a value and the start of the next one.
pub(super) fn missing_comma_offset(text: &[u8], error: &serde_json::Error) -> Option<usize> {
    if error.classify() != serde_json::error::Category::Syntax {
        return None;
    }
    let message = error.to_string();
    let in_array = message.starts_with("expected `,` or `]`");
    let in_object = message.starts_with("expected `,` or `}`");
    if !in_array && !in_object {
        return None;
    }
    let line_start = if error.line() <= 1 {
        0
    } else {
        let mut newlines = 0;
        text.iter().position(|&byte| {
            newlines += usize::from(byte == b'\n');
            newlines == error.line() - 1
        })? + 1
    };
    // serde_json's column is 1-based and points at the unexpected byte.
    let at = line_start + error.column().checked_sub(1)?;
    let next = *text.get(at)?;
    let starts_next = if in_array {
        matches!(next, b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
    } else {
        next == b'"'
    };
    let previous = text[..at].iter().rev().find(|byte| !byte.is_ascii_whitespace())?;
    let ends_previous = matches!(previous, b'}' | b']' | b'"' | b'0'..=b'9' | b'e' | b'l');
    (starts_next && ends_previous).then_some(at)
}

pub(super) fn object<'v>(value: &'v Value, at: &str, what: &str) -> Result<&'v Map<String, Value>, PatchError> {
    value.as_object().ok_or_else(|| PatchError::new(IssueType::Structure, at, format!("{what} must be a JSON object")))
}

pub(super) fn array<'v>(
    map: &'v Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<&'v Vec<Value>>, PatchError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => {
            Err(PatchError::new(IssueType::Structure, &format!("{at}.{key}"), format!("`{key}` must be an array")))
        }
    }
}

pub(super) fn string<'v>(map: &'v Map<String, Value>, key: &str, at: &str) -> Result<Option<&'v str>, PatchError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(PatchError::new(IssueType::Value, &format!("{at}.{key}"), format!("`{key}` must be a string"))),
    }
}

/// The `Parameters` resource → operations.
pub(super) fn parse_parameters(root: &Value) -> Result<Vec<Operation>, PatchError> {
    let at = "Parameters";
    let root = object(root, at, "the body")?;
    match root.get("resourceType") {
        None => {}
        Some(Value::String(kind)) if kind == "Parameters" => {}
        Some(other) => {
            return Err(PatchError::new(
                IssueType::Structure,
                "resourceType",
                format!("expected a Parameters resource, found resourceType {other}"),
            ));
        }
    }
    let parameters = array(root, "parameter", at)?.filter(|items| !items.is_empty()).ok_or_else(|| {
        PatchError::new(IssueType::Required, at, "the Parameters resource has no `parameter` (no operation)")
    })?;
    parameters
        .iter()
        .enumerate()
        .map(|(index, parameter)| parse_operation(parameter, &format!("Parameters.parameter[{index}]")))
        .collect()
}

/// The named parts of one operation.
#[derive(Default)]
pub(super) struct OperationParts<'v> {
    kind: Option<(&'v str, String)>,
    path: Option<(&'v str, String)>,
    name: Option<(&'v str, String)>,
    value: Option<(&'v Map<String, Value>, String)>,
}

pub(super) fn parse_operation(parameter: &Value, at: &str) -> Result<Operation, PatchError> {
    let parameter = object(parameter, at, "a parameter")?;
    match string(parameter, "name", at)? {
        Some("operation") => {}
        Some(other) => {
            return Err(PatchError::new(
                IssueType::Invalid,
                &format!("{at}.name"),
                format!("expected a parameter named `operation`, found `{other}`"),
            ));
        }
        None => {
            return Err(PatchError::new(IssueType::Required, at, "the parameter has no `name` (expected `operation`)"));
        }
    }
    let parts = array(parameter, "part", at)?
        .ok_or_else(|| PatchError::new(IssueType::Required, at, "the operation has no `part`"))?;
    let mut found = OperationParts::default();
    for (index, part) in parts.iter().enumerate() {
        let part_at = format!("{at}.part[{index}]");
        let part = object(part, &part_at, "an operation part")?;
        let name = string(part, "name", &part_at)?
            .ok_or_else(|| PatchError::new(IssueType::Required, &part_at, "an operation part has no `name`"))?;
        let text_value = || -> Result<&str, PatchError> {
            string(part, "valueString", &part_at)?.or(string(part, "valueCode", &part_at)?).ok_or_else(|| {
                PatchError::new(IssueType::Required, &part_at, format!("the `{name}` part has no valueString"))
            })
        };
        let duplicate = match name {
            "type" => found.kind.replace((text_value()?, part_at.clone())).is_some(),
            "path" => found.path.replace((text_value()?, part_at.clone())).is_some(),
            "name" => found.name.replace((text_value()?, part_at.clone())).is_some(),
            "value" => found.value.replace((part, part_at.clone())).is_some(),
            other => {
                return Err(PatchError::new(
                    IssueType::Invalid,
                    &part_at,
                    format!("unsupported operation part `{other}` (a capacity PATCH has type, path and value)"),
                ));
            }
        };
        if duplicate {
            return Err(PatchError::new(IssueType::Invalid, &part_at, format!("the `{name}` part appears twice")));
        }
    }
    let (kind, kind_at) =
        found.kind.ok_or_else(|| PatchError::new(IssueType::Required, at, "the operation has no `type` part"))?;
    let (path, path_at) =
        found.path.ok_or_else(|| PatchError::new(IssueType::Required, at, "the operation has no `path` part"))?;
    let invalid = |at: &str, message: String| PatchError::new(IssueType::Invalid, at, message);
    let selector = |path_at: &str| {
        parse_selector(path).map_err(|error| invalid(&format!("{path_at}.valueString"), error.to_string()))
    };
    let records = |value: Option<(&Map<String, Value>, String)>, kind: &str| match value {
        Some((value, value_at)) => parse_value_records(value, &value_at),
        None => Err(PatchError::new(IssueType::Required, at, format!("a `{kind}` operation needs a `value` part"))),
    };
    match kind {
        "add" => {
            match (&found.name, path) {
                // The ROR dialect: the path is the collection itself, no `name`.
                (None, _) => match selector(&path_at)? {
                    Selector::Collection => {}
                    Selector::Record(_) => {
                        return Err(invalid(
                            &path_at,
                            format!("an `add` path must be the capacity collection {CAPACITY_COLLECTION_PATH}"),
                        ));
                    }
                },
                // Standard FHIRPath Patch: add an `extension` to the Location.
                (Some((name, _)), "Location") if *name == "extension" => {}
                (Some((name, name_at)), _) => {
                    return Err(invalid(
                        name_at,
                        format!(
                            "an `add` with a `name` part must have path `Location` and name `extension` (found path `{path}`, name `{name}`); ROR clients send no `name`"
                        ),
                    ));
                }
            }
            Ok(Operation::Add { records: records(found.value, "add")? })
        }
        "replace" => {
            if let Some((_, name_at)) = &found.name {
                return Err(invalid(name_at, "a `replace` has no `name` part".into()));
            }
            let selector = selector(&path_at)?;
            let records = records(found.value, "replace")?;
            if matches!(selector, Selector::Record(_)) && records.len() != 1 {
                return Err(invalid(
                    at,
                    format!("a `replace` of one record carries exactly one record, found {}", records.len()),
                ));
            }
            Ok(Operation::Replace { selector, records })
        }
        "delete" | "remove" => {
            if let Some((_, name_at)) = &found.name {
                return Err(invalid(name_at, format!("a `{kind}` has no `name` part")));
            }
            if let Some((_, value_at)) = &found.value {
                return Err(invalid(value_at, format!("a `{kind}` has no `value` part")));
            }
            let selector = selector(&path_at)?;
            if selector == Selector::Collection {
                return Err(invalid(
                    &path_at,
                    format!("a `{kind}` removes one record: its path needs a `.where(...)` on the indicator fields"),
                ));
            }
            Ok(Operation::Delete { selector })
        }
        "insert" | "move" => Err(invalid(
            &kind_at,
            format!("FHIRPath Patch `{kind}` is not supported by the capacity feed (replace, add, delete)"),
        )),
        other => Err(invalid(
            &kind_at,
            format!("unknown operation type `{other}` (expected replace, add, delete or remove)"),
        )),
    }
}

/// The records of a `value` part, in any of the three shapes of the module doc.
pub(super) fn parse_value_records(value: &Map<String, Value>, at: &str) -> Result<Vec<CapacityUpdate>, PatchError> {
    let mut records = Vec::new();
    if let Some(extension) = value.get("valueExtension") {
        records.push(parse_capacity_extension(extension, &format!("{at}.valueExtension"))?);
    } else if let Some(items) = array(value, "part", at)? {
        for (index, item) in items.iter().enumerate() {
            let item_at = format!("{at}.part[{index}]");
            let item_map = object(item, &item_at, "a value item")?;
            if item_map.contains_key("url") {
                // Shape (b): the item is a capacity extension.
                records.push(parse_capacity_extension(item, &item_at)?);
            } else if let Some(extension) = item_map.get("valueExtension") {
                // Shape (c) inside a part.
                records.push(parse_capacity_extension(extension, &format!("{item_at}.valueExtension"))?);
            } else if let Some(extensions) = array(item_map, "extension", &item_at)? {
                // Shape (a): the item carries an `extension` array of capacity extensions.
                for (inner, extension) in extensions.iter().enumerate() {
                    records.push(parse_capacity_extension(extension, &format!("{item_at}.extension[{inner}]"))?);
                }
            } else {
                return Err(PatchError::new(
                    IssueType::Structure,
                    &item_at,
                    "a value item must be a capacity extension, carry one in `extension`, or be a `valueExtension`",
                ));
            }
        }
    } else {
        return Err(PatchError::new(
            IssueType::Required,
            at,
            "the `value` part has neither `part` nor `valueExtension`",
        ));
    }
    if records.is_empty() {
        return Err(PatchError::new(IssueType::Required, at, "the `value` part carries no capacity record"));
    }
    Ok(records)
}

/// One `ror-location-supported-capacity` extension → a record.
pub(super) fn parse_capacity_extension(value: &Value, at: &str) -> Result<CapacityUpdate, PatchError> {
    let extension = object(value, at, "a capacity extension")?;
    let url = string(extension, "url", at)?
        .ok_or_else(|| PatchError::new(IssueType::Required, at, "the capacity extension has no `url`"))?;
    if !is_capacity_extension_url(url) {
        return Err(PatchError::new(
            IssueType::Invalid,
            &format!("{at}.url"),
            format!("expected the extension '{CAPACITY_EXTENSION_URL}', found '{url}'"),
        ));
    }
    let subs = array(extension, "extension", at)?
        .ok_or_else(|| PatchError::new(IssueType::Required, at, "the capacity extension has no sub-extensions"))?;
    let mut codes: [Option<Code>; CapacityField::ALL.len()] = Default::default();
    let mut seen = [false; CapacityField::ALL.len()];
    let mut count = None;
    let mut updated_at = None;
    let mut comment = None;
    for (index, sub) in subs.iter().enumerate() {
        let sub_at = format!("{at}.extension[{index}]");
        let sub = object(sub, &sub_at, "a capacity sub-extension")?;
        let sub_url = string(sub, "url", &sub_at)?
            .ok_or_else(|| PatchError::new(IssueType::Required, &sub_at, "a capacity sub-extension has no `url`"))?;
        let field = CapacityField::from_url(sub_url).ok_or_else(|| {
            PatchError::new(IssueType::Invalid, &sub_at, format!("unknown capacity sub-extension '{sub_url}'"))
        })?;
        if std::mem::replace(&mut seen[field as usize], true) {
            return Err(PatchError::new(IssueType::Invalid, &sub_at, format!("'{field}' appears twice in one record")));
        }
        match field {
            CapacityField::Count => count = Some(parse_count(sub, &sub_at)?),
            CapacityField::UpdateDate => updated_at = Some(parse_update_date(sub, &sub_at)?),
            CapacityField::Comment => {
                comment = Some(
                    string(sub, "valueString", &sub_at)?
                        .ok_or_else(|| PatchError::new(IssueType::Required, &sub_at, "'comment' has no valueString"))?
                        .to_owned(),
                );
            }
            coded => codes[coded as usize] = Some(parse_code(sub, coded, &sub_at)?),
        }
    }
    for field in CapacityField::ALL {
        if field.is_required() && !seen[field as usize] {
            return Err(PatchError::new(
                IssueType::Required,
                at,
                format!("the capacity record has no '{field}' (required)"),
            ));
        }
    }
    let mut take = |field: CapacityField| codes[field as usize].take();
    let record = CapacityRecord {
        capacity_type: take(CapacityField::CapacityType).unwrap_or_default(),
        status: take(CapacityField::Status).unwrap_or_default(),
        temporality: take(CapacityField::Temporality).unwrap_or_default(),
        gender: take(CapacityField::Gender),
        closing_type: take(CapacityField::ClosingType),
        additional_bed_type: take(CapacityField::AdditionalBedType),
        crisis_type: take(CapacityField::CrisisType),
        temporary_assignment: take(CapacityField::TemporaryAssignment),
        source_type: take(CapacityField::SourceType),
        count: count.unwrap_or_default(),
        updated_at,
    };
    Ok(CapacityUpdate { record, comment })
}

/// `nbCapacity`: `valueInteger` (FHIR), or leniently `valueInt` / `valueUnsignedInt`; a JSON
/// integer or a string of ASCII digits with an optional sign. Negative or beyond `u32` is a
/// `business-rule` error, anything else that is not an integer a `value` error.
pub(super) fn parse_count(sub: &Map<String, Value>, at: &str) -> Result<u32, PatchError> {
    let Some((key, value)) = ["valueInteger", "valueInt", "valueUnsignedInt"]
        .into_iter()
        .find_map(|key| sub.get(key).map(|value| (key, value)))
    else {
        return Err(PatchError::new(IssueType::Required, at, "'nbCapacity' has no valueInteger"));
    };
    let value_at = format!("{at}.{key}");
    let not_integer =
        || PatchError::new(IssueType::Value, &value_at, format!("'nbCapacity' must be an integer, found {value}"));
    let count: i128 = match value {
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(signed), _) => i128::from(signed),
            (None, Some(unsigned)) => i128::from(unsigned),
            (None, None) => return Err(not_integer()),
        },
        Value::String(text) => {
            let digits = text.strip_prefix('-').unwrap_or(text);
            if digits.is_empty() || digits.len() > 30 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(not_integer());
            }
            text.parse().map_err(|_| not_integer())?
        }
        _ => return Err(not_integer()),
    };
    if count < 0 {
        return Err(PatchError::new(
            IssueType::BusinessRule,
            &value_at,
            format!("'nbCapacity' is negative ({count}): a count of beds or places is at least 0"),
        ));
    }
    u32::try_from(count).map_err(|_| {
        PatchError::new(IssueType::BusinessRule, &value_at, format!("'nbCapacity' is out of range ({count})"))
    })
}

/// `capacityUpdateDate`: `valueDateTime` (or `valueInstant`) → UTC Unix seconds.
pub(super) fn parse_update_date(sub: &Map<String, Value>, at: &str) -> Result<UnixSeconds, PatchError> {
    let key = if sub.contains_key("valueDateTime") { "valueDateTime" } else { "valueInstant" };
    let text = string(sub, key, at)?
        .ok_or_else(|| PatchError::new(IssueType::Required, at, "'capacityUpdateDate' has no valueDateTime"))?;
    parse_fhir_datetime(text)
        .map_err(|error| PatchError::new(IssueType::Value, &format!("{at}.{key}"), error.to_string()))
}

/// A coded sub-extension: `valueCodeableConcept` (the first coding of the field's TRE or JDV
/// system, else the first coding without a system), `valueCoding` or `valueCode`.
pub(super) fn parse_code(sub: &Map<String, Value>, field: CapacityField, at: &str) -> Result<Code, PatchError> {
    let expected = field.code_system();
    let describe = || {
        let system = expected.map_or("?", CodeSystem::nos_id);
        format!("{system} or JDV_J{}", field.jdv_number().unwrap_or_default())
    };
    let code_of = |coding: &Map<String, Value>, coding_at: &str| -> Result<Code, PatchError> {
        let code = string(coding, "code", coding_at)?.ok_or_else(|| {
            PatchError::new(IssueType::Required, coding_at, format!("the '{field}' coding has no `code`"))
        })?;
        if code.is_empty() || code.chars().any(char::is_whitespace) {
            return Err(PatchError::new(IssueType::Value, coding_at, format!("invalid code '{code}' for '{field}'")));
        }
        Ok(Code::from(code))
    };
    // Some(true): the field's system; Some(false): another system; None: no system.
    let system_fits = |coding: &Map<String, Value>, coding_at: &str| -> Result<Option<bool>, PatchError> {
        Ok(string(coding, "system", coding_at)?.map(|system| capacity_code_system(system) == expected))
    };
    if let Some(concept) = sub.get("valueCodeableConcept") {
        let concept_at = format!("{at}.valueCodeableConcept");
        let concept = object(concept, &concept_at, "valueCodeableConcept")?;
        let codings = array(concept, "coding", &concept_at)?.map(Vec::as_slice).unwrap_or_default();
        let mut without_system = None;
        let mut other_system = None;
        for (index, coding) in codings.iter().enumerate() {
            let coding_at = format!("{concept_at}.coding[{index}]");
            let coding = object(coding, &coding_at, "a coding")?;
            match system_fits(coding, &coding_at)? {
                Some(true) => return code_of(coding, &coding_at),
                None if without_system.is_none() => without_system = Some((coding, coding_at)),
                Some(false) if other_system.is_none() => {
                    other_system = string(coding, "system", &coding_at)?.map(str::to_owned);
                }
                _ => {}
            }
        }
        if let Some((coding, coding_at)) = without_system {
            return code_of(coding, &coding_at);
        }
        return Err(match other_system {
            Some(system) => PatchError::new(
                IssueType::Value,
                &concept_at,
                format!("'{field}' is coded in '{system}', expected {}", describe()),
            ),
            None => PatchError::new(IssueType::Required, &concept_at, format!("'{field}' has no coding")),
        });
    }
    if let Some(coding) = sub.get("valueCoding") {
        let coding_at = format!("{at}.valueCoding");
        let coding = object(coding, &coding_at, "valueCoding")?;
        if system_fits(coding, &coding_at)? == Some(false) {
            return Err(PatchError::new(
                IssueType::Value,
                &coding_at,
                format!("'{field}' must be coded in {}", describe()),
            ));
        }
        return code_of(coding, &coding_at);
    }
    if sub.contains_key("valueCode") {
        let mut wrapper = Map::new();
        wrapper.insert("code".into(), sub["valueCode"].clone());
        return code_of(&wrapper, &format!("{at}.valueCode"));
    }
    Err(PatchError::new(
        IssueType::Required,
        at,
        format!("'{field}' has no valueCodeableConcept, valueCoding or valueCode"),
    ))
}
