//! Minimal ISOBMFF reading: box headers, children, big-endian fields.
//!
//! Only what the codec and fragment parsers need; every read is bounds-checked and fails with
//! [`Error::Truncated`] naming where in the box tree it happened.

use crate::{Error, FourCc, Result};

/// One box inside a buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BoxRef<'a> {
    pub fourcc: FourCc,
    /// Offset of the box's first byte (its size field) from the start of the buffer.
    pub start: usize,
    /// Offset of the body (after size, type, largesize and uuid) from the same start.
    pub body_offset: usize,
    pub body: &'a [u8],
}

impl<'a> BoxRef<'a> {
    /// The boxes directly inside this one, starting `skip` bytes into the body (sample entries
    /// and full boxes have fields before their children).
    pub fn children(&self, skip: usize, context: &'static str) -> Result<Vec<BoxRef<'a>>> {
        let body = self.body.get(skip..).ok_or(Error::Truncated {
            context,
            needed: skip,
            available: self.body.len(),
        })?;
        boxes(body, self.body_offset + skip, context)
    }

    /// The first child box of type `fourcc` among [`Self::children`] (with no skip).
    pub fn child(&self, fourcc: &[u8; 4], context: &'static str) -> Result<Option<BoxRef<'a>>> {
        Ok(self
            .children(0, context)?
            .into_iter()
            .find(|b| b.fourcc.0 == *fourcc))
    }

    /// Like [`Self::child`] but absence is an error naming `path`.
    pub fn require(&self, fourcc: &[u8; 4], path: &'static str) -> Result<BoxRef<'a>> {
        self.child(fourcc, path)?.ok_or(Error::MissingBox { path })
    }

    /// A reader over the body.
    pub fn reader(&self, context: &'static str) -> Reader<'a> {
        Reader::new(self.body, context)
    }
}

/// Splits `data` into consecutive boxes. `base` is the absolute offset of `data[0]`.
pub(crate) fn boxes<'a>(
    data: &'a [u8],
    base: usize,
    context: &'static str,
) -> Result<Vec<BoxRef<'a>>> {
    boxes_inner(data, base, context, None)
}

/// Top-level boxes of `data` up to and including the first `stop` box; what follows it is not
/// looked at (an init segment may be handed over with fragments behind it).
pub(crate) fn boxes_until<'a>(
    data: &'a [u8],
    stop: &[u8; 4],
    context: &'static str,
) -> Result<Vec<BoxRef<'a>>> {
    boxes_inner(data, 0, context, Some(stop))
}

fn boxes_inner<'a>(
    data: &'a [u8],
    base: usize,
    context: &'static str,
    stop: Option<&[u8; 4]>,
) -> Result<Vec<BoxRef<'a>>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let mut r = Reader::new(&data[pos..], context);
        let size32 = r.u32()?;
        let fourcc = FourCc(r.array()?);
        let size = match size32 {
            0 => (data.len() - pos) as u64,
            1 => r.u64()?,
            n => u64::from(n),
        };
        if fourcc.0 == *b"uuid" {
            r.skip(16)?;
        }
        let header = r.pos();
        let available = data.len() - pos;
        let size_usize = usize::try_from(size).unwrap_or(usize::MAX);
        if size_usize < header || size_usize > available {
            return Err(Error::BadBoxSize {
                context,
                fourcc,
                offset: base + pos,
                size,
                available,
            });
        }
        out.push(BoxRef {
            fourcc,
            start: base + pos,
            body_offset: base + pos + header,
            body: &data[pos + header..pos + size_usize],
        });
        pos += size_usize;
        if stop == Some(&fourcc.0) {
            break;
        }
    }
    Ok(out)
}

/// A bounds-checked big-endian reader.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    context: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8], context: &'static str) -> Self {
        Reader {
            data,
            pos: 0,
            context,
        }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(Error::Truncated {
                context: self.context,
                needed: self.pos + n,
                available: self.data.len(),
            });
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// The version and flags of a full box.
    pub fn full_box(&mut self) -> Result<(u8, u32)> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00ff_ffff))
    }
}
