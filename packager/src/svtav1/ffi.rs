//! Hand-written bindings to the part of SVT-AV1's encoder API that the element uses,
//! checked against the 1.4.1 headers (`/usr/include/svt-av1/EbSvtAv1.h`,
//! `EbSvtAv1Enc.h`, `EbSvtAv1Formats.h`; Debian 12's `libsvtav1enc-dev`, needed only to
//! read them: the library is loaded at run time, see [`Api`]).
//!
//! `EbSvtAv1EncConfiguration` is not mirrored: it is a large struct that changes with
//! every minor release. The element treats it as an opaque, oversized buffer that
//! `svt_av1_enc_init_handle` fills with defaults and `svt_av1_enc_parse_parameter`
//! edits by field name. The two small structs that are passed by layout,
//! [`EbBufferHeaderType`] and [`EbSvtIOFormat`], are mirrored field for field and
//! their layout is checked at compile time against sizes and offsets measured with
//! the C compiler on the 1.4.1 headers.

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::OnceLock;
use std::mem::{offset_of, size_of};

/// `EbErrorType`, a C enum whose values are written as `(int32_t)0x8000....`.
pub type EbErrorType = i32;

pub const EB_ERROR_NONE: EbErrorType = 0;
pub const EB_ERROR_INSUFFICIENT_RESOURCES: EbErrorType = 0x8000_1000_u32 as i32;
pub const EB_ERROR_UNDEFINED: EbErrorType = 0x8000_1001_u32 as i32;
pub const EB_ERROR_INVALID_COMPONENT: EbErrorType = 0x8000_1004_u32 as i32;
pub const EB_ERROR_BAD_PARAMETER: EbErrorType = 0x8000_1005_u32 as i32;
/// `svt_av1_enc_get_packet`: no packet is ready yet (not an error).
pub const EB_NO_ERROR_EMPTY_QUEUE: EbErrorType = 0x8000_2033_u32 as i32;
/// `svt_av1_enc_get_packet`: the packet it returns carries an encode error.
pub const EB_ERROR_MAX: EbErrorType = 0x7FFF_FFFF;

/// `EB_BUFFERFLAG_EOS`: on input, the end of the stream; on output, its last packet.
pub const EB_BUFFERFLAG_EOS: u32 = 0x0000_0001;

/// `EbAv1PictureType` values (a C enum, hence `u32`).
pub const EB_AV1_KEY_PICTURE: u32 = 3;
/// What an input picture is given when the application leaves the choice to the encoder.
pub const EB_AV1_INVALID_PICTURE: u32 = 0xFF;

/// `EbColorFormat::EB_YUV420`.
pub const EB_YUV420: u32 = 1;

/// The encoder instance; only ever handled through a pointer.
#[repr(C)]
pub struct EbComponentType {
    _opaque: [u8; 0],
}

/// `EbBufferHeaderType`: an input picture or an output packet.
#[repr(C)]
pub struct EbBufferHeaderType {
    pub size: u32,
    pub p_buffer: *mut u8,
    pub n_filled_len: u32,
    pub n_alloc_len: u32,
    /// On input the library reads this as a list of `EbPrivDataNode`, so it must be null
    /// unless such a list is meant: it is not an opaque pass-through.
    pub p_app_private: *mut c_void,
    pub wrapper_ptr: *mut c_void,
    pub n_tick_count: u32,
    pub dts: i64,
    pub pts: i64,
    pub qp: u32,
    pub pic_type: u32,
    pub luma_sse: u64,
    pub cr_sse: u64,
    pub cb_sse: u64,
    pub flags: u32,
    pub luma_ssim: f64,
    pub cr_ssim: f64,
    pub cb_ssim: f64,
    pub metadata: *mut c_void,
}

const _: () = {
    assert!(size_of::<EbBufferHeaderType>() == 136);
    assert!(offset_of!(EbBufferHeaderType, p_buffer) == 8);
    assert!(offset_of!(EbBufferHeaderType, n_filled_len) == 16);
    assert!(offset_of!(EbBufferHeaderType, p_app_private) == 24);
    assert!(offset_of!(EbBufferHeaderType, n_tick_count) == 40);
    assert!(offset_of!(EbBufferHeaderType, dts) == 48);
    assert!(offset_of!(EbBufferHeaderType, pts) == 56);
    assert!(offset_of!(EbBufferHeaderType, qp) == 64);
    assert!(offset_of!(EbBufferHeaderType, pic_type) == 68);
    assert!(offset_of!(EbBufferHeaderType, luma_sse) == 72);
    assert!(offset_of!(EbBufferHeaderType, flags) == 96);
    assert!(offset_of!(EbBufferHeaderType, luma_ssim) == 104);
    assert!(offset_of!(EbBufferHeaderType, metadata) == 128);
};

/// `EbSvtIOFormat`: the planes of one input picture, what `p_buffer` of an input
/// [`EbBufferHeaderType`] points to. Strides are in samples, not bytes: for 10-bit
/// input each sample is a little-endian `u16`.
#[repr(C)]
pub struct EbSvtIOFormat {
    pub luma: *mut u8,
    pub cb: *mut u8,
    pub cr: *mut u8,
    /// Only for the "compressed" 10-bit layout (8 + 2 bits in separate planes); unused.
    pub luma_ext: *mut u8,
    pub cb_ext: *mut u8,
    pub cr_ext: *mut u8,
    pub y_stride: u32,
    pub cr_stride: u32,
    pub cb_stride: u32,
    pub width: u32,
    pub height: u32,
    pub origin_x: u32,
    pub origin_y: u32,
    pub color_fmt: u32,
    pub bit_depth: u32,
}

const _: () = {
    assert!(size_of::<EbSvtIOFormat>() == 88);
    assert!(offset_of!(EbSvtIOFormat, y_stride) == 48);
    assert!(offset_of!(EbSvtIOFormat, cr_stride) == 52);
    assert!(offset_of!(EbSvtIOFormat, cb_stride) == 56);
    assert!(offset_of!(EbSvtIOFormat, width) == 60);
    assert!(offset_of!(EbSvtIOFormat, origin_y) == 72);
    assert!(offset_of!(EbSvtIOFormat, color_fmt) == 76);
    assert!(offset_of!(EbSvtIOFormat, bit_depth) == 80);
};

/// `sizeof(EbSvtAv1EncConfiguration)` in 1.4.1 (alignment 8), measured with gcc.
const CONFIG_SIZE_1_4_1: usize = 1720;

/// Storage for an `EbSvtAv1EncConfiguration`, never read or written field by field.
/// Several times the 1.4.1 size, so a library that grew the struct in a later 1.x
/// release still writes inside it.
#[repr(C, align(64))]
pub struct EbSvtAv1EncConfiguration {
    _bytes: [u8; 8192],
}

const _: () = assert!(size_of::<EbSvtAv1EncConfiguration>() >= 4 * CONFIG_SIZE_1_4_1);

impl EbSvtAv1EncConfiguration {
    pub fn zeroed() -> Box<Self> {
        Box::new(Self { _bytes: [0; 8192] })
    }
}

/// The library, as the dynamic loader names it (Debian 12: package `libsvtav1enc1`).
pub const LIBRARY: &str = "libSvtAv1Enc.so.1";
/// Loads the library from another path or name instead of [`LIBRARY`] (an SVT-AV1 built
/// elsewhere).
pub const LIBRARY_ENV: &str = "VODPIPE_SVTAV1_LIBRARY";

/// The library's functions. They are looked up when the element is registered rather
/// than linked, so that vodpipe runs without SVT-AV1 (every other rung works) and the
/// start-up check names what is missing instead of the loader refusing to start.
pub struct Api {
    pub svt_av1_get_version: unsafe extern "C" fn() -> *const c_char,
    pub svt_av1_enc_init_handle: unsafe extern "C" fn(
        p_handle: *mut *mut EbComponentType,
        p_app_data: *mut c_void,
        config_ptr: *mut EbSvtAv1EncConfiguration,
    ) -> EbErrorType,
    pub svt_av1_enc_parse_parameter:
        unsafe extern "C" fn(config: *mut EbSvtAv1EncConfiguration, name: *const c_char, value: *const c_char) -> EbErrorType,
    pub svt_av1_enc_set_parameter:
        unsafe extern "C" fn(svt_enc_component: *mut EbComponentType, config: *mut EbSvtAv1EncConfiguration) -> EbErrorType,
    pub svt_av1_enc_init: unsafe extern "C" fn(svt_enc_component: *mut EbComponentType) -> EbErrorType,
    pub svt_av1_enc_send_picture:
        unsafe extern "C" fn(svt_enc_component: *mut EbComponentType, p_buffer: *mut EbBufferHeaderType) -> EbErrorType,
    pub svt_av1_enc_get_packet: unsafe extern "C" fn(
        svt_enc_component: *mut EbComponentType,
        p_buffer: *mut *mut EbBufferHeaderType,
        pic_send_done: u8,
    ) -> EbErrorType,
    pub svt_av1_enc_release_out_buffer: unsafe extern "C" fn(p_buffer: *mut *mut EbBufferHeaderType),
    pub svt_av1_enc_deinit: unsafe extern "C" fn(svt_enc_component: *mut EbComponentType) -> EbErrorType,
    pub svt_av1_enc_deinit_handle: unsafe extern "C" fn(svt_enc_component: *mut EbComponentType) -> EbErrorType,
}

// glibc's loader (in libc.so.6 since glibc 2.34; Debian 12 has 2.36).
unsafe extern "C" {
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlerror() -> *const c_char;
}
const RTLD_NOW: c_int = 2;

static API: OnceLock<Result<Api, String>> = OnceLock::new();

/// Loads the library once; the reason when it cannot be.
pub fn load() -> Result<&'static Api, String> {
    API.get_or_init(|| {
        let name = std::env::var(LIBRARY_ENV).unwrap_or_else(|_| LIBRARY.to_owned());
        let c_name = CString::new(name.clone()).map_err(|_| format!("{LIBRARY_ENV} holds a NUL byte"))?;
        // SAFETY: a NUL-terminated name; the handle is kept for the life of the process.
        let handle = unsafe { dlopen(c_name.as_ptr(), RTLD_NOW) };
        if handle.is_null() {
            return Err(format!("cannot load {name}: {}", last_error()));
        }
        let symbol = |symbol: &str| -> Result<*mut c_void, String> {
            let c_symbol = CString::new(symbol).expect("symbol names have no NUL");
            // SAFETY: a live handle and a NUL-terminated name.
            let address = unsafe { dlsym(handle, c_symbol.as_ptr()) };
            if address.is_null() { Err(format!("{name} has no {symbol}: {}", last_error())) } else { Ok(address) }
        };
        // SAFETY: each address is the library's own function of that name, whose C
        // signature the field's type repeats (checked against the 1.4.1 headers).
        unsafe fn function<F: Copy>(address: *mut c_void) -> F {
            const { assert!(std::mem::size_of::<F>() == std::mem::size_of::<*mut c_void>()) };
            // SAFETY: the caller's promise above; F is a function pointer of the same size.
            unsafe { std::mem::transmute_copy::<*mut c_void, F>(&address) }
        }
        unsafe {
            Ok(Api {
                svt_av1_get_version: function(symbol("svt_av1_get_version")?),
                svt_av1_enc_init_handle: function(symbol("svt_av1_enc_init_handle")?),
                svt_av1_enc_parse_parameter: function(symbol("svt_av1_enc_parse_parameter")?),
                svt_av1_enc_set_parameter: function(symbol("svt_av1_enc_set_parameter")?),
                svt_av1_enc_init: function(symbol("svt_av1_enc_init")?),
                svt_av1_enc_send_picture: function(symbol("svt_av1_enc_send_picture")?),
                svt_av1_enc_get_packet: function(symbol("svt_av1_enc_get_packet")?),
                svt_av1_enc_release_out_buffer: function(symbol("svt_av1_enc_release_out_buffer")?),
                svt_av1_enc_deinit: function(symbol("svt_av1_enc_deinit")?),
                svt_av1_enc_deinit_handle: function(symbol("svt_av1_enc_deinit_handle")?),
            })
        }
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The loaded library. The element is only registered once [`load`] succeeded.
pub fn api() -> &'static Api {
    load().expect("the SVT-AV1 element is registered only when its library loads")
}

fn last_error() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated string valid until the next call.
    let e = unsafe { dlerror() };
    if e.is_null() { "unknown error".into() } else { unsafe { std::ffi::CStr::from_ptr(e) }.to_string_lossy().into_owned() }
}
