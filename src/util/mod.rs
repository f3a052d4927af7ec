//! Small self-contained helpers: dates, geodesy, a seeded generator, text folding.

pub mod fold;
pub mod geo;
pub mod rng;
pub mod time;

/// An error and its sources, joined by `": "` (what `anyhow` prints with `{:#}`).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // `#[error(transparent)]` and messages that already quote their source repeat it.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
