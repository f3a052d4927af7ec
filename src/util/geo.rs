//! Geodesy on a sphere: WGS84 points, haversine distances, unit vectors.
//!
//! # Units
//! Latitudes and longitudes are WGS84 decimal degrees (`lat` in [-90, 90], `lon` in
//! [-180, 180]); distances are metres on a sphere of radius [`EARTH_RADIUS_M`] (the IUGG mean
//! radius, 6,371,008.8 m). Points on the unit sphere (`[x, y, z]`) are used by the spatial index:
//! the straight-line (chord) distance between two unit vectors grows strictly with the
//! great-circle distance, so nearest-neighbour order is the same in both, and there is no seam at
//! the antimeridian.

use serde::{Deserialize, Serialize};

/// Mean Earth radius in metres (IUGG), the sphere all distances are measured on.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A WGS84 position in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude, degrees north, in [-90, 90].
    pub lat: f64,
    /// Longitude, degrees east, in [-180, 180].
    pub lon: f64,
}

/// Why a coordinate pair is not a WGS84 position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoordinateError {
    /// The latitude is outside [-90, 90] degrees.
    #[error("latitude outside [-90, 90]")]
    LatitudeOutOfRange,
    /// The longitude is outside [-180, 180] degrees.
    #[error("longitude outside [-180, 180]")]
    LongitudeOutOfRange,
    /// The latitude or the longitude is NaN or infinite.
    #[error("coordinate is not a finite number")]
    NotFinite,
}

impl GeoPoint {
    /// A checked position.
    ///
    /// # Example
    /// ```
    /// use ror_search::util::geo::GeoPoint;
    /// let orleans = GeoPoint::new(47.834781, 1.92204).unwrap();
    /// assert_eq!(orleans.lat, 47.834781);
    /// assert!(GeoPoint::new(91.0, 0.0).is_err());
    /// ```
    pub fn new(lat: f64, lon: f64) -> Result<Self, CoordinateError> {
        if !lat.is_finite() || !lon.is_finite() {
            return Err(CoordinateError::NotFinite);
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(CoordinateError::LatitudeOutOfRange);
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(CoordinateError::LongitudeOutOfRange);
        }
        Ok(Self { lat, lon })
    }

    /// The point as a unit vector `[x, y, z]` (x towards lon 0 on the equator, z towards the
    /// north pole).
    pub(crate) fn unit_vector(self) -> [f64; 3] {
        let (sin_lat, cos_lat) = self.lat.to_radians().sin_cos();
        let (sin_lon, cos_lon) = self.lon.to_radians().sin_cos();
        [cos_lat * cos_lon, cos_lat * sin_lon, sin_lat]
    }
}

/// Great-circle distance in metres between two positions (haversine formula).
///
/// This is the one distance function of the engine: results, filters and the brute-force
/// reference all use it, so equal inputs give bit-identical distances.
///
/// # Example
/// ```
/// use ror_search::util::geo::{haversine_m, GeoPoint};
/// let paris = GeoPoint { lat: 48.8566, lon: 2.3522 };
/// let lyon = GeoPoint { lat: 45.7640, lon: 4.8357 };
/// let distance_km = haversine_m(paris, lyon) / 1000.0;
/// assert!((distance_km - 391.5).abs() < 1.0);
/// ```
pub fn haversine_m(a: GeoPoint, b: GeoPoint) -> f64 {
    let lat_a = a.lat.to_radians();
    let lat_b = b.lat.to_radians();
    let half_delta_lat = (b.lat - a.lat).to_radians() / 2.0;
    let half_delta_lon = (b.lon - a.lon).to_radians() / 2.0;
    let h = half_delta_lat.sin().powi(2) + lat_a.cos() * lat_b.cos() * half_delta_lon.sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// The chord length on the unit sphere that corresponds to a great-circle distance in metres.
/// Distances beyond half the circumference map to the diameter (2).
pub(crate) fn chord_for_distance_m(distance_m: f64) -> f64 {
    let angle = (distance_m / EARTH_RADIUS_M).clamp(0.0, std::f64::consts::PI);
    2.0 * (angle / 2.0).sin()
}

/// The great-circle distance in metres that corresponds to a chord on the unit sphere.
pub(crate) fn distance_m_for_chord(chord: f64) -> f64 {
    2.0 * EARTH_RADIUS_M * (chord / 2.0).clamp(0.0, 1.0).asin()
}

/// Squared straight-line distance between two unit vectors.
pub(crate) fn chord_squared(a: [f64; 3], b: [f64; 3]) -> f64 {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    let dz = a[2] - b[2];
    dx * dx + dy * dy + dz * dz
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_known_distances() {
        let a = GeoPoint { lat: 0.0, lon: 0.0 };
        let b = GeoPoint { lat: 0.0, lon: 1.0 };
        let one_degree_m = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
        assert!((haversine_m(a, b) - one_degree_m).abs() < 1e-6);
        // Across the antimeridian.
        let east = GeoPoint { lat: -17.0, lon: 179.5 };
        let west = GeoPoint { lat: -17.0, lon: -179.5 };
        assert!(haversine_m(east, west) < 107_000.0);
        assert_eq!(haversine_m(east, east), 0.0);
    }

    #[test]
    fn chord_and_distance_agree() {
        for distance_m in [0.0, 1.0, 1_000.0, 30_000.0, 1_000_000.0, 10_000_000.0] {
            let back = distance_m_for_chord(chord_for_distance_m(distance_m));
            assert!((back - distance_m).abs() < 1e-3, "{distance_m} -> {back}");
        }
        let paris = GeoPoint { lat: 48.8566, lon: 2.3522 };
        let lyon = GeoPoint { lat: 45.7640, lon: 4.8357 };
        let chord = chord_squared(paris.unit_vector(), lyon.unit_vector()).sqrt();
        assert!((distance_m_for_chord(chord) - haversine_m(paris, lyon)).abs() < 0.01);
    }

    #[test]
    fn rejects_out_of_range_coordinates() {
        assert_eq!(GeoPoint::new(-90.5, 0.0), Err(CoordinateError::LatitudeOutOfRange));
        assert_eq!(GeoPoint::new(0.0, 180.1), Err(CoordinateError::LongitudeOutOfRange));
        assert_eq!(GeoPoint::new(f64::NAN, 0.0), Err(CoordinateError::NotFinite));
    }
}
