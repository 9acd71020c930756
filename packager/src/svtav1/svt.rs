//! One SVT-AV1 encoder instance behind a safe interface: create it from parameters,
//! send pictures, take packets, end it. Everything that depends on how the 1.4.1
//! library behaves (its globals, how it copies input, what it does at the end of a
//! stream) is handled here, so the element does not deal with raw pointers.

use std::ffi::{CStr, CString};
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::{Mutex, MutexGuard};

use super::ffi;

/// SVT-AV1 1.4.1 keeps the machine's processor groups and the thread affinity in
/// process-wide variables, without locking: `svt_av1_enc_init_handle` allocates and
/// fills them, `svt_av1_enc_set_parameter` and `svt_av1_enc_init` read them, and
/// `svt_av1_enc_deinit_handle` frees them (setting the pointer back to null). With
/// several encoders in one process (the renditions of a ladder), one ending while
/// another starts would use freed memory. Creating and destroying an encoder therefore
/// hold this lock from the first call to the last; encoding does not take it.
static LIFECYCLE: Mutex<()> = Mutex::new(());

fn lifecycle() -> MutexGuard<'static, ()> {
    LIFECYCLE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A library call that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The library function.
    pub call: &'static str,
    /// Its `EbErrorType` result.
    pub code: ffi::EbErrorType,
    /// What was refused, when known: the parameter being set, or why a picture was
    /// rejected before it reached the library.
    pub detail: Option<String>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.code {
            ffi::EB_ERROR_INSUFFICIENT_RESOURCES => "EB_ErrorInsufficientResources",
            ffi::EB_ERROR_UNDEFINED => "EB_ErrorUndefined",
            ffi::EB_ERROR_INVALID_COMPONENT => "EB_ErrorInvalidComponent",
            ffi::EB_ERROR_BAD_PARAMETER => "EB_ErrorBadParameter",
            ffi::EB_ERROR_MAX => "EB_ErrorMax (the packet carries an encode error)",
            _ => "unknown error",
        };
        write!(f, "{} failed with {name} (0x{:08x})", self.call, self.code as u32)?;
        if let Some(detail) = &self.detail {
            write!(f, " for {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

fn check(call: &'static str, code: ffi::EbErrorType) -> Result<(), Error> {
    if code == ffi::EB_ERROR_NONE {
        Ok(())
    } else {
        Err(Error {
            call,
            code,
            detail: None,
        })
    }
}

/// The library's version string, e.g. `v1.4.1`.
pub fn version() -> String {
    // SAFETY: the library returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr((ffi::api().svt_av1_get_version)()) }
        .to_string_lossy()
        .into_owned()
}

/// One 4:2:0 input picture: 8-bit samples, or 10-bit samples in little-endian `u16`.
pub struct Picture<'a> {
    /// Y, U, V.
    pub planes: [&'a [u8]; 3],
    /// Bytes from one row of a plane to the next.
    pub strides: [usize; 3],
    pub width: u32,
    pub height: u32,
    /// 8 or 10.
    pub bit_depth: u32,
    /// Comes back on the packet that shows this picture.
    pub pts: i64,
}

/// One encoded temporal unit (it starts with a temporal delimiter OBU; a keyframe's also
/// holds the sequence header).
pub struct Packet {
    pub data: Vec<u8>,
    /// The `pts` of the picture it shows: the library emits one temporal unit per input
    /// picture, in presentation order (its `dts` always equals its `pts`).
    pub pts: i64,
    pub keyframe: bool,
}

/// An encoder. The library instance behind it is created by the first picture: 1.4.1
/// never returns from `svt_av1_enc_get_packet` (nor from `svt_av1_enc_deinit`, which
/// drains) when the stream ends before any picture was sent, so an instance must never
/// exist without one.
pub struct Encoder {
    params: Vec<(String, String)>,
    /// The library instance, once `svt_av1_enc_init` succeeded; a picture is sent to it
    /// right after.
    instance: Option<NonNull<ffi::EbComponentType>>,
    eos_sent: bool,
    /// The packet flagged EOS was taken (or no picture was ever sent): nothing more comes.
    finished: bool,
    /// Tightly packed copies of 8-bit planes whose rows are padded (see `send_picture`).
    packed: [Vec<u8>; 3],
}

// SAFETY: the instance is used only through `&mut self`, from whichever thread owns the
// encoder; the library synchronises its own threads with the calling one.
unsafe impl Send for Encoder {}

impl Encoder {
    /// An encoder configured by `params`: `name`/`value` pairs as
    /// `svt_av1_enc_parse_parameter` takes them (the names of SvtAv1EncApp's long
    /// options, e.g. `("tbr", "1500")`), applied in order over the library's defaults.
    /// The library sees them with the first picture, so a value it refuses is an error
    /// of that `send_picture`.
    pub fn new(params: &[(&str, String)]) -> Self {
        Encoder {
            params: params
                .iter()
                .map(|(name, value)| (name.to_string(), value.clone()))
                .collect(),
            instance: None,
            eos_sent: false,
            finished: false,
            packed: Default::default(),
        }
    }

    /// Creates, configures and starts the library instance.
    fn start(&self) -> Result<NonNull<ffi::EbComponentType>, Error> {
        let _lifecycle = lifecycle();
        let mut config = ffi::EbSvtAv1EncConfiguration::zeroed();
        let mut handle = ptr::null_mut();
        // SAFETY: `handle` is an out-pointer; `config` is a buffer larger than the struct.
        let code = unsafe { (ffi::api().svt_av1_enc_init_handle)(&mut handle, ptr::null_mut(), &mut *config) };
        check("svt_av1_enc_init_handle", code)?;
        let handle = NonNull::new(handle).ok_or(Error {
            call: "svt_av1_enc_init_handle",
            code: ffi::EB_ERROR_UNDEFINED,
            detail: Some("a null handle".into()),
        })?;
        let configured = (|| {
            for (name, value) in &self.params {
                let refused = |code| Error {
                    call: "svt_av1_enc_parse_parameter",
                    code,
                    detail: Some(format!("{name}={value}")),
                };
                let (Ok(c_name), Ok(c_value)) = (CString::new(name.as_str()), CString::new(value.as_str())) else {
                    return Err(refused(ffi::EB_ERROR_BAD_PARAMETER));
                };
                // SAFETY: `config` holds the defaults written by init_handle; both strings
                // are NUL-terminated and outlive the call.
                let code = unsafe { (ffi::api().svt_av1_enc_parse_parameter)(&mut *config, c_name.as_ptr(), c_value.as_ptr()) };
                if code != ffi::EB_ERROR_NONE {
                    return Err(refused(code));
                }
            }
            // SAFETY: a valid handle and configuration; the library copies the configuration.
            let code = unsafe { (ffi::api().svt_av1_enc_set_parameter)(handle.as_ptr(), &mut *config) };
            check("svt_av1_enc_set_parameter", code)?;
            // SAFETY: a handle whose parameters were accepted.
            check("svt_av1_enc_init", unsafe { (ffi::api().svt_av1_enc_init)(handle.as_ptr()) })
        })();
        if let Err(err) = configured {
            // SAFETY: the handle is not used after this. No `deinit`: after a failed
            // `init` it could wait for threads that never started.
            unsafe { (ffi::api().svt_av1_enc_deinit_handle)(handle.as_ptr()) };
            return Err(err);
        }
        Ok(handle)
    }

    /// Sends one picture (the first one starts the library instance). The library copies
    /// it before returning, and blocks while all its input buffers are in use (which
    /// `next_packet` frees up).
    pub fn send_picture(&mut self, picture: &Picture) -> Result<(), Error> {
        let bad = |what: &str| Error {
            call: "svt_av1_enc_send_picture",
            code: ffi::EB_ERROR_BAD_PARAMETER,
            detail: Some(what.to_owned()),
        };
        if self.eos_sent {
            return Err(bad("a picture after the end of the stream"));
        }
        let sample_bytes = match picture.bit_depth {
            8 => 1,
            10 => 2,
            _ => return Err(bad("a bit depth other than 8 or 10")),
        };
        let width = picture.width as usize;
        let height = picture.height as usize;
        let mut planes = [ptr::null_mut::<u8>(); 3];
        let mut strides = [0u32; 3];
        for i in 0..3 {
            let (w, h) = if i == 0 {
                (width, height)
            } else {
                (width.div_ceil(2), height.div_ceil(2))
            };
            let (data, stride) = (picture.planes[i], picture.strides[i]);
            let row = w * sample_bytes;
            if h == 0 || stride < row || stride % sample_bytes != 0 || data.len() < stride * (h - 1) + row {
                return Err(bad("a plane smaller than its picture"));
            }
            // 8-bit planes are copied whole rows of `stride` bytes at a time into rows of the
            // library's own (padded) width, so a stride much larger than the picture would
            // overrun them; such planes go through a packed copy. 10-bit planes are read
            // `width` samples per row and can be passed as they are.
            if sample_bytes == 1 && stride != row {
                let packed = &mut self.packed[i];
                packed.clear();
                for r in 0..h {
                    packed.extend_from_slice(&data[r * stride..r * stride + row]);
                }
                planes[i] = packed.as_mut_ptr();
                strides[i] = row as u32;
            } else {
                // The library only reads through this pointer.
                planes[i] = data.as_ptr().cast_mut();
                strides[i] = (stride / sample_bytes) as u32;
            }
        }
        let mut format = ffi::EbSvtIOFormat {
            luma: planes[0],
            cb: planes[1],
            cr: planes[2],
            luma_ext: ptr::null_mut(),
            cb_ext: ptr::null_mut(),
            cr_ext: ptr::null_mut(),
            y_stride: strides[0],
            cr_stride: strides[2],
            cb_stride: strides[1],
            width: picture.width,
            height: picture.height,
            origin_x: 0,
            origin_y: 0,
            color_fmt: ffi::EB_YUV420,
            bit_depth: picture.bit_depth,
        };
        let filled = picture
            .planes
            .iter()
            .map(|p| p.len())
            .sum::<usize>()
            .min(u32::MAX as usize) as u32;
        let mut header = input_header(&mut format as *mut ffi::EbSvtIOFormat as *mut u8, filled, 0);
        header.pts = picture.pts;
        let handle = match self.instance {
            Some(handle) => handle,
            None => *self.instance.insert(self.start()?),
        };
        // SAFETY: `header` points to `format`, whose planes are valid for the reads checked
        // above; both outlive the call, which copies the picture.
        check("svt_av1_enc_send_picture", unsafe {
            (ffi::api().svt_av1_enc_send_picture)(handle.as_ptr(), &mut header)
        })
    }

    /// Tells the encoder that no more pictures come; `next_packet` then returns every
    /// packet still inside, and `None` once the last one was taken.
    pub fn send_eos(&mut self) -> Result<(), Error> {
        if self.eos_sent {
            return Ok(());
        }
        self.eos_sent = true;
        let Some(handle) = self.instance else {
            self.finished = true;
            return Ok(());
        };
        let mut header = input_header(ptr::null_mut(), 0, ffi::EB_BUFFERFLAG_EOS);
        // SAFETY: an EOS header without a picture, as the API documents, to an instance
        // that has had a picture.
        check("svt_av1_enc_send_picture", unsafe {
            (ffi::api().svt_av1_enc_send_picture)(handle.as_ptr(), &mut header)
        })
    }

    /// The next packet. Before `send_eos`, only one that is ready now (`None`: none is);
    /// after it, waits for the next one (`None`: the stream is over).
    pub fn next_packet(&mut self) -> Result<Option<Packet>, Error> {
        let Some(handle) = self.instance else {
            return Ok(None);
        };
        loop {
            if self.finished {
                return Ok(None);
            }
            let mut header: *mut ffi::EbBufferHeaderType = ptr::null_mut();
            // SAFETY: a running instance; blocking is only asked for once EOS was sent (the
            // library requires it).
            let code = unsafe { (ffi::api().svt_av1_enc_get_packet)(handle.as_ptr(), &mut header, self.eos_sent as u8) };
            if header.is_null() {
                return match code {
                    ffi::EB_NO_ERROR_EMPTY_QUEUE if self.eos_sent => {
                        // The library says it already gave out its EOS packet.
                        self.finished = true;
                        Ok(None)
                    }
                    ffi::EB_NO_ERROR_EMPTY_QUEUE | ffi::EB_ERROR_NONE => Ok(None),
                    code => {
                        // After EOS there is nothing else to wait for.
                        self.finished |= self.eos_sent;
                        Err(Error {
                            call: "svt_av1_enc_get_packet",
                            code,
                            detail: None,
                        })
                    }
                };
            }
            // SAFETY: the library handed out a valid packet, ours until it is released; its
            // data is `n_filled_len` bytes at `p_buffer`.
            let (packet, eos) = unsafe {
                let h = &*header;
                let data = if h.p_buffer.is_null() || h.n_filled_len == 0 {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(h.p_buffer, h.n_filled_len as usize).to_vec()
                };
                let packet = Packet {
                    data,
                    pts: h.pts,
                    keyframe: h.pic_type == ffi::EB_AV1_KEY_PICTURE,
                };
                (packet, h.flags & ffi::EB_BUFFERFLAG_EOS != 0)
            };
            // SAFETY: the packet was copied out and is not used after this.
            unsafe { (ffi::api().svt_av1_enc_release_out_buffer)(&mut header) };
            self.finished |= eos;
            check("svt_av1_enc_get_packet", code)?;
            if !packet.data.is_empty() {
                return Ok(Some(packet));
            }
        }
    }
}

/// An input header: a picture at `picture` (an `EbSvtIOFormat`), or none with the EOS flag.
fn input_header(picture: *mut u8, filled: u32, flags: u32) -> ffi::EbBufferHeaderType {
    ffi::EbBufferHeaderType {
        size: size_of::<ffi::EbBufferHeaderType>() as u32,
        p_buffer: picture,
        n_filled_len: filled,
        n_alloc_len: filled,
        p_app_private: ptr::null_mut(),
        wrapper_ptr: ptr::null_mut(),
        n_tick_count: 0,
        dts: 0,
        pts: 0,
        qp: 0,
        // Frame types are the encoder's choice: forcing one needs `force_key_frames`,
        // which 1.4.1 refuses in VBR mode (see the element's documentation).
        pic_type: ffi::EB_AV1_INVALID_PICTURE,
        luma_sse: 0,
        cr_sse: 0,
        cb_sse: 0,
        flags,
        luma_ssim: 0.0,
        cr_ssim: 0.0,
        cb_ssim: 0.0,
        metadata: ptr::null_mut(),
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        let Some(handle) = self.instance else {
            return;
        };
        // Whatever is still inside is encoded and thrown away: `svt_av1_enc_deinit` would
        // do the same, but complains on stderr when no EOS was sent. A packet with an
        // encode error is still taken; `finished` ends the loop.
        if self.send_eos().is_ok() {
            while !self.finished {
                if let Ok(None) = self.next_packet() {
                    break;
                }
            }
        }
        let _lifecycle = lifecycle();
        // SAFETY: an instance that was started and had a picture; not used after this.
        unsafe {
            (ffi::api().svt_av1_enc_deinit)(handle.as_ptr());
            (ffi::api().svt_av1_enc_deinit_handle)(handle.as_ptr());
        }
    }
}
