// Regenerates src/http/page/basemap.geojson, the map page's offline background: France (every
// part, the overseas départements included) and its European neighbours, from Natural Earth's
// 1:50m countries (public domain) as packaged by world-atlas (ISC). Run from this directory:
//   npm ci && node extract.mjs > ../../src/http/page/basemap.geojson
import { readFileSync } from "node:fs";
import { feature } from "topojson-client";

const atlas = JSON.parse(readFileSync("node_modules/world-atlas/countries-50m.json", "utf8"));
// ISO 3166-1 numeric: France, then the neighbours drawn around metropolitan France.
const FRANCE = "250";
const NEIGHBOURS = new Set(["056", "442", "276", "756", "380", "724", "020", "492", "826", "372", "528", "620", "438", "674", "040", "208", "470", "012", "788", "504", "705", "191", "203", "616"]);
const round = (value) => Math.round(value * 1000) / 1000;
const roundCoordinates = (coordinates) =>
  typeof coordinates[0] === "number" ? [round(coordinates[0]), round(coordinates[1])] : coordinates.map(roundCoordinates);
const countries = feature(atlas, atlas.objects.countries).features
  .filter((country) => country.id === FRANCE || NEIGHBOURS.has(country.id))
  .map((country) => ({
    type: "Feature",
    id: country.id,
    properties: { name: country.properties.name, france: country.id === FRANCE },
    geometry: { type: country.geometry.type, coordinates: roundCoordinates(country.geometry.coordinates) },
  }));
process.stdout.write(JSON.stringify({ type: "FeatureCollection", features: countries }) + "\n");
