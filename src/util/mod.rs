//! Small self-contained helpers: dates, geodesy, a seeded generator, text folding.

pub mod fold;
pub mod geo;
pub(crate) mod hashing;
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
/// caller must not guess (export jobs); [`unique_hex`] when it cannot be read.
pub(crate) fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut buffer = vec![0u8; bytes];
    match std::fs::File::open("/dev/urandom").and_then(|mut file| file.read_exact(&mut buffer)) {
        Ok(()) => hex::encode(buffer),
        Err(_) => unique_hex(bytes),
    }
}

/// `bytes` bytes in hex, unique within the process and unlikely to repeat across processes (a
/// per-process random hash of a counter and the time), without I/O: identifiers that need not
/// be secret (a Bundle's `id`).
pub(crate) fn unique_hex(bytes: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    static STATE: std::sync::OnceLock<std::collections::hash_map::RandomState> = std::sync::OnceLock::new();
    let state = STATE.get_or_init(std::collections::hash_map::RandomState::new);
    let mut buffer = vec![0u8; bytes];
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    for (index, chunk) in buffer.chunks_mut(8).enumerate() {
        let mut hasher = state.build_hasher();
        hasher.write_u64(count);
        hasher.write_usize(index);
        hasher.write_u128(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
        );
        chunk.copy_from_slice(&hasher.finish().to_le_bytes()[..chunk.len()]);
    }
    hex::encode(buffer)
}

#[cfg(test)]
mod tests {
    #[test]
    fn unique_identifiers_do_not_repeat() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| super::unique_hex(16)).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.len() == 32));
        assert_eq!(super::random_hex(16).len(), 32);
    }

    #[test]
    fn prefixes_end_on_character_boundaries() {
        assert_eq!(super::prefix_within("abc", 10), "abc");
        assert_eq!(super::prefix_within("abc", 2), "ab");
        assert_eq!(super::prefix_within("éé", 3), "é", "never half a character");
        assert_eq!(super::prefix_within("é", 1), "");
    }
}
