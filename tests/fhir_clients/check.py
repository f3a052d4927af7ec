#!/usr/bin/env python3
"""Third-party FHIR clients against a running `ror-search serve`: the R4 models of
fhir.resources (pydantic validation) and fhirpy's SyncFHIRClient.

    check.py <FHIR base URL, e.g. http://127.0.0.1:8080/fhir> <API key>

Every answer is parsed with the model of what it claims to be (CapabilityStatement, Bundle and
the resource of each entry, OperationOutcome, the NDJSON lines of `$export`); every failure is
recorded with the request that showed it, the steps go on, and the exit status is 1 if any
failed. Run by tests/integration/fhir_clients.rs.
"""

import concurrent.futures
import email.utils
import hashlib
import json
import os
import sys
import tempfile
import time
import traceback
import typing
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import fhir.resources
import fhirpy
import pydantic
import requests
from fhir.resources import fhirtypes
from fhir.resources.fhirtypes import AbstractBaseType, AbstractType
from fhir.resources.fhirtypesvalidators import get_fhir_model_class

FHIR_JSON = "application/fhir+json"
TIMEOUT = 120  # seconds, per HTTP request
DEFAULT_COUNT = 200  # the facade's page size when _count is not given
NOS = "https://mos.esante.gouv.fr/NOS"
CAPACITY_URL = "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity"
DISTANCE_URL = "http://hl7.org/fhir/StructureDefinition/location-distance"
SUBSETTED = ("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "SUBSETTED")
WORKERS = max(1, min(4, os.cpu_count() or 1))  # processes validating pages and NDJSON lines

assert fhir.resources.__fhir_version__ == "4.0.1", (
    f"fhir.resources {fhir.resources.__version__} has FHIR {fhir.resources.__fhir_version__} models, not R4 4.0.1"
)


class Failure(Exception):
    """A check that failed (the message says what and which request)."""


def ensure(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


def validation_message(error: pydantic.ValidationError, limit: int = 15) -> str:
    lines = []
    for item in error.errors()[:limit]:
        where = " -> ".join(str(part) for part in item["loc"])
        lines.append(f"    {where}: {item['msg']} ({item['type']})")
    if len(error.errors()) > limit:
        lines.append(f"    ... and {len(error.errors()) - limit} more")
    return "\n".join(lines)


# The FHIR JSON rules the models let through (pydantic coerces "2" to 2 and accepts null, [] and
# {}; fhir.resources declares the codes of required bindings as `enum_values` but leaves their
# check "in your own responsibilities"): checked on the raw JSON, by the models' own field types.
JSON_TYPES = {"boolean": (bool,), "integer": (int,), "unsignedInt": (int,), "positiveInt": (int,), "decimal": (int, float)}
# fhir.resources derives `enum_values` from each element's short text; for these two the binding
# is no closed list of those words: CapabilityStatement.format is any MIME type (BCP-13, "xml |
# json | ttl | mime type" read as ['formats', 'json', 'ttl', 'mime']), Expression.language is
# extensible. Every other `enum_values` of the models used here is the required binding's codes.
NOT_ENUMERATIONS = {("CapabilityStatement", "format"), ("Expression", "language")}
_FIELDS: Dict[type, Dict[str, Any]] = {}


def json_rules(raw: Dict[str, Any], model: type, path: str, out: List[str]) -> List[str]:
    """Appends to `out` what of `raw` (a `model` element) breaks the FHIR JSON rules: null, an
    empty array or object, a primitive of the wrong JSON type, a code outside a required binding."""
    fields = _FIELDS.get(model)
    if fields is None:
        fields = _FIELDS[model] = {field.alias: field for field in model.__fields__.values()}
    for key, value in raw.items():
        field = fields.get(key)
        if key == "resourceType" or field is None:  # an unknown key: the model has refused it
            continue
        where = f"{path}.{key}"
        if isinstance(value, list):
            if not value:
                out.append(f"{where}: an empty array")
            for index, item in enumerate(value):
                # A null in an array of primitive extensions (`_given`) stands for "none here".
                if not (item is None and key.startswith("_")):
                    json_rule(item, model, field, f"{where}[{index}]", out)
        else:
            json_rule(value, model, field, where, out)
    return out


def required_codes(model: type, field: Any) -> Optional[List[str]]:
    if (model.__name__, field.alias) in NOT_ENUMERATIONS:
        return None
    return field.field_info.extra.get("enum_values")


def field_kind(field: Any) -> Any:
    """The type of a model field, `Optional[...]` and `Union[...]` unwrapped to their first class."""
    kind = field.type_
    if not isinstance(kind, type):
        kind = next((arg for arg in typing.get_args(kind) if isinstance(arg, type) and arg is not type(None)), str)
    return kind


def json_rule(item: Any, model: type, field: Any, where: str, out: List[str]) -> None:
    kind = field_kind(field)
    if item is None:
        out.append(f"{where}: null")
    elif isinstance(kind, type) and issubclass(kind, (AbstractType, AbstractBaseType)):
        if not isinstance(item, dict) or not item:
            out.append(f"{where}: an empty object")
            return
        name = item.get("resourceType") if issubclass(kind, AbstractBaseType) else kind.__resource_type__
        json_rules(item, get_fhir_model_class(name), where, out)
    else:
        visit = getattr(kind, "__visit_name__", None) or {bool: "boolean"}.get(kind, "string")
        expected = JSON_TYPES.get(visit, (str,))
        if isinstance(item, bool) != (expected == (bool,)) or not isinstance(item, expected):
            out.append(f"{where}: a JSON {type(item).__name__} for a FHIR {visit}")
        allowed = required_codes(model, field)
        if allowed and item not in allowed:
            out.append(f"{where}: {item!r} is none of the codes of its required binding {allowed}")


def parse_model(model_name: str, data: Any, where: str, problems: Optional[List[str]] = None):
    """Parses `data` with the R4 model `model_name` (pydantic validation), then checks the
    JSON rules the model lets through: a breach fails at once, or is appended to `problems`
    (the caller fails later, and meanwhile checks what the answer says)."""
    ensure(isinstance(data, dict), f"{where}: not a JSON object: {str(data)[:200]}")
    ensure(
        data.get("resourceType") == model_name,
        f"{where}: resourceType {data.get('resourceType')!r}, expected {model_name}",
    )
    model = get_fhir_model_class(model_name)
    try:
        parsed = model.parse_obj(data)
    except pydantic.ValidationError as error:
        raise Failure(f"{where}: the R4 {model_name} model rejects it:\n{validation_message(error)}") from None
    breaches = json_rules(data, model, model_name, [])
    if breaches:
        message = f"{where}: not valid FHIR JSON:\n" + "\n".join(f"    {breach}" for breach in breaches[:15])
        if len(breaches) > 15:
            message += f"\n    ... and {len(breaches) - 15} more"
        if problems is None:
            raise Failure(message)
        problems.append(message)
    return parsed


def validate_lines(resource_type: str, lines: List[bytes], first_line: int) -> Dict[str, Any]:
    """A process-pool job: validates NDJSON lines with the model of `resource_type`."""
    errors: List[str] = []
    ids: List[str] = []
    for offset, line in enumerate(lines):
        number = first_line + offset
        try:
            data = json.loads(line)
        except ValueError as error:
            errors.append(f"line {number}: not JSON: {error}")
            continue
        identifier = data.get("id") if isinstance(data, dict) else None
        try:
            parse_model(resource_type, data, f"line {number} ({resource_type}/{identifier})")
        except Failure as failure:
            errors.append(str(failure))
        ids.append(identifier)
    return {"errors": errors[:20], "error_count": len(errors), "ids": ids}


def validate_bundle_page(data: Dict[str, Any], where: str) -> Optional[str]:
    """A process-pool job: validates one searchset page; None, or why it is refused."""
    try:
        parse_model("Bundle", data, where)
    except Failure as failure:
        return str(failure)
    return None


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def codes(concepts: Optional[List[Dict[str, Any]]]) -> List[str]:
    return [coding.get("code") for concept in concepts or [] for coding in concept.get("coding", [])]


def extension_value(extensions: List[Dict[str, Any]], url: str) -> Optional[Dict[str, Any]]:
    return next((extension for extension in extensions or [] if extension.get("url") == url), None)


class Check:
    def __init__(self, base: str, key: str, pool: concurrent.futures.Executor):
        self.base = base.rstrip("/")
        self.key = key
        self.pool = pool
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {key}", "Accept": FHIR_JSON})
        self.failures: List[str] = []
        self.passed: List[str] = []
        self.summary: List[str] = []
        # Ids met in the searches, for the reads.
        self.seen_ids: Dict[str, str] = {}
        # FHIR JSON breaches of the current step (it goes on, and fails at its end).
        self.problems: List[str] = []

    # -- plumbing ------------------------------------------------------------------------

    def step(self, name: str, function, *args) -> None:
        started = time.monotonic()
        self.problems = []
        failures = []
        try:
            function(*args)
        except Failure as failure:
            failures.append(str(failure))
        except Exception:  # a crash of the check itself, or of a client library
            failures.append(f"unexpected error:\n{traceback.format_exc()}")
        failures = self.problems + failures
        for failure in failures:
            self.failures.append(f"[{name}] {failure}")
            print(f"FAIL {name}: {failure}", flush=True)
        if not failures:
            self.passed.append(name)
            print(f"ok   {name} ({time.monotonic() - started:.1f} s)", flush=True)

    def parse(self, model_name: str, data: Any, where: str):
        """`parse_model`, the JSON-rule breaches kept for the end of the step."""
        return parse_model(model_name, data, where, self.problems)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base}/{path.lstrip('/')}"

    def get(self, path: str, expect: int = 200, headers: Optional[Dict[str, str]] = None) -> requests.Response:
        response = self.http.get(self.url(path), headers=headers or {}, timeout=TIMEOUT)
        self.last_response = response
        ensure(
            response.status_code == expect,
            f"GET {path}: status {response.status_code}, expected {expect}: {response.text[:500]}",
        )
        return response

    def get_json(self, path: str, expect: int = 200, headers: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
        response = self.get(path, expect, headers)
        content_type = response.headers.get("Content-Type", "")
        ensure(content_type.startswith(FHIR_JSON), f"GET {path}: Content-Type {content_type!r}, expected {FHIR_JSON}")
        try:
            return response.json()
        except ValueError as error:
            raise Failure(f"GET {path}: not JSON ({error}): {response.text[:300]}") from None

    # -- searches ------------------------------------------------------------------------

    def search(
        self,
        query: str,
        includes: tuple = (),
        count: Optional[int] = DEFAULT_COUNT,
        nonempty: bool = True,
        headers: Optional[Dict[str, str]] = None,
    ) -> Dict[str, Any]:
        """Runs a search (`Type?params`); checks the Bundle, its entries and links; returns it."""
        resource_type = query.split("?", 1)[0]
        data = self.get_json(query, headers=headers)
        bundle = self.parse("Bundle", data, f"GET {query}")
        ensure(bundle.type == "searchset", f"GET {query}: Bundle.type {bundle.type!r}, expected searchset")
        ensure(bundle.total is not None, f"GET {query}: no Bundle.total")
        if nonempty:
            ensure(bundle.total > 0, f"GET {query}: total 0, the sample holds matches")
        relations = [link["relation"] for link in data.get("link", [])]
        ensure("self" in relations, f"GET {query}: no self link ({relations})")
        entries = data.get("entry", [])
        matches = [entry for entry in entries if entry.get("search", {}).get("mode") == "match"]
        for index, (raw, parsed) in enumerate(zip(entries, bundle.entry or [])):
            resource = raw.get("resource", {})
            kind = resource.get("resourceType")
            mode = raw.get("search", {}).get("mode")
            where = f"GET {query}: entry {index} ({kind}/{resource.get('id')}, mode {mode})"
            ensure(type(parsed.resource).__name__ == kind, f"{where}: parsed as {type(parsed.resource).__name__}")
            if mode == "match":
                ensure(kind == resource_type, f"{where}: a match of another type than {resource_type}")
            elif mode == "include":
                ensure(kind in includes, f"{where}: an include of a type not asked for (asked {includes})")
            elif mode == "outcome":
                ensure(kind == "OperationOutcome", f"{where}: an outcome entry that is no OperationOutcome")
            else:
                raise Failure(f"{where}: unexpected search.mode")
            if kind != "OperationOutcome":
                expected_url = f"{self.base}/{kind}/{resource.get('id')}"
                ensure(raw.get("fullUrl") == expected_url, f"{where}: fullUrl {raw.get('fullUrl')!r}, expected {expected_url!r}")
                self.seen_ids.setdefault(kind, resource.get("id"))
        ids = [(entry["resource"]["resourceType"], entry["resource"]["id"]) for entry in entries if "id" in entry["resource"]]
        ensure(len(ids) == len(set(ids)), f"GET {query}: a resource appears twice in one page")
        if count is not None:
            ensure(
                len(matches) == min(count, bundle.total),
                f"GET {query}: {len(matches)} matches in the first page, expected min(_count={count}, total={bundle.total})",
            )
            ensure(
                ("next" in relations) == (bundle.total > count),
                f"GET {query}: next link {'present' if 'next' in relations else 'absent'} with total {bundle.total} and _count {count}",
            )
        return data

    def by_reference(self, data: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
        return {
            f"{entry['resource']['resourceType']}/{entry['resource']['id']}": entry["resource"]
            for entry in data.get("entry", [])
            if "id" in entry["resource"]
        }

    def check_metadata(self) -> None:
        data = self.get_json("metadata")
        statement = self.parse("CapabilityStatement", data, "GET metadata")
        ensure(statement.fhirVersion == "4.0.1", f"GET metadata: fhirVersion {statement.fhirVersion}")
        ensure(statement.kind == "instance", f"GET metadata: kind {statement.kind}")
        resources = {resource.type: resource for resource in statement.rest[0].resource}
        for kind in ("HealthcareService", "Location", "Organization"):
            ensure(kind in resources, f"GET metadata: no rest.resource {kind}")
            interactions = {interaction.code for interaction in resources[kind].interaction}
            ensure({"read", "search-type"} <= interactions, f"GET metadata: {kind} interactions {interactions}")
        names = {param.name for param in resources["HealthcareService"].searchParam}
        for name in ("specialty", "_lastUpdated", "location"):
            ensure(name in names, f"GET metadata: HealthcareService has no searchParam {name}")
        operations = {operation.name for operation in statement.rest[0].operation or []}
        ensure("export" in operations, f"GET metadata: no export operation ({operations})")
        self.summary.append(f"CapabilityStatement: {sum(len(r.searchParam or []) for r in resources.values())} search parameters")

    def check_near(self) -> None:
        query = (
            "HealthcareService?specialty=157&location.near=47.218|-1.636|15|km"
            "&_include=HealthcareService:location&_include=HealthcareService:organization"
            "&_include:iterate=Organization:partof"
        )
        data = self.search(query, includes=("Location", "Organization"))
        held = self.by_reference(data)
        distances = []
        for entry in data.get("entry", []):
            resource = entry["resource"]
            where = f"GET {query}: {resource['resourceType']}/{resource['id']}"
            if entry["search"]["mode"] == "match":
                ensure("157" in codes(resource.get("specialty")), f"{where}: a match without specialty 157")
                distance = extension_value(entry["search"].get("extension"), DISTANCE_URL)
                ensure(distance is not None, f"{where}: no {DISTANCE_URL} in the match's search")
                value = distance["valueDistance"]["value"]
                ensure(0 <= value <= 15, f"{where}: distance {value} km, not within 15 km")
                distances.append(value)
                for reference in [location["reference"] for location in resource.get("location", [])]:
                    ensure(reference in held, f"{where}: location {reference} not included")
                provider = resource.get("providedBy", {}).get("reference")
                ensure(provider in held, f"{where}: providedBy {provider} not included")
            elif resource["resourceType"] == "Organization" and "partOf" in resource:
                parent = resource["partOf"]["reference"]
                ensure(parent in held, f"{where}: partOf {parent} not included (_include:iterate=Organization:partof)")
        ensure(distances == sorted(distances), f"GET {query}: matches not ordered by distance: {distances}")
        first = next(entry["resource"] for entry in data["entry"] if entry["search"]["mode"] == "match")
        provider = first["providedBy"]["reference"]
        self.near_references = [f"HealthcareService/{first['id']}", first["location"][0]["reference"], provider]
        if "partOf" in held[provider]:
            self.near_references.append(held[provider]["partOf"]["reference"])
        self.near_resources = held
        self.summary.append(f"near Nantes, specialty 157: {data['total']} services, {len(data['entry'])} entries")

    def check_last_updated(self) -> None:
        query = (
            "HealthcareService?_lastUpdated=ge2022-11-06T15:00&_include=HealthcareService:organization"
            "&_include:iterate=Organization:partof&_include=HealthcareService:location"
            "&_revinclude=PractitionerRole:service&_include=PractitionerRole:practitioner&_count=50"
        )
        data = self.search(query, includes=("Location", "Organization"), count=50)
        floor = datetime(2022, 11, 6, 15, 0, tzinfo=timezone.utc)
        for entry in data.get("entry", []):
            if entry["search"]["mode"] == "match":
                updated = entry["resource"].get("meta", {}).get("lastUpdated")
                ensure(
                    updated is not None and instant(updated) >= floor,
                    f"GET {query}: HealthcareService/{entry['resource']['id']} lastUpdated {updated}, before 2022-11-06T15:00Z",
                )
        self.summary.append(f"_lastUpdated=ge2022-11-06T15:00: {data['total']} services")

    def check_location_revinclude(self) -> None:
        query = "Location?_revinclude=HealthcareService:location&_count=20"
        data = self.search(query, includes=("HealthcareService",), count=20)
        matched = {f"Location/{e['resource']['id']}" for e in data["entry"] if e["search"]["mode"] == "match"}
        services = [e["resource"] for e in data["entry"] if e["search"]["mode"] == "include"]
        ensure(services, f"GET {query}: no HealthcareService included")
        for service in services:
            references = {location["reference"] for location in service.get("location", [])}
            ensure(
                references & matched,
                f"GET {query}: included HealthcareService/{service['id']} is at none of the matched Locations",
            )

    def check_capacity(self) -> None:
        query = (
            f"Location?capacity-status={NOS}/TRE_R330-TypeStatutCapacite/FHIR/TRE-R330-TypeStatutCapacite|02"
            "&nb-capacity=gt0&_count=20"
        )
        data = self.search(query, count=20)
        for entry in data.get("entry", []):
            if entry["search"]["mode"] != "match":
                continue
            location = entry["resource"]
            records = [ext.get("extension", []) for ext in location.get("extension", []) if ext.get("url") == CAPACITY_URL]

            def fits(record):
                status = extension_value(record, "capacityStatus")
                count = extension_value(record, "nbCapacity")
                return (
                    status is not None
                    and "02" in codes([status.get("valueCodeableConcept", {})])
                    and count is not None
                    and count.get("valueInteger", 0) > 0
                )

            ensure(
                any(fits(record) for record in records),
                f"GET {query}: Location/{location['id']} has no capacity record of status 02 with nbCapacity > 0",
            )
        self.summary.append(f"capacity-status=02&nb-capacity=gt0: {data['total']} locations")

    def check_organization_type(self) -> None:
        query = "Organization?type=500&_count=20"
        data = self.search(query, count=20)
        for entry in data.get("entry", []):
            if entry["search"]["mode"] == "match":
                ensure(
                    "500" in codes(entry["resource"].get("type")),
                    f"GET {query}: Organization/{entry['resource']['id']} has no type 500",
                )

    def check_near_insee(self) -> None:
        data = self.search("HealthcareService?location.near-insee-code=44109|15|km")
        self.summary.append(f"near-insee-code=44109|15|km: {data['total']} services")

    def check_counts(self) -> None:
        summary = self.search("HealthcareService?_summary=count", count=None)
        ensure("entry" not in summary, "GET HealthcareService?_summary=count: entries in a count-only answer")
        zero = self.search("HealthcareService?_count=0", count=None)
        ensure("entry" not in zero, "GET HealthcareService?_count=0: entries with _count=0")
        ensure(
            zero["total"] == summary["total"],
            f"GET HealthcareService?_count=0: total {zero['total']}, _summary=count says {summary['total']}",
        )
        self.totals = {"HealthcareService": summary["total"]}
        for kind in ("Location", "Organization"):
            self.totals[kind] = self.search(f"{kind}?_summary=count", count=None)["total"]
        self.summary.append(f"totals: {self.totals}")

    def check_elements(self) -> None:
        query = "HealthcareService?_elements=name,identifier&_count=20"
        data = self.search(query, count=20)
        for entry in data["entry"]:
            resource = entry["resource"]
            extra = set(resource) - {"resourceType", "id", "meta", "name", "identifier"}
            ensure(not extra, f"GET {query}: HealthcareService/{resource['id']} has {sorted(extra)}")
            tags = {(tag.get("system"), tag.get("code")) for tag in resource.get("meta", {}).get("tag", [])}
            ensure(SUBSETTED in tags, f"GET {query}: HealthcareService/{resource['id']} not tagged SUBSETTED")

    def check_summary_true(self) -> None:
        for kind in ("HealthcareService", "Location", "Organization"):
            self.search(f"{kind}?_summary=true&_count=20", count=20)

    def check_unknown_parameter(self) -> None:
        query = "HealthcareService?no-such-parameter=1&_count=5"
        data = self.search(query, count=5)
        outcomes = [entry for entry in data["entry"] if entry["search"]["mode"] == "outcome"]
        ensure(len(outcomes) == 1, f"GET {query}: {len(outcomes)} outcome entries, expected 1")
        issues = outcomes[0]["resource"]["issue"]
        ensure(
            any("no-such-parameter" in issue.get("diagnostics", "") for issue in issues),
            f"GET {query}: the outcome does not name the ignored parameter: {issues}",
        )
        self_link = next(link["url"] for link in data["link"] if link["relation"] == "self")
        ensure("no-such-parameter" not in self_link, f"GET {query}: the self link keeps the ignored parameter: {self_link}")

    def error(self, path: str, status: int, headers: Optional[Dict[str, str]] = None) -> None:
        data = self.get_json(path, expect=status, headers=headers)
        outcome = self.parse("OperationOutcome", data, f"GET {path} ({status})")
        ensure(
            any(issue.severity in ("error", "fatal") for issue in outcome.issue),
            f"GET {path}: the {status} OperationOutcome has no error issue",
        )

    def check_errors(self) -> None:
        self.error("HealthcareService?name:foo=x", 400)
        self.error("Location?near=95|2|1", 400)
        self.error("HealthcareService?no-such-parameter=1", 400, headers={"Prefer": "handling=strict"})
        self.error("HealthcareService/no-such-service", 404)

    def check_reads(self) -> None:
        """Reads a HealthcareService, its Location, its Organization and that one's parent, as
        the near search included them, and one resource of each type met elsewhere; a read
        answers what the search entry held."""
        held = getattr(self, "near_resources", {})
        targets = list(getattr(self, "near_references", []))
        targets += [f"{kind}/{identifier}" for kind, identifier in self.seen_ids.items() if kind != "OperationOutcome"]
        kinds = {reference.split("/")[0] for reference in targets}
        ensure(
            {"HealthcareService", "Location", "Organization"} <= kinds,
            f"the searches gave no id to read of every type (got {sorted(kinds)})",
        )
        for reference in dict.fromkeys(targets):
            kind, identifier = reference.split("/", 1)
            data = self.get_json(reference)
            resource = self.parse(kind, data, f"GET {reference}")
            ensure(resource.id == identifier, f"GET {reference}: id {resource.id}")
            ensure(self.last_response.headers.get("ETag"), f"GET {reference}: no ETag")
            if reference in held:
                ensure(data == held[reference], f"GET {reference}: not the resource the search entry held")
        self.summary.append(f"reads: {len(dict.fromkeys(targets))} resources")

    # -- fhirpy ---------------------------------------------------------------------------

    def check_fhirpy_paging(self) -> None:
        pages: List[Dict[str, Any]] = []
        jobs = []
        recording = [True]

        def record(response, *args, **kwargs):
            # A requests response hook (requests' public API, passed through fhirpy's
            # documented `requests_config`): every page fhirpy fetches is validated too.
            if recording and response.status_code == 200:
                data = response.json()
                pages.append(
                    {
                        "url": response.url,
                        "total": data.get("total"),
                        "matches": sum(1 for entry in data.get("entry", []) if entry.get("search", {}).get("mode") == "match"),
                        "relations": [link.get("relation") for link in data.get("link", [])],
                    }
                )
                jobs.append(self.pool.submit(validate_bundle_page, data, f"fhirpy page {len(pages)} ({response.url})"))
            return response

        client = fhirpy.SyncFHIRClient(
            self.base,
            authorization=f"Bearer {self.key}",
            requests_config={"timeout": TIMEOUT, "hooks": {"response": [record]}},
        )
        started = time.monotonic()
        # Iterating the search set is fetch_all() without the list: fhirpy follows the next links.
        ids = [resource.id for resource in client.resources("HealthcareService").limit(1000)]
        fetched = time.monotonic() - started
        recording.clear()  # the requests below are no pages of that search
        ensure(pages, "fhirpy fetched no page")
        total = pages[0]["total"]
        ensure(len(ids) == len(set(ids)), f"fhirpy paging: {len(ids) - len(set(ids))} ids fetched twice")
        ensure(len(set(ids)) == total, f"fhirpy paging: {len(set(ids))} distinct ids, Bundle.total of page 1 is {total}")
        ensure(total == self.totals.get("HealthcareService"), f"fhirpy paging: total {total}, _summary=count said {self.totals}")
        for number, page in enumerate(pages, 1):
            where = f"fhirpy page {number} ({page['url']})"
            ensure(page["total"] == total, f"{where}: total {page['total']}, page 1 said {total}")
            if number < len(pages):
                ensure(page["matches"] == 1000, f"{where}: {page['matches']} matches in a page of _count=1000 before the last")
                ensure("next" in page["relations"], f"{where}: no next link before the last page")
            else:
                ensure("next" not in page["relations"], f"{where}: a next link on the last page")
        ensure(len(pages) == -(-total // 1000), f"fhirpy paging: {len(pages)} pages for {total} results of 1000 a page")
        refused = [message for message in (job.result() for job in jobs) if message]
        if refused:  # said at the end of the step, after the other checks
            self.problems.append(f"fhirpy: {len(refused)} of {len(pages)} pages refused:\n" + "\n".join(refused[:5]))
        self.paged_ids = set(ids)
        counted = client.resources("HealthcareService").count()
        ensure(counted == total, f"fhirpy count(): {counted}, expected {total}")
        raw = client.resources("HealthcareService").search(specialty="157").include("HealthcareService", "location").limit(5).fetch_raw()
        self.parse("Bundle", json.loads(json.dumps(raw)), "fhirpy search specialty=157 with include")
        self.summary.append(f"fhirpy: {len(pages)} pages, {len(ids)} HealthcareService ids, fetched in {fetched:.1f} s")

    # -- $export ---------------------------------------------------------------------------

    def check_export(self) -> None:
        kick_off = self.http.get(
            self.url("$export"),
            headers={"Prefer": "respond-async", "Accept": FHIR_JSON},
            timeout=TIMEOUT,
        )
        ensure(kick_off.status_code == 202, f"GET $export: status {kick_off.status_code}, expected 202: {kick_off.text[:300]}")
        status_url = kick_off.headers.get("Content-Location")
        ensure(status_url, "GET $export: no Content-Location")
        ensure(status_url.startswith(self.base), f"GET $export: Content-Location {status_url} not under {self.base}")
        deadline = time.monotonic() + 600
        polls = 0
        while True:
            polls += 1
            status = self.http.get(status_url, timeout=TIMEOUT)
            if status.status_code == 200:
                break
            ensure(status.status_code == 202, f"GET {status_url}: status {status.status_code}: {status.text[:300]}")
            ensure(time.monotonic() < deadline, f"GET {status_url}: still 202 after 600 s")
            retry_after = status.headers.get("Retry-After", "1")
            if retry_after.isdigit():
                delay = int(retry_after)
            else:
                delay = (email.utils.parsedate_to_datetime(retry_after) - datetime.now(timezone.utc)).total_seconds()
            time.sleep(min(max(delay, 0.2), 30))
        ensure(
            status.headers.get("Content-Type", "").startswith("application/json"),
            f"GET {status_url}: manifest Content-Type {status.headers.get('Content-Type')!r}",
        )
        try:
            manifest = Manifest.parse_obj(status.json())
        except pydantic.ValidationError as error:
            raise Failure(f"GET {status_url}: the Bulk Data manifest is refused:\n{validation_message(error)}") from None
        ensure(manifest.requiresAccessToken, "$export manifest: requiresAccessToken is false for an authenticated export")
        types = [output.type for output in manifest.output]
        ensure(sorted(types) == ["HealthcareService", "Location", "Organization"], f"$export manifest: output types {types}")
        counts: Dict[str, int] = {}
        validation = LineValidation(self.pool)
        with tempfile.TemporaryDirectory(prefix="fhir-clients-export-") as directory:
            for output in manifest.output:
                ensure(output.count is not None, f"$export manifest: no count for {output.type}")
                path = os.path.join(directory, f"{output.type}.ndjson")
                digest = hashlib.sha256()
                size = 0
                # The file URLs need the same credentials (requiresAccessToken).
                with self.http.get(output.url, stream=True, timeout=TIMEOUT) as response:
                    ensure(response.status_code == 200, f"GET {output.url}: status {response.status_code}")
                    content_type = response.headers.get("Content-Type", "")
                    ensure(content_type.startswith("application/fhir+ndjson"), f"GET {output.url}: Content-Type {content_type!r}")
                    with open(path, "wb") as out:
                        for block in response.iter_content(1 << 20):
                            digest.update(block)
                            size += len(block)
                            out.write(block)
                extension = output.extension or {}
                if "bytes" in extension:
                    ensure(size == extension["bytes"], f"GET {output.url}: {size} bytes, the manifest says {extension['bytes']}")
                if "sha256" in extension:
                    ensure(digest.hexdigest() == extension["sha256"], f"GET {output.url}: SHA-256 differs from the manifest's")
                lines = 0
                with open(path, "rb") as source:
                    chunk: List[bytes] = []
                    for line in source:
                        ensure(line.strip(), f"GET {output.url}: an empty line (line {lines + 1})")
                        chunk.append(line)
                        lines += 1
                        if len(chunk) == 2000:
                            validation.submit(output.type, chunk, lines - len(chunk) + 1)
                            chunk = []
                    if chunk:
                        validation.submit(output.type, chunk, lines - len(chunk) + 1)
                ensure(lines == output.count, f"GET {output.url}: {lines} lines, the manifest's count is {output.count}")
                counts[output.type] = lines
            validation.finish()
        ids = validation.ids
        refused = {kind: count for kind, count in validation.refused.items() if count}
        if refused:  # said at the end of the step, after the other checks
            self.problems.append(
                f"$export: NDJSON lines refused, by type {refused}; the first ones:\n" + "\n".join(validation.errors[:10])
            )
        for kind in types:
            ensure(len(set(ids[kind])) == len(ids[kind]), f"$export {kind}: an id written twice")
            ensure(
                counts[kind] == self.totals[kind],
                f"$export {kind}: {counts[kind]} resources, {kind}?_summary=count says {self.totals[kind]}",
            )
        if getattr(self, "paged_ids", None) is not None:
            ensure(
                set(ids["HealthcareService"]) == self.paged_ids,
                "$export HealthcareService: not the ids fhirpy paged through",
            )
        deleted = self.http.delete(status_url, timeout=TIMEOUT)
        ensure(deleted.status_code == 202, f"DELETE {status_url}: status {deleted.status_code}")
        gone = self.http.get(status_url, timeout=TIMEOUT)
        ensure(gone.status_code == 404, f"GET {status_url} after DELETE: status {gone.status_code}")
        self.parse("OperationOutcome", gone.json(), f"GET {status_url} after DELETE")
        self.summary.append(f"$export: {counts} after {polls} polls")


class LineValidation:
    """NDJSON lines validated in the process pool, a few chunks in flight at a time."""

    def __init__(self, pool: concurrent.futures.Executor):
        self.pool = pool
        self.pending: List[Any] = []
        self.ids: Dict[str, List[str]] = {}
        self.refused: Dict[str, int] = {}
        self.errors: List[str] = []

    def submit(self, resource_type: str, lines: List[bytes], first_line: int) -> None:
        while len(self.pending) >= 2 * WORKERS:
            self.collect(*self.pending.pop(0))
        self.pending.append((resource_type, self.pool.submit(validate_lines, resource_type, lines, first_line)))

    def collect(self, resource_type: str, job: concurrent.futures.Future) -> None:
        result = job.result()
        self.ids.setdefault(resource_type, []).extend(result["ids"])
        self.refused[resource_type] = self.refused.get(resource_type, 0) + result["error_count"]
        self.errors.extend(f"{resource_type}.ndjson {message}" for message in result["errors"][:3])

    def finish(self) -> None:
        while self.pending:
            self.collect(*self.pending.pop(0))


class ManifestOutput(pydantic.BaseModel):
    """An `output` (or `error`) item of the Bulk Data v2 manifest."""

    type: fhirtypes.Code
    url: fhirtypes.Url
    count: Optional[pydantic.conint(ge=0)] = None
    extension: Optional[Dict[str, Any]] = None

    class Config:
        extra = pydantic.Extra.forbid


class Manifest(pydantic.BaseModel):
    """The Bulk Data v2 complete-status manifest (https://hl7.org/fhir/uv/bulkdata/export.html)."""

    transactionTime: fhirtypes.Instant
    request: fhirtypes.Uri
    requiresAccessToken: bool
    output: List[ManifestOutput]
    error: List[ManifestOutput]
    deleted: Optional[List[ManifestOutput]] = None
    link: Optional[List[Dict[str, Any]]] = None
    extension: Optional[Dict[str, Any]] = None

    class Config:
        extra = pydantic.Extra.forbid


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base, key = sys.argv[1], sys.argv[2]
    started = time.monotonic()
    print(
        f"fhir.resources {fhir.resources.__version__} (FHIR {fhir.resources.__fhir_version__}), "
        f"pydantic {pydantic.VERSION}, fhirpy {fhirpy.__version__}, requests {requests.__version__}; {WORKERS} validating processes",
        flush=True,
    )
    with concurrent.futures.ProcessPoolExecutor(max_workers=WORKERS) as pool:
        check = Check(base, key, pool)
        check.step("metadata", check.check_metadata)
        check.step("search: near + includes", check.check_near)
        check.step("search: _lastUpdated + includes + revinclude", check.check_last_updated)
        check.step("search: Location _revinclude", check.check_location_revinclude)
        check.step("search: capacity on one record", check.check_capacity)
        check.step("search: Organization type", check.check_organization_type)
        check.step("search: near-insee-code", check.check_near_insee)
        check.step("search: _count=0, _summary=count", check.check_counts)
        check.step("search: _elements", check.check_elements)
        check.step("search: _summary=true", check.check_summary_true)
        check.step("search: unknown parameter", check.check_unknown_parameter)
        check.step("errors", check.check_errors)
        check.step("reads", check.check_reads)
        if hasattr(check, "totals"):
            check.step("fhirpy: whole-country paging", check.check_fhirpy_paging)
            check.step("$export", check.check_export)
        else:
            check.failures.append("[fhirpy, $export] not run: the totals are unknown")
    print()
    for line in check.summary:
        print(f"  {line}")
    print(f"{len(check.passed)} steps passed, {len(check.failures)} failed, {time.monotonic() - started:.0f} s")
    if check.failures:
        print("\nFAILURES:", file=sys.stderr)
        for failure in check.failures:
            print(f"- {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
