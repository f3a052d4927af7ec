//! Small self-contained helpers: dates, geodesy, a seeded generator, text folding.

pub mod fold;
pub mod geo;
pub mod rng;
pub mod time;
