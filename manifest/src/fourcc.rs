//! Four-character codes of ISOBMFF boxes and sample entries.

use std::fmt;

/// A box type or sample entry code such as `moov` or `avc1`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FourCc(pub [u8; 4]);

impl FourCc {
    pub const fn new(code: &[u8; 4]) -> Self {
        FourCc(*code)
    }
}

impl fmt::Display for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Codes come from untrusted bytes: print anything unprintable as an escape so an
        // error message can't be garbled by them.
        for &b in &self.0 {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FourCc(\"{self}\")")
    }
}

impl From<&[u8; 4]> for FourCc {
    fn from(code: &[u8; 4]) -> Self {
        FourCc(*code)
    }
}
