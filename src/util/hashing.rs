//! SHA-256 of what goes through a reader or a writer, with its byte count: a file hashed as it
//! is written or read, without a second pass.

use std::io::{Read, Write};

use sha2::Digest;

/// Counts and hashes the bytes written through it.
pub(crate) struct HashingWriter<W: Write> {
    inner: W,
    hasher: sha2::Sha256,
    /// Bytes written so far.
    pub(crate) bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> HashingWriter<W> {
        HashingWriter { inner, hasher: sha2::Sha256::new(), bytes: 0 }
    }

    /// The writer, the byte count and the SHA-256 (hex).
    pub(crate) fn finish(self) -> (W, u64, String) {
        (self.inner, self.bytes, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Counts and hashes the bytes read through it.
pub(crate) struct HashingReader<R: Read> {
    inner: R,
    hasher: sha2::Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> HashingReader<R> {
        HashingReader { inner, hasher: sha2::Sha256::new(), bytes: 0 }
    }

    /// Reads what is left, then gives the byte count and the SHA-256 (hex) of everything read.
    pub(crate) fn finish(mut self) -> std::io::Result<(u64, String)> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        Ok((self.bytes, hex::encode(self.hasher.finalize())))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.hasher.update(&buf[..count]);
        self.bytes += count as u64;
        Ok(count)
    }
}
