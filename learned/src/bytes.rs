//! A bounds-checked little-endian reader for Vigil's binary model files (this crate's
//! `.vlm` and vigil-transformer's `.vth`): every read names what it reads, and running
//! past the end, a non-finite float or bad UTF-8 is a [`FormatError`], never a panic.

/// What was wrong with a file's bytes; each crate turns it into its own "corrupt" error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

type Result<T> = std::result::Result<T, FormatError>;

/// Reads `bytes` from `position` on.
#[derive(Debug)]
pub struct ByteReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> ByteReader<'a> {
    pub fn new(bytes: &'a [u8], position: usize) -> Self {
        ByteReader { bytes, position }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    /// The next `length` bytes.
    pub fn take(&mut self, length: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .position
            .checked_add(length)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| {
                FormatError(format!(
                    "{what} runs past the end ({length} bytes at offset {})",
                    self.position
                ))
            })?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.take(N, what)?);
        Ok(array)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    /// An `f32` that must be finite.
    pub fn finite_f32(&mut self, what: &str) -> Result<f32> {
        let value = self.f32(what)?;
        if !value.is_finite() {
            return Err(FormatError(format!("{what} is {value}")));
        }
        Ok(value)
    }

    /// `length` bytes of UTF-8.
    pub fn string(&mut self, length: usize, what: &str) -> Result<String> {
        let raw = self.take(length, what)?;
        String::from_utf8(raw.to_vec()).map_err(|_| FormatError(format!("{what} is not UTF-8")))
    }
}
