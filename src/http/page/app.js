// The ror-search map page: a search form, a Leaflet map of /v1/clusters, the result list of
// /v1/offers in the API's order, a detail panel per EG (/v1/eg/{finess}), following live
// capacities by polling /v1/version. The page's query string is the API's: a shared link
// restores the search. No framework, no build step; every text goes through textContent.
"use strict";

(() => {
  /** Results asked per page of the list. */
  const PAGE_SIZE = 50;
  /** How often the live-capacity version is polled, milliseconds. */
  const LIVE_POLL_MS = 5000;
  /** The form's fields that are API parameters, in the order they appear in a link. */
  const FIELDS = ["commune", "radius_km", "q", "category", "offer_type", "reception", "age", "gir", "max_price", "price_basis", "min_available", "sort"];
  /** Metropolitan France, for the first view. */
  const FRANCE_VIEW = { center: [46.6, 2.4], zoom: 5 };

  const $ = (id) => document.getElementById(id);
  const euros = new Intl.NumberFormat("fr-FR", { style: "currency", currency: "EUR" });
  const decimal = new Intl.NumberFormat("fr-FR", { maximumFractionDigits: 1 });
  const whole = new Intl.NumberFormat("fr-FR");
  const relative = new Intl.RelativeTimeFormat("fr", { numeric: "auto" });
  const dateTime = new Intl.DateTimeFormat("fr-FR", { dateStyle: "medium", timeStyle: "short" });

  /** Creates an element: `el("p", { class: "x" }, "text", child)`. */
  function el(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") element.className = value;
      else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
      else element.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  // ---- the API -------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message, parameter) {
      super(message);
      this.status = status;
      this.parameter = parameter;
    }
  }

  let accessKey = sessionStorage.getItem("ror-access-key") || "";

  async function api(path, params, signal) {
    const query = params && params.toString();
    const headers = { Accept: "application/json" };
    if (accessKey) headers["X-API-Key"] = accessKey;
    const response = await fetch(query ? `${path}?${query}` : path, { headers, signal });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = body && body.error;
      throw new ApiError(response.status, (error && error.message) || `erreur ${response.status}`, error && error.parameter);
    }
    return body;
  }

  function showError(error) {
    if (error && error.name === "AbortError") return;
    let text = error instanceof ApiError ? error.message : "Le service ne répond pas. Réessayez dans un instant.";
    if (error instanceof ApiError && error.parameter) text = `${labelOf(error.parameter)} : ${error.message}`;
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      text = `Accès refusé : ${error.message}. Saisissez une clé d'accès valide dans « Accès professionnel ».`;
      document.querySelector("details.access").open = true;
    }
    $("erreur").textContent = text;
  }

  function labelOf(parameter) {
    const control = $(parameter === "commune" ? "lieu" : parameter);
    const label = control && document.querySelector(`label[for="${control.id}"]`);
    return label ? label.textContent.trim() : parameter;
  }

  // ---- formatting ----------------------------------------------------------------------------

  function distance(metres) {
    if (metres === null || metres === undefined) return null;
    return metres < 1000 ? `${Math.round(metres)} m` : `${decimal.format(metres / 1000)} km`;
  }

  function age(timestamp) {
    if (!timestamp) return null;
    const seconds = (Date.parse(timestamp) - Date.now()) / 1000;
    const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
    }
    return "à l'instant";
  }

  function when(timestamp) {
    return timestamp ? dateTime.format(new Date(timestamp)) : "";
  }

  function places(count) {
    return count === 1 ? "1 place libre" : `${count} places libres`;
  }

  function address(eg) {
    const parts = [...((eg.address && eg.address.lines) || [])];
    const city = eg.address && [eg.address.postal_code, eg.address.city].filter(Boolean).join(" ");
    if (city) parts.push(city);
    return parts.join(", ");
  }

  function priceLine(price) {
    if (!price) return el("p", { class: "price muted" }, "Tarif non communiqué");
    const band = price.dependance_band ? ` (${price.dependance_band.label})` : "";
    const basis = price.basis === "out_of_pocket" ? "reste à charge" : "tarif";
    return el(
      "p",
      { class: "price" },
      el("strong", {}, `${euros.format(price.daily_total_eur)} par jour`),
      ` (${basis}) = ${euros.format(price.hebergement_eur)} hébergement + ${euros.format(price.dependance_eur)} dépendance${band}`,
    );
  }

  function placesLine(capacity) {
    if (!capacity || capacity.available === null || capacity.available === undefined) {
      return el("p", { class: "places muted" }, "Places libres : non communiquées");
    }
    const updated = capacity.available_updated_at;
    return el(
      "p",
      { class: `places ${capacity.available > 0 ? "free" : "full"}`, "data-available": capacity.available },
      capacity.available > 0 ? places(capacity.available) : "Complet : aucune place libre",
      updated ? el("span", { class: "muted", title: when(updated) }, ` · mis à jour ${age(updated)}`) : null,
    );
  }

  function crisisLine(capacity) {
    if (!capacity || (capacity.crisis_t0 === null && capacity.crisis_t60 === null)) return null;
    if (capacity.crisis_t0 === undefined && capacity.crisis_t60 === undefined) return null;
    const count = (value) => (value === null || value === undefined ? "non communiqué" : value);
    return el("p", { class: "crisis" }, `Lits de crise : ${count(capacity.crisis_t0)} immédiats (T0), ${count(capacity.crisis_t60)} sous une heure (T60)`);
  }

  // ---- the form and the URL ------------------------------------------------------------------

  const form = $("recherche");

  /** The search of the form, as API parameters (empty fields left out). */
  function formParams() {
    const params = new URLSearchParams();
    const data = new FormData(form);
    for (const name of FIELDS) {
      const value = (data.get(name) || "").toString().trim();
      if (!value) continue;
      if (name === "radius_km" && !data.get("commune")) continue;
      if (name === "price_basis" && (value === "gross" || !data.get("max_price"))) continue;
      params.set(name, value);
    }
    return params;
  }

  /** Fills the form from a query string (a shared link). */
  function fillForm(params) {
    form.reset();
    for (const name of FIELDS) {
      const value = params.get(name);
      if (value === null) continue;
      if (name === "price_basis") {
        for (const radio of form.querySelectorAll('input[name="price_basis"]')) radio.checked = radio.value === value;
      } else if (name === "min_available") {
        $("min_available").checked = Number(value) > 0;
      } else {
        const control = $(name);
        if (control.tagName === "SELECT" && ![...control.options].some((option) => option.value === value)) {
          control.append(el("option", { value }, value));
        }
        control.value = value;
      }
    }
    $("lieu").value = params.get("commune") ? params.get("lieu") || params.get("commune") : "";
  }

  /** The page's own query string: the API parameters, plus the commune's name to show. */
  function pageQuery(params) {
    const query = new URLSearchParams(params);
    if (params.get("commune") && $("lieu").value) query.set("lieu", $("lieu").value);
    return query.toString();
  }

  // ---- the commune type-ahead (WAI-ARIA combobox with a listbox popup) ------------------------

  const lieu = $("lieu");
  const options = $("lieu-options");
  let suggestions = [];
  let active = -1;
  let suggestTimer = 0;
  let suggestAbort = null;

  function communeLabel(commune) {
    return `${commune.name} (${commune.departement})`;
  }

  function closeOptions() {
    options.hidden = true;
    lieu.setAttribute("aria-expanded", "false");
    lieu.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function setActive(index) {
    active = index;
    [...options.children].forEach((option, at) => option.setAttribute("aria-selected", at === index ? "true" : "false"));
    if (index >= 0) {
      lieu.setAttribute("aria-activedescendant", `lieu-option-${index}`);
      options.children[index].scrollIntoView({ block: "nearest" });
    } else {
      lieu.removeAttribute("aria-activedescendant");
    }
  }

  function pick(index) {
    const commune = suggestions[index];
    if (!commune) return;
    lieu.value = communeLabel(commune);
    $("commune").value = commune.code;
    closeOptions();
  }

  async function suggest() {
    const text = lieu.value.trim();
    if (suggestAbort) suggestAbort.abort();
    if (text.length < 2) {
      suggestions = [];
      closeOptions();
      return;
    }
    suggestAbort = new AbortController();
    try {
      const answer = await api("/v1/communes", new URLSearchParams({ q: text, limit: "8" }), suggestAbort.signal);
      suggestions = answer.communes;
    } catch (error) {
      if (error.name !== "AbortError") showError(error);
      return;
    }
    options.replaceChildren(
      ...suggestions.map((commune, index) =>
        el(
          "li",
          { id: `lieu-option-${index}`, role: "option", "aria-selected": "false", "data-code": commune.code, onmousedown: (event) => event.preventDefault(), onclick: () => pick(index) },
          communeLabel(commune),
          el("span", { class: "detail" }, ` · ${(commune.postal_codes || []).slice(0, 3).join(", ")}`),
        ),
      ),
    );
    if (suggestions.length) {
      options.hidden = false;
      lieu.setAttribute("aria-expanded", "true");
      setActive(-1);
    } else {
      closeOptions();
    }
  }

  lieu.addEventListener("input", () => {
    $("commune").value = "";
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(suggest, 120);
  });
  lieu.addEventListener("keydown", (event) => {
    const open = !options.hidden && suggestions.length > 0;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (open) setActive((active + 1) % suggestions.length);
      else suggest();
    } else if (event.key === "ArrowUp" && open) {
      event.preventDefault();
      setActive(active <= 0 ? suggestions.length - 1 : active - 1);
    } else if (event.key === "Enter" && open && active >= 0) {
      event.preventDefault();
      pick(active);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      closeOptions();
    }
  });
  lieu.addEventListener("blur", () => setTimeout(closeOptions, 100));

  /** A typed commune that was not picked: the best match of the type-ahead. */
  async function resolveCommune() {
    const text = lieu.value.trim();
    if (!text || $("commune").value) return;
    const answer = await api("/v1/communes", new URLSearchParams({ q: text.replace(/\s*\(\w+\)$/, ""), limit: "1" }));
    const commune = answer.communes[0];
    if (!commune) throw new ApiError(400, `aucune commune ne commence par « ${text} »`, "commune");
    lieu.value = communeLabel(commune);
    $("commune").value = commune.code;
  }

  // ---- the map -------------------------------------------------------------------------------

  const map = L.map("carte", { minZoom: 2, maxZoom: 18, zoomControl: true, keyboard: true, worldCopyJump: true }).setView(FRANCE_VIEW.center, FRANCE_VIEW.zoom);
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  const basemapUrl = document.querySelector('meta[name="ror-basemap-url"]').content;
  const basemapAttribution = document.querySelector('meta[name="ror-basemap-attribution"]').content;
  if (basemapUrl) {
    L.tileLayer(basemapUrl, { attribution: basemapAttribution, maxZoom: 19 }).addTo(map);
  } else {
    fetch("/assets/basemap.geojson")
      .then((response) => response.json())
      .then((outline) => {
        L.geoJSON(outline, {
          interactive: false,
          style: (feature) => ({ color: "#8294a8", weight: 1, fillColor: feature.properties.france ? "#f6f3ec" : "#e4e4e0", fillOpacity: 1 }),
        }).addTo(map);
        map.attributionControl.addAttribution("Fond : Natural Earth");
      })
      .catch(() => {});
  }
  const markers = L.layerGroup().addTo(map);
  let searchCircle = null;
  let clustersAbort = null;
  let clustersTimer = 0;

  /** The viewport as a `bbox` parameter, clamped to what the API accepts. */
  function viewportBox() {
    const bounds = map.getBounds();
    const clamp = (value, low, high) => Math.min(high, Math.max(low, value));
    let west = bounds.getWest();
    let east = bounds.getEast();
    if (east - west >= 360) {
      west = -180;
      east = 180;
    } else {
      west = ((((west + 180) % 360) + 360) % 360) - 180;
      east = ((((east + 180) % 360) + 360) % 360) - 180;
    }
    const south = clamp(bounds.getSouth(), -85, 85);
    const north = clamp(bounds.getNorth(), -85, 85);
    return [west, south, east, north].map((value) => value.toFixed(6)).join(",");
  }

  /**
   * The `zoom` asked of /v1/clusters: one below the map's, so that a cell is 64 pixels on
   * screen (the API's cells are 32 pixels of its zoom) and cluster circles do not overlap.
   */
  function clusterZoom() {
    return Math.max(0, Math.round(map.getZoom()) - 1);
  }

  /** The map zoom at which a cluster of `expansion_zoom` (an API zoom) splits. */
  function splitZoom(expansionZoom) {
    return Math.min(expansionZoom + 1, map.getMaxZoom());
  }

  function freeClass(available) {
    if (available === undefined || available === null) return "unknown";
    return available > 0 ? "free" : "full";
  }

  /** Enter or Space on a focused marker clicks it, as on any button. */
  function withKeys(marker) {
    marker.on("add", () => {
      marker.getElement().addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          marker.fire("click");
        }
      });
    });
    return marker;
  }

  function clusterMarker(feature) {
    const [lon, lat] = feature.geometry.coordinates;
    const p = feature.properties;
    const size = p.point_count < 10 ? 26 : p.point_count < 100 ? 32 : p.point_count < 1000 ? 40 : 48;
    // The accessible name starts with the visible text (WCAG 2.5.3).
    const exact = p.point_count_abbreviated === String(p.point_count) ? "" : ` (${p.point_count})`;
    const label = `${p.point_count_abbreviated}${exact} offres regroupées${p.available !== undefined ? `, ${places(p.available)}` : ""} : zoomer`;
    const marker = L.marker([lat, lon], {
      icon: L.divIcon({ className: `marker-cluster${p.available > 0 ? " has-free" : ""}`, html: "", iconSize: [size, size] }),
      title: label,
      keyboard: true,
    });
    marker.on("add", () => {
      const element = marker.getElement();
      element.textContent = p.point_count_abbreviated;
      element.setAttribute("aria-label", label);
      element.dataset.count = p.point_count;
      element.dataset.kind = "cluster";
    });
    marker.on("click", () => map.setView([lat, lon], splitZoom(p.expansion_zoom)));
    return withKeys(marker);
  }

  function pointMarker(feature) {
    const [lon, lat] = feature.geometry.coordinates;
    const p = feature.properties;
    const state = freeClass(p.available);
    const text = p.point_count === 1 ? "1 offre" : `${p.point_count} offres`;
    const label = `${text} à cet endroit${p.available !== undefined ? `, ${places(p.available)}` : ""} : voir le détail`;
    const size = p.point_count > 1 ? 22 : 16;
    const marker = L.marker([lat, lon], {
      icon: L.divIcon({ className: `marker-point ${state}`, html: "", iconSize: [size, size] }),
      title: label,
      keyboard: true,
    });
    marker.on("add", () => {
      const element = marker.getElement();
      if (p.point_count > 1) element.textContent = p.point_count;
      element.setAttribute("aria-label", label);
      element.dataset.count = p.point_count;
      element.dataset.kind = "point";
      element.dataset.offers = p.offers.join(",");
    });
    marker.on("click", () => openOffers(p.offers));
    return withKeys(marker);
  }

  async function refreshClusters() {
    $("carte").dataset.ready = "false";
    if (clustersAbort) clustersAbort.abort();
    clustersAbort = new AbortController();
    const params = new URLSearchParams(current.params);
    params.delete("sort");
    params.set("bbox", viewportBox());
    params.set("zoom", String(clusterZoom()));
    try {
      const answer = await api("/v1/clusters", params, clustersAbort.signal);
      markers.clearLayers();
      for (const feature of answer.features) markers.addLayer(feature.properties.cluster ? clusterMarker(feature) : pointMarker(feature));
      $("carte").dataset.total = answer.total;
      $("carte").dataset.bbox = params.get("bbox");
      $("carte").dataset.zoom = answer.zoom;
      $("carte").dataset.ready = "true";
    } catch (error) {
      if (error.name === "AbortError") return;
      showError(error);
      $("carte").dataset.ready = "true";
    }
  }

  map.on("moveend", () => {
    clearTimeout(clustersTimer);
    $("carte").dataset.ready = "false";
    clustersTimer = setTimeout(refreshClusters, 150);
  });

  // ---- the search ----------------------------------------------------------------------------

  /** The search shown: its parameters, the results loaded, the live version they reflect. */
  const current = { params: new URLSearchParams(), results: [], total: 0, version: null };
  let searchAbort = null;

  function resultItem(hit, rank) {
    const eg = hit.eg;
    const facts = [eg.category && eg.category.label, hit.name, address(eg), hit.distance_m !== null && hit.distance_m !== undefined ? `à ${distance(hit.distance_m)}` : null].filter(Boolean);
    return el(
      "li",
      { class: "result", "data-id": hit.id, "data-finess": eg.finess },
      el("h3", {}, el("span", { class: "rank" }, `${rank}. `), el("button", { type: "button", onclick: () => openEg(eg.finess) }, eg.name)),
      el("p", { class: "muted" }, facts.join(" · ")),
      priceLine(hit.price),
      placesLine(hit.capacity),
      crisisLine(hit.capacity),
    );
  }

  function renderResults() {
    const count = current.total;
    $("compte").textContent = count === 0 ? "Aucune offre ne correspond à cette recherche." : `${whole.format(count)} offre${count > 1 ? "s" : ""} trouvée${count > 1 ? "s" : ""}`;
    $("compte").dataset.total = count;
    $("liste").replaceChildren(...current.results.map((hit, index) => resultItem(hit, index + 1)));
    $("plus").hidden = current.results.length >= count;
  }

  /** Loads the results `offset..offset+limit` of the current search. */
  async function loadResults(offset, limit) {
    if (searchAbort) searchAbort.abort();
    searchAbort = new AbortController();
    const params = new URLSearchParams(current.params);
    params.set("limit", String(limit));
    params.set("offset", String(offset));
    params.set("exact_total", "true");
    const answer = await api("/v1/offers", params, searchAbort.signal);
    return answer;
  }

  /**
   * Runs the search of `params`: the list from its start, the map fitted to it. While it runs,
   * `body[data-ready]` is "false"; `#carte[data-ready]` likewise while the map's clusters load
   * (what a test waits on).
   */
  async function search(params, { fit = true } = {}) {
    document.body.dataset.ready = "false";
    $("erreur").textContent = "";
    current.params = params;
    $("liste").setAttribute("aria-busy", "true");
    try {
      const answer = await loadResults(0, PAGE_SIZE);
      current.results = answer.results;
      current.total = answer.total;
      if (answer.centre && answer.centre.commune && params.get("commune")) {
        lieu.value = `${answer.centre.commune.name} (${answer.centre.commune.departement})`;
      }
      renderResults();
      if (fit) fitMap(answer);
      else refreshClusters();
    } catch (error) {
      showError(error);
      $("carte").dataset.ready = "true";
    } finally {
      $("liste").removeAttribute("aria-busy");
      document.body.dataset.ready = "true";
    }
  }

  function fitMap(answer) {
    if (searchCircle) {
      searchCircle.remove();
      searchCircle = null;
    }
    const radius = Number(current.params.get("radius_km"));
    if (answer.centre && radius > 0) {
      searchCircle = L.circle([answer.centre.lat, answer.centre.lon], { radius: radius * 1000, interactive: false, color: "#0b5394", weight: 1, fillOpacity: 0.04 }).addTo(map);
      map.fitBounds(searchCircle.getBounds(), { animate: false });
    } else if (answer.centre) {
      map.setView([answer.centre.lat, answer.centre.lon], 11, { animate: false });
    } else {
      map.setView(FRANCE_VIEW.center, FRANCE_VIEW.zoom, { animate: false });
    }
    // setView/fitBounds to the same view fires no moveend: ask for the clusters anyway.
    $("carte").dataset.ready = "false";
    clearTimeout(clustersTimer);
    clustersTimer = setTimeout(refreshClusters, 0);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    document.body.dataset.ready = "false";
    $("erreur").textContent = "";
    try {
      await resolveCommune();
    } catch (error) {
      showError(error);
      document.body.dataset.ready = "true";
      return;
    }
    const params = formParams();
    history.pushState(null, "", `${location.pathname}?${pageQuery(params)}`);
    await search(params);
    $("resultats").focus();
  });

  form.addEventListener("reset", () => {
    setTimeout(() => {
      $("commune").value = "";
      $("erreur").textContent = "";
    }, 0);
  });

  $("plus").addEventListener("click", async () => {
    try {
      const answer = await loadResults(current.results.length, PAGE_SIZE);
      const first = current.results.length;
      current.results = current.results.concat(answer.results);
      current.total = answer.total;
      renderResults();
      const next = $("liste").children[first];
      if (next) next.querySelector("button").focus();
    } catch (error) {
      showError(error);
    }
  });

  window.addEventListener("popstate", () => {
    const params = new URLSearchParams(location.search);
    fillForm(params);
    params.delete("lieu");
    search(params);
  });

  // ---- the detail panel ----------------------------------------------------------------------

  const dialog = $("fiche");
  let opener = null;
  $("fiche-fermer").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    if (opener && document.contains(opener)) opener.focus();
  });

  function showDialog(title, ...content) {
    $("fiche-titre").textContent = title;
    $("fiche-contenu").replaceChildren(...content);
    if (!dialog.open) {
      opener = document.activeElement;
      dialog.showModal();
    }
  }

  function table(caption, headings, rows) {
    return el(
      "table",
      {},
      el("caption", { class: "visually-hidden" }, caption),
      el("thead", {}, el("tr", {}, headings.map((heading) => el("th", { scope: "col" }, heading)))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((cell) => (cell instanceof Node ? cell : el("td", typeof cell === "number" ? { class: "number" } : {}, cell ?? "")))))),
    );
  }

  function money(cents) {
    return el("td", { class: "number" }, euros.format(cents / 100));
  }

  async function openEg(finess) {
    try {
      const answer = await api(`/v1/eg/${encodeURIComponent(finess)}`);
      const eg = answer.eg;
      const facts = el(
        "dl",
        {},
        el("dt", {}, "Catégorie"),
        el("dd", {}, eg.category ? eg.category.label : "non communiquée"),
        el("dt", {}, "Adresse"),
        el("dd", {}, address(eg) || "non communiquée"),
        el("dt", {}, "FINESS"),
        el("dd", {}, eg.finess),
        el("dt", {}, "Aide sociale"),
        el("dd", {}, eg.aide_sociale === true ? "habilité à l'aide sociale" : eg.aide_sociale === false ? "non habilité" : "non communiqué"),
      );
      const tariffs = answer.tariffs.length
        ? table(
            "Tarifs journaliers",
            ["Tarif", "Précision", "Montant"],
            answer.tariffs.map((tariff) => [
              tariff.price_type ? tariff.price_type.label : "",
              [tariff.dependency_level, tariff.residential_type, tariff.welcome_type].filter(Boolean).map((code) => code.label).join(", "),
              money(tariff.amount_cents),
            ]),
          )
        : el("p", { class: "muted" }, "Aucun tarif publié.");
      const offers = table(
        "Offres",
        ["Offre", "Accueil", "Places installées", "Places libres", "Lits de crise T0 / T60"],
        answer.offers.map((offer) => {
          const capacity = offer.capacity || {};
          const shown = (value) => (value === null || value === undefined ? "non communiqué" : value);
          return [
            `${offer.name} (${offer.offer_type ? offer.offer_type.label : ""})`,
            [offer.care_mode && offer.care_mode.label, offer.reception && offer.reception.label].filter(Boolean).join(", "),
            shown(capacity.installed),
            capacity.available === null || capacity.available === undefined
              ? "non communiqué"
              : `${capacity.available}${capacity.available_updated_at ? ` (${age(capacity.available_updated_at)})` : ""}`,
            capacity.crisis_t0 === undefined || (capacity.crisis_t0 === null && capacity.crisis_t60 === null) ? "non communiqué" : `${shown(capacity.crisis_t0)} / ${shown(capacity.crisis_t60)}`,
          ];
        }),
      );
      showDialog(eg.name, facts, el("h3", {}, "Tarifs"), tariffs, el("h3", {}, "Offres et capacités"), offers);
    } catch (error) {
      showError(error);
    }
  }

  /** A map point: its EG's panel, or the list of the EGs standing there. */
  async function openOffers(ids) {
    try {
      const hits = await Promise.all(ids.slice(0, 30).map((id) => api(`/v1/offers/${encodeURIComponent(id)}`)));
      const egs = new Map();
      for (const answer of hits) {
        const hit = answer.offer || answer;
        if (hit.eg && !egs.has(hit.eg.finess)) egs.set(hit.eg.finess, hit.eg);
      }
      if (egs.size === 1) return openEg([...egs.keys()][0]);
      showDialog(
        `${ids.length} offres à cet endroit`,
        el("ul", {}, [...egs.values()].map((eg) => el("li", {}, el("button", { type: "button", onclick: () => openEg(eg.finess) }, eg.name), ` · ${eg.category ? eg.category.label : ""}`))),
        ids.length > 30 ? el("p", { class: "muted" }, "Seules les 30 premières offres sont listées : zoomez ou précisez la recherche.") : null,
      );
    } catch (error) {
      showError(error);
    }
  }

  // ---- the access key ------------------------------------------------------------------------

  const keyInput = $("cle");
  keyInput.value = accessKey;
  keyInput.addEventListener("change", () => {
    accessKey = keyInput.value.trim();
    if (accessKey) sessionStorage.setItem("ror-access-key", accessKey);
    else sessionStorage.removeItem("ror-access-key");
    document.body.dataset.ready = "false";
    search(current.params, { fit: false });
  });

  // ---- live capacities -----------------------------------------------------------------------

  async function pollVersion() {
    if (!$("direct").checked || document.hidden) return;
    let version;
    try {
      const answer = await api("/v1/version");
      version = `${answer.snapshot}/${answer.capacity_writes}`;
    } catch {
      return;
    }
    if (current.version !== null && version !== current.version) {
      try {
        const answer = await loadResults(0, Math.max(PAGE_SIZE, current.results.length));
        current.results = answer.results;
        current.total = answer.total;
        renderResults();
        refreshClusters();
        $("direct-statut").textContent = `Places libres mises à jour à ${new Date().toLocaleTimeString("fr-FR")}.`;
      } catch (error) {
        showError(error);
        return;
      }
    }
    current.version = version;
  }
  setInterval(pollVersion, LIVE_POLL_MS);

  // ---- start ---------------------------------------------------------------------------------

  async function loadChoices() {
    try {
      const answer = await api("/v1/offers", new URLSearchParams({ facets: "true", limit: "1" }));
      for (const [name, facet] of [["category", answer.facets.category], ["offer_type", answer.facets.offer_type]]) {
        const select = $(name);
        const chosen = select.value;
        const known = new Set([...select.options].map((option) => option.value));
        for (const entry of facet) {
          if (known.has(entry.code)) {
            const option = [...select.options].find((candidate) => candidate.value === entry.code);
            option.textContent = entry.label;
          } else {
            select.append(el("option", { value: entry.code }, entry.label));
          }
        }
        select.value = chosen;
      }
    } catch (error) {
      showError(error);
    }
  }

  (async () => {
    const params = new URLSearchParams(location.search);
    await loadChoices();
    fillForm(params);
    params.delete("lieu");
    pollVersion();
    await search(params);
  })();
})();
