//! libnftables in process: the parser and netlink batch of the `nft` program, without starting a
//! process per transaction.
//!
//! `nft -f -` is a thin front end of libnftables (Debian's `libnftables1`, a dependency of the
//! `nftables` package): `nft_run_cmd_from_buffer` parses a whole script and sends it as one
//! netlink batch, which the kernel commits or refuses as a whole, exactly as the program does.
//! Calling it here saves the fork, exec and dynamic loading of a process (about 2.5 ms per
//! change, docs/ruleset-design.md). The library is opened at run time (`dlopen`), so a node
//! without it, or with another soname, still works through the program ([`crate::nft::run`]).
//!
//! A context is created and freed on every call, on the calling thread: its netlink socket then
//! belongs to that thread's network namespace, the same rule the program follows.
//!
//! This is the only module of palisade with `unsafe` code: ten C functions, called as their
//! header documents them.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::OnceLock;

use libloading::Library;

use crate::nft::Output;

/// The soname Debian 12's `libnftables1` ships (nftables 1.0.x).
const SONAME: &str = "libnftables.so.1";

/// `NFT_CTX_DEFAULT`.
const CTX_DEFAULT: u32 = 0;
/// `NFT_CTX_OUTPUT_JSON` of `enum nft_output_flags`.
const OUTPUT_JSON: u32 = 1 << 4;

type CtxNew = unsafe extern "C" fn(u32) -> *mut c_void;
type CtxFree = unsafe extern "C" fn(*mut c_void);
type CtxBuffer = unsafe extern "C" fn(*mut c_void) -> c_int;
type CtxGetBuffer = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type CtxSetFlags = unsafe extern "C" fn(*mut c_void, u32);
type CtxSetDryRun = unsafe extern "C" fn(*mut c_void, bool);
type RunFromBuffer = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;
type RunFromFilename = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;

/// The functions of libnftables palisade calls.
pub(crate) struct Api {
    // Keeps the function pointers below valid.
    _library: Library,
    ctx_new: CtxNew,
    ctx_free: CtxFree,
    buffer_output: CtxBuffer,
    buffer_error: CtxBuffer,
    output_buffer: CtxGetBuffer,
    error_buffer: CtxGetBuffer,
    set_output_flags: CtxSetFlags,
    set_dry_run: CtxSetDryRun,
    run_from_buffer: RunFromBuffer,
    run_from_filename: RunFromFilename,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(SONAME)
    }
}

/// What a call asks of nft, as the program's flags would.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flags {
    /// `-j`: JSON output.
    pub json: bool,
    /// `-c`: check only, commit nothing.
    pub dry_run: bool,
}

/// The library, loaded once per process; `None` when it cannot be loaded.
pub(crate) fn api() -> Option<&'static Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(|| match load() {
        Ok(api) => Some(api),
        Err(err) => {
            tracing::debug!(%err, "libnftables not loaded; nft runs as a program");
            None
        }
    })
    .as_ref()
}

fn load() -> Result<Api, libloading::Error> {
    // SAFETY: loading libnftables runs its (and libnftnl's, libmnl's) initialisers, which only
    // set up static tables; the symbol types below are the prototypes of
    // <nftables/libnftables.h>, unchanged since nftables 0.9.
    unsafe {
        let library = Library::new(SONAME)?;
        let ctx_new = *library.get::<CtxNew>(b"nft_ctx_new\0")?;
        let ctx_free = *library.get::<CtxFree>(b"nft_ctx_free\0")?;
        let buffer_output = *library.get::<CtxBuffer>(b"nft_ctx_buffer_output\0")?;
        let buffer_error = *library.get::<CtxBuffer>(b"nft_ctx_buffer_error\0")?;
        let output_buffer = *library.get::<CtxGetBuffer>(b"nft_ctx_get_output_buffer\0")?;
        let error_buffer = *library.get::<CtxGetBuffer>(b"nft_ctx_get_error_buffer\0")?;
        let set_output_flags = *library.get::<CtxSetFlags>(b"nft_ctx_output_set_flags\0")?;
        let set_dry_run = *library.get::<CtxSetDryRun>(b"nft_ctx_set_dry_run\0")?;
        let run_from_buffer = *library.get::<RunFromBuffer>(b"nft_run_cmd_from_buffer\0")?;
        let run_from_filename = *library.get::<RunFromFilename>(b"nft_run_cmd_from_filename\0")?;
        Ok(Api {
            _library: library,
            ctx_new,
            ctx_free,
            buffer_output,
            buffer_error,
            output_buffer,
            error_buffer,
            set_output_flags,
            set_dry_run,
            run_from_buffer,
            run_from_filename,
        })
    }
}

/// Where a script is read from: one command line, or a file.
#[derive(Debug, Clone, Copy)]
enum Input {
    Buffer,
    File,
}

fn failure(message: &str) -> Output {
    Output {
        success: false,
        stdout: String::new(),
        stderr: format!("Error: {message}\n"),
    }
}

impl Api {
    /// Runs one command line (`list tables inet`) in the calling thread's network namespace,
    /// with what nft would have printed on stdout and stderr.
    pub(crate) fn command(&self, command: &str, flags: Flags) -> Output {
        match CString::new(command) {
            Ok(text) => self.call(&text, Input::Buffer, flags),
            Err(_) => failure("the command contains a NUL byte"),
        }
    }

    /// Runs a whole script (one transaction) the way `nft -f FILE` does, so that complaints
    /// carry `FILE:LINE:COLUMNS` (libnftables names no line for a buffer). The file is an
    /// anonymous memory file, read through `/proc/self/fd`.
    pub(crate) fn script(&self, script: &str, flags: Flags) -> Output {
        use std::io::Write as _;
        use std::os::fd::AsRawFd as _;
        let memfd = nix::sys::memfd::memfd_create(
            "palisade-script",
            nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
        );
        let mut file = match memfd {
            Ok(fd) => std::fs::File::from(fd),
            Err(err) => return failure(&format!("memfd_create: {err}")),
        };
        if let Err(err) = file.write_all(script.as_bytes()) {
            return failure(&format!("writing the script to memory: {err}"));
        }
        let path = format!("/proc/self/fd/{}", file.as_raw_fd());
        match CString::new(path) {
            Ok(path) => self.call(&path, Input::File, flags),
            Err(_) => failure("bad script path"),
        }
    }

    fn call(&self, text: &CString, input: Input, flags: Flags) -> Output {
        // SAFETY: the context is created, used and freed here on one thread, never shared;
        // both buffers are read before the free that owns them, and copied out.
        unsafe {
            let ctx = (self.ctx_new)(CTX_DEFAULT);
            if ctx.is_null() {
                return failure("libnftables could not create a context");
            }
            (self.buffer_output)(ctx);
            (self.buffer_error)(ctx);
            if flags.json {
                (self.set_output_flags)(ctx, OUTPUT_JSON);
            }
            if flags.dry_run {
                (self.set_dry_run)(ctx, true);
            }
            let rc = match input {
                Input::Buffer => (self.run_from_buffer)(ctx, text.as_ptr()),
                Input::File => (self.run_from_filename)(ctx, text.as_ptr()),
            };
            let stdout = read_buffer((self.output_buffer)(ctx));
            let stderr = read_buffer((self.error_buffer)(ctx));
            (self.ctx_free)(ctx);
            Output {
                success: rc == 0,
                stdout,
                stderr,
            }
        }
    }
}

/// # Safety
/// `ptr` is null or a NUL-terminated string that outlives this call.
unsafe fn read_buffer(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: as the caller promises.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}
