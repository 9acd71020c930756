//! Reading a source that is not a local file: a GStreamer source element over a
//! [`RangeReader`] (the worker reads an S3 object by ranged GETs). The demuxer pulls the
//! bytes it needs where it needs them, so a chunk of a title reads its own range of the
//! file and the index, not the whole upload.
//!
//! Demuxers ask for a few kB at a time (qtdemux: one sample); the element fetches aligned
//! blocks of [`BLOCK_BYTES`] and keeps the last [`BLOCKS_KEPT`], so requests are few and
//! memory does not grow with the file.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use gst::glib;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;

/// Bytes of a source read at random offsets.
pub trait RangeReader: Send + Sync + std::fmt::Debug {
    /// The source's length in bytes.
    fn size(&self) -> u64;
    /// Up to `len` bytes from `offset` (fewer only at the end).
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>>;
}

/// What one read from the reader fetches.
pub const BLOCK_BYTES: u64 = 1 << 20;
/// Blocks kept: interleaved streams read at two or three places of the file at once.
const BLOCKS_KEPT: usize = 4;

/// The recently read blocks, newest last.
#[derive(Default)]
struct Blocks(VecDeque<(u64, Arc<Vec<u8>>)>);

impl Blocks {
    fn get(&mut self, reader: &dyn RangeReader, start: u64) -> std::io::Result<Arc<Vec<u8>>> {
        if let Some(i) = self.0.iter().position(|(at, _)| *at == start) {
            let hit = self.0.remove(i).expect("found");
            self.0.push_back(hit.clone());
            return Ok(hit.1);
        }
        let len = BLOCK_BYTES.min(reader.size().saturating_sub(start)) as usize;
        tracing::trace!(start, len, "reading a block of the source");
        let body = Arc::new(reader.read_at(start, len)?);
        if body.len() < len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("read {} bytes at {start}, expected {len}", body.len()),
            ));
        }
        if self.0.len() >= BLOCKS_KEPT {
            self.0.pop_front();
        }
        self.0.push_back((start, body.clone()));
        Ok(body)
    }
}

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct RangeSrc {
        pub(super) reader: Mutex<Option<Arc<dyn RangeReader>>>,
        pub(super) blocks: Mutex<Blocks>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for RangeSrc {
        const NAME: &'static str = "VodpipeRangeSrc";
        type Type = super::RangeSrc;
        type ParentType = gst_base::BaseSrc;
    }

    impl ObjectImpl for RangeSrc {
        fn constructed(&self) {
            self.parent_constructed();
            self.obj().set_format(gst::Format::Bytes);
        }
    }

    impl GstObjectImpl for RangeSrc {}

    impl ElementImpl for RangeSrc {
        fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
            static META: std::sync::OnceLock<gst::subclass::ElementMetadata> = std::sync::OnceLock::new();
            Some(META.get_or_init(|| {
                gst::subclass::ElementMetadata::new("Range reader source", "Source", "Reads a source by ranges", "vodpipe")
            }))
        }

        fn pad_templates() -> &'static [gst::PadTemplate] {
            static TEMPLATES: std::sync::OnceLock<Vec<gst::PadTemplate>> = std::sync::OnceLock::new();
            TEMPLATES.get_or_init(|| {
                vec![gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &gst::Caps::new_any()).expect("valid template")]
            })
        }
    }

    impl BaseSrcImpl for RangeSrc {
        fn start(&self) -> Result<(), gst::ErrorMessage> {
            if self.reader.lock().unwrap().is_none() {
                return Err(gst::error_msg!(gst::ResourceError::NotFound, ["no reader set"]));
            }
            *self.blocks.lock().unwrap() = Blocks::default();
            Ok(())
        }

        fn is_seekable(&self) -> bool {
            true
        }

        fn size(&self) -> Option<u64> {
            self.reader.lock().unwrap().as_ref().map(|r| r.size())
        }

        fn fill(&self, offset: u64, length: u32, buffer: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
            let reader = self.reader.lock().unwrap().clone().ok_or(gst::FlowError::Error)?;
            let size = reader.size();
            if offset >= size {
                return Err(gst::FlowError::Eos);
            }
            let end = (offset + u64::from(length)).min(size);
            let mut blocks = self.blocks.lock().unwrap();
            let mut map = buffer.map_writable().map_err(|_| gst::FlowError::Error)?;
            let mut at = offset;
            while at < end {
                let start = at - at % BLOCK_BYTES;
                let block = blocks.get(&*reader, start).map_err(|e| {
                    gst::element_imp_error!(self, gst::ResourceError::Read, ["reading {} bytes at {}: {}", end - offset, offset, e]);
                    gst::FlowError::Error
                })?;
                let from = (at - start) as usize;
                let n = ((end - at) as usize).min(block.len() - from);
                let to = (at - offset) as usize;
                map[to..to + n].copy_from_slice(&block[from..from + n]);
                at += n as u64;
            }
            drop(map);
            buffer.set_size((end - offset) as usize);
            Ok(gst::FlowSuccess::Ok)
        }
    }
}

glib::wrapper! {
    /// A source element reading through a [`RangeReader`].
    pub struct RangeSrc(ObjectSubclass<imp::RangeSrc>) @extends gst_base::BaseSrc, gst::Element, gst::Object;
}

impl RangeSrc {
    pub fn new(reader: Arc<dyn RangeReader>) -> Self {
        let src: Self = glib::Object::new();
        *src.imp().reader.lock().unwrap() = Some(reader);
        src
    }
}

/// A local file as a [`RangeReader`] (the index is read through it, whichever the source).
#[derive(Debug)]
pub struct FileReader {
    file: std::fs::File,
    size: u64,
}

impl FileReader {
    pub fn open(path: &std::path::Path) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        let size = file.metadata()?.len();
        Ok(FileReader { file, size })
    }
}

impl RangeReader for FileReader {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let len = len.min(self.size.saturating_sub(offset) as usize);
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }
}
