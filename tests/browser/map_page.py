"""The map page in a real browser: headless Debian Chromium driven by Selenium against
`ror-search serve` on the sample data (started by tests/integration/map_page.rs).

    map_page.py BASE_URL KEY AXE_JS SCREENSHOT_DIR CHROMIUM CHROMEDRIVER

KEY is an API key of profile 1 with the capacity_write role; anonymous callers hold profile 0.
Every check compares what the page shows with what the API answers for the same search, asked
by this script itself. axe-core (AXE_JS) checks WCAG 2.0/2.1 level A and AA on every state of
the page. Screenshots go to SCREENSHOT_DIR. Exits non-zero on the first failed check.
"""

import datetime
import json
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE, KEY, AXE_JS, SHOTS, CHROMIUM, CHROMEDRIVER = sys.argv[1:7]
WAIT_S = 30
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
checks = 0


def check(condition, message):
    global checks
    checks += 1
    if not condition:
        raise AssertionError(message)


def api(path, params=None, key=None, method="GET", body=None):
    url = BASE + path + ("?" + urllib.parse.urlencode(params) if params else "")
    request = urllib.request.Request(url, method=method, data=body)
    if key:
        request.add_header("X-API-Key", key)
    if body is not None:
        request.add_header("Content-Type", "application/x-ndjson")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read().decode()) if method == "GET" else response.read().decode()


def start_browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1400,900", "--lang=fr-FR",
        f"--user-data-dir={tempfile.mkdtemp(prefix='ror-search-chromium-')}",
    ]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


driver = start_browser()
wait = WebDriverWait(driver, WAIT_S)


def wait_for(predicate, what):
    try:
        return wait.until(lambda _: predicate())
    except TimeoutException:
        logs = "\n".join(entry["message"] for entry in driver.get_log("browser"))
        raise AssertionError(f"timed out waiting for {what}; browser console:\n{logs}") from None


def ready():
    """The page has answered its search and drawn its map for the current view."""
    return driver.execute_script(
        "return document.body.dataset.ready === 'true' && document.getElementById('carte').dataset.ready === 'true'"
        " && !document.getElementById('liste').hasAttribute('aria-busy')"
    )


def axe(state):
    with open(AXE_JS, encoding="utf-8") as file:
        source = file.read()
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(source)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})"
        ".then(r => done(JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)})))))"
        ".catch(e => done(JSON.stringify([{id: 'axe-error', help: String(e), nodes: []}])));",
        AXE_TAGS,
    )
    violations = json.loads(result)
    check(not violations, f"axe-core, {state}: " + json.dumps(violations, ensure_ascii=False, indent=1))
    print(f"axe-core: no WCAG 2.1 A/AA violation ({state})")


def shot(name):
    path = f"{SHOTS}/{name}.png"
    driver.save_screenshot(path)
    print(f"screenshot {path}")


def page_ids():
    return [item.get_attribute("data-id") for item in driver.find_elements(By.CSS_SELECTOR, "#liste > li")]


def api_query_of_page():
    """The API parameters of the page's URL (its query string, less the commune's label)."""
    query = urllib.parse.parse_qsl(urllib.parse.urlparse(driver.current_url).query)
    return [(name, value) for name, value in query if name != "lieu"]


def markers():
    elements = driver.find_elements(By.CSS_SELECTOR, "#carte .leaflet-marker-icon")
    return [
        {
            "kind": element.get_attribute("data-kind"),
            "count": int(element.get_attribute("data-count")),
            "offers": (element.get_attribute("data-offers") or "").split(",") if element.get_attribute("data-offers") else [],
            "classes": element.get_attribute("class").split(),
        }
        for element in elements
    ]


def check_map_against_api(key=None):
    """The markers are the features of /v1/clusters for the page's viewport and zoom."""
    carte = driver.find_element(By.ID, "carte")
    bbox, zoom = carte.get_attribute("data-bbox"), carte.get_attribute("data-zoom")
    params = api_query_of_page() + [("bbox", bbox), ("zoom", zoom)]
    params = [(name, value) for name, value in params if name != "sort"]
    answer = api("/v1/clusters", params, key=key)
    shown = markers()
    check(len(shown) == len(answer["features"]), f"{len(shown)} markers, the API has {len(answer['features'])} features")
    expected = sorted(
        (("cluster" if f["properties"]["cluster"] else "point"), f["properties"]["point_count"], tuple(f["properties"].get("offers", [])))
        for f in answer["features"]
    )
    got = sorted((m["kind"], m["count"], tuple(m["offers"])) for m in shown)
    check(got == expected, f"markers {got} differ from the API's features {expected}")
    check(sum(m["count"] for m in shown) == answer["total"], "the markers' counts add up to the API's total")
    return answer, shown


try:
    # 1. The page loads, with its background, its choices and no accessibility violation.
    driver.get(BASE + "/")
    wait_for(ready, "the first load")
    check(driver.title.startswith("Offre de santé"), f"title {driver.title!r}")
    check(driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr", "French page")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#carte path.leaflet-interactive, #carte svg path"), "the France outline")
    categories = [o.get_attribute("value") for o in Select(driver.find_element(By.ID, "category")).options]
    check("500" in categories, f"the EHPAD category is offered: {categories}")
    national = api("/v1/offers", {"limit": 1, "exact_total": "true"})
    check(int(driver.find_element(By.ID, "compte").get_attribute("data-total")) == national["total"], "the first load lists the whole offer")
    # First-load figures (reported, never asserted): bytes over the wire and times.
    timing = driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "const r = performance.getEntriesByType('resource');"
        "return {html: n.transferSize, assets: r.filter(e => e.name.includes('/assets/')).reduce((s, e) => s + e.transferSize, 0),"
        " api: r.filter(e => e.name.includes('/v1/')).reduce((s, e) => s + e.transferSize, 0),"
        " decoded: n.decodedBodySize + r.filter(e => e.name.includes('/assets/')).reduce((s, e) => s + e.decodedBodySize, 0),"
        " dom_content_loaded_ms: n.domContentLoadedEventEnd, load_ms: n.loadEventEnd,"
        " ready_ms: Math.max(...r.filter(e => e.name.includes('/v1/clusters')).map(e => e.responseEnd))};"
    )
    print("first load: " + json.dumps(timing))
    axe("first load")
    shot("map-france")
    check_map_against_api()

    # A cluster, by keyboard: Enter zooms to where it splits; the markers follow the view.
    biggest = max(
        driver.find_elements(By.CSS_SELECTOR, '#carte .leaflet-marker-icon[data-kind="cluster"]'),
        key=lambda element: int(element.get_attribute("data-count")),
    )
    zoom_before = int(driver.find_element(By.ID, "carte").get_attribute("data-zoom"))
    biggest.send_keys(Keys.ENTER)
    wait_for(lambda: int(driver.find_element(By.ID, "carte").get_attribute("data-zoom") or 0) > zoom_before and ready(), "the zoom into a cluster")
    check_map_against_api()
    print(f"cluster: zoomed from {zoom_before} to {driver.find_element(By.ID, 'carte').get_attribute('data-zoom')}")

    # 2. Type "Bordeaux", pick the commune, GIR 2, 80 EUR, submit.
    lieu = driver.find_element(By.ID, "lieu")
    lieu.send_keys("Bordeaux")
    option = wait_for(
        lambda: next(iter(driver.find_elements(By.CSS_SELECTOR, '#lieu-options li[data-code="33063"]')), None),
        "the Bordeaux suggestion",
    )
    check(lieu.get_attribute("aria-expanded") == "true", "the combobox says its list is open")
    option.click()
    check(driver.find_element(By.ID, "commune").get_attribute("value") == "33063", "picking the suggestion sets the commune")
    check(lieu.get_attribute("value") == "Bordeaux (33)", f"the commune shown: {lieu.get_attribute('value')!r}")
    Select(driver.find_element(By.ID, "gir")).select_by_value("2")
    driver.find_element(By.ID, "max_price").send_keys("80")
    driver.find_element(By.CSS_SELECTOR, "#recherche button[type=submit]").click()
    wait_for(lambda: "commune=33063" in driver.current_url, "the search in the URL")
    wait_for(ready, "the Bordeaux search")
    query = dict(api_query_of_page())
    check(query.get("gir") == "2" and query.get("max_price") == "80" and query.get("radius_km") == "20", f"the URL holds the search: {query}")

    # 3. The list: the same offers as the API, in the same order.
    reference = api("/v1/offers", api_query_of_page() + [("limit", "50"), ("exact_total", "true")])
    ids = page_ids()
    check(reference["total"] > 0, "the Bordeaux search finds offers")
    check(ids == [hit["id"] for hit in reference["results"]], f"list {ids} != API {[h['id'] for h in reference['results']]}")
    check(int(driver.find_element(By.ID, "compte").get_attribute("data-total")) == reference["total"], "the count shown is the API's total")
    first = driver.find_element(By.CSS_SELECTOR, "#liste > li")
    hit = reference["results"][0]
    check(hit["eg"]["name"] in first.text, f"the first item names {hit['eg']['name']}")
    euros = f"{hit['price']['daily_total_eur']:.2f}".replace(".", ",")
    check(euros in first.text and "hébergement" in first.text and "dépendance" in first.text, f"the price breakdown: {first.text}")
    check("non communiquées" in first.text, "profile 0 sees no free places")
    check("Lits de crise" not in first.text, "profile 0 sees no crisis beds")
    print(f"list: {len(ids)} offers in the API's order (total {reference['total']})")

    # 4. The map: one marker per API feature, the counts add up to the search's total (the
    #    viewport holds the whole 20 km circle).
    answer, shown = check_map_against_api()
    check(answer["total"] == reference["total"], f"the map counts {answer['total']} offers, the list {reference['total']}")
    check(all("unknown" in m["classes"] for m in shown if m["kind"] == "point"), "profile 0: points coloured 'not known'")
    print(f"map: {len(shown)} markers holding {answer['total']} offers")
    axe("Bordeaux results")
    shot("map-bordeaux-gir2-80eur")

    # A point of the map, by keyboard: Space opens its EG's panel.
    point = next(e for e in driver.find_elements(By.CSS_SELECTOR, '#carte .leaflet-marker-icon[data-kind="point"]'))
    point_offers = point.get_attribute("data-offers").split(",")
    point.send_keys(Keys.SPACE)
    wait_for(lambda: driver.execute_script("return document.getElementById('fiche').open"), "the point's panel")
    finess = api(f"/v1/offers/{point_offers[0]}")["offer"]["eg"]["finess"]
    wait_for(lambda: driver.find_element(By.ID, "fiche-titre").text == api(f"/v1/eg/{finess}")["eg"]["name"], "the point's EG in the panel")
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait_for(lambda: not driver.execute_script("return document.getElementById('fiche').open"), "the point's panel to close")

    # 5. The detail panel of the first EG, by keyboard; Escape closes it and gives focus back.
    button = first.find_element(By.CSS_SELECTOR, "h3 button")
    button.send_keys(Keys.ENTER)
    wait_for(lambda: driver.execute_script("return document.getElementById('fiche').open"), "the detail panel")
    wait_for(lambda: driver.find_element(By.ID, "fiche-titre").text == hit["eg"]["name"], "the EG's name in the panel")
    eg = api(f"/v1/eg/{hit['eg']['finess']}")
    panel = driver.find_element(By.ID, "fiche-contenu")
    tables = panel.find_elements(By.TAG_NAME, "table")
    check(len(tables) == 2, "the panel has the tariffs and the offers")
    check(len(tables[0].find_elements(By.CSS_SELECTOR, "tbody tr")) == len(eg["tariffs"]), "one row per tariff")
    check(len(tables[1].find_elements(By.CSS_SELECTOR, "tbody tr")) == len(eg["offers"]), "one row per offer")
    axe("detail panel")
    shot("detail-panel")
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait_for(lambda: not driver.execute_script("return document.getElementById('fiche').open"), "the panel to close")
    check(driver.switch_to.active_element == button, "focus is back on the button that opened the panel")

    # 6. A shared link restores the search (a new browser, nothing in its storage).
    shared = driver.current_url
    driver.quit()
    driver = start_browser()
    wait = WebDriverWait(driver, WAIT_S)
    driver.get(shared)
    wait_for(ready, "the shared link")
    check(driver.find_element(By.ID, "lieu").get_attribute("value") == "Bordeaux (33)", "the shared link shows the commune")
    check(Select(driver.find_element(By.ID, "gir")).first_selected_option.get_attribute("value") == "2", "the shared link sets GIR 2")
    check(driver.find_element(By.ID, "max_price").get_attribute("value") == "80", "the shared link sets 80 EUR")
    check(page_ids() == ids, "the shared link lists the same offers in the same order")
    check_map_against_api()
    print("shared link: same search restored")

    # 7. Keyboard only: the type-ahead by arrows and Enter, the search by Enter.
    driver.get(BASE + "/")
    wait_for(ready, "a fresh page")
    lieu = driver.find_element(By.ID, "lieu")
    lieu.send_keys("Pessac")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#lieu-options li"), "the Pessac suggestions")
    lieu.send_keys(Keys.ARROW_DOWN)
    check(lieu.get_attribute("aria-activedescendant") == "lieu-option-0", "ArrowDown moves to the first suggestion")
    lieu.send_keys(Keys.ENTER)
    check(driver.find_element(By.ID, "commune").get_attribute("value") == "33318", "Enter picks Pessac (33318)")
    lieu.send_keys(Keys.ENTER)
    wait_for(lambda: "commune=33318" in driver.current_url, "the keyboard search in the URL")
    wait_for(ready, "the keyboard search")
    check(page_ids() == [h["id"] for h in api("/v1/offers", api_query_of_page() + [("limit", "50"), ("exact_total", "true")])["results"]], "keyboard search: same list as the API")
    print("keyboard: type-ahead and search")

    # 8. A professional key: free places and crisis beds, markers coloured by free places.
    driver.get(shared)
    wait_for(ready, "the shared link again")
    driver.find_element(By.CSS_SELECTOR, "details.access summary").click()
    key_input = driver.find_element(By.ID, "cle")
    key_input.send_keys(KEY)
    key_input.send_keys(Keys.TAB)
    wait_for(lambda: "Lits de crise" in driver.find_element(By.ID, "liste").text, "the crisis beds of profile 1")
    wait_for(ready, "the map for profile 1")
    reference = api("/v1/offers", api_query_of_page() + [("limit", "50"), ("exact_total", "true")], key=KEY)
    check(page_ids() == [h["id"] for h in reference["results"]], "profile 1: same list as the API")
    answer, shown = check_map_against_api(key=KEY)
    by_offers = {tuple(f["properties"]["offers"]): f["properties"].get("available") for f in answer["features"] if not f["properties"]["cluster"]}
    for marker in shown:
        if marker["kind"] != "point":
            continue
        available = by_offers[tuple(marker["offers"])]
        colour = "free" if available and available > 0 else "full"
        check(colour in marker["classes"], f"a point with {available} free places is coloured {marker['classes']}")
    axe("profile 1 results")
    shot("map-bordeaux-profile1")

    # 9. Live: a capacity written through the API shows on the page without a reload.
    target = reference["results"][0]
    offer = api(f"/v1/offers/{target['id']}", key=KEY)
    location = offer["locations"][0]
    record = next(
        c for c in location["capacities"]
        if c["status"]["code"] == "02" and c["temporality"]["code"] == "01" and c["crisis_type"] is None
    )
    new_count = (target["capacity"]["available"] or 0) + 7
    line = {
        "location": location["id"],
        "status": "02",
        "temporality": "01",
        "gender": record["gender"] and record["gender"]["code"],
        "temporary_assignment": record["temporary_assignment"] and record["temporary_assignment"]["code"],
        "capacity_type": record["capacity_type"]["code"],
        "source_type": "02",
        "count": new_count,
        "updated_at": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    outcome = api("/v1/capacity", key=KEY, method="POST", body=(json.dumps({k: v for k, v in line.items() if v is not None}) + "\n").encode())
    check('"applied"' in outcome, f"the capacity write was applied: {outcome}")
    expected_total = api("/v1/offers", [(n, v) for n, v in api_query_of_page() if n != "offset"] + [("limit", "1"), ("exact_total", "true")], key=KEY)["results"][0]["capacity"]["available"]
    check(expected_total == new_count, "the API answers the new count at once")
    wait_for(
        lambda: f"{new_count} places libres" in driver.find_element(By.CSS_SELECTOR, f'#liste > li[data-id="{target["id"]}"]').text,
        "the new free places on the page",
    )
    check("mises à jour" in driver.find_element(By.ID, "direct-statut").text, "the update is announced")
    print(f"live: {new_count} free places shown without a reload")
    shot("live-update")

    # 10. A bad parameter in a shared link: the API's error, naming the field, on the page.
    driver.get(BASE + "/?commune=33063&radius_km=20&gir=9")
    wait_for(lambda: driver.find_element(By.ID, "erreur").text, "the error message")
    check("GIR" in driver.find_element(By.ID, "erreur").text, f"the error names the GIR field: {driver.find_element(By.ID, 'erreur').text}")
    axe("error message")

    # 11. A narrow screen (a phone, 390 px): one column, nothing lost, still no violation
    #     (WCAG 1.4.10 reflow), the list still the API's.
    driver.set_window_size(390, 844)
    driver.get(shared)
    wait_for(ready, "the shared link on a narrow screen")
    check(page_ids() == ids, "narrow screen: same list")
    width = driver.execute_script("return document.documentElement.scrollWidth")
    check(width <= 390, f"no horizontal scrolling on a narrow screen ({width} px)")
    axe("narrow screen")
    shot("narrow-screen")
    driver.set_window_size(1400, 900)

    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE" and "gir" not in entry["message"]]
    check(not severe, f"no error in the browser console: {severe}")
    print(f"map page: {checks} checks passed")
finally:
    driver.quit()
