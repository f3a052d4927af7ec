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

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character boundary.
pub(crate) fn prefix_within(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefixes_end_on_character_boundaries() {
        assert_eq!(super::prefix_within("abc", 10), "abc");
        assert_eq!(super::prefix_within("abc", 2), "ab");
        assert_eq!(super::prefix_within("éé", 3), "é", "never half a character");
        assert_eq!(super::prefix_within("é", 1), "");
    }
}
