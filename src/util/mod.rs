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

/// `bytes` random bytes in hex, from the operating system (`/dev/urandom`), for identifiers a
/// caller must not guess (export jobs); a per-process random hash when it cannot be read.
pub(crate) fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut buffer = vec![0u8; bytes];
    if std::fs::File::open("/dev/urandom").and_then(|mut file| file.read_exact(&mut buffer)).is_err() {
        use std::hash::{BuildHasher, Hasher};
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let state = std::collections::hash_map::RandomState::new();
        for chunk in buffer.chunks_mut(8) {
            let mut hasher = state.build_hasher();
            hasher.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            hasher.write_u128(
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
            );
            chunk.copy_from_slice(&hasher.finish().to_le_bytes()[..chunk.len()]);
        }
    }
    hex::encode(buffer)
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
