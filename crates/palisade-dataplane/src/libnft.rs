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
//! A context's netlink socket belongs to the network namespace of the thread that created it.
//! Transactions (scripts that change the ruleset) run in a context kept per thread and
//! re-created when the thread has moved to another namespace: creating and freeing one per
//! call costs more than the transaction itself on a large table (closing its socket alone
//! took about 16 ms here, docs/ruleset-design.md), and firewalld keeps one context for its
//! life the same way. Listings and checks (`-j`, `-c`) get a fresh context each, so the
//! cache of a full listing is not kept in memory after it.
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
    pub(crate) fn command(&'static self, command: &str, flags: Flags) -> Output {
        match CString::new(command) {
            Ok(text) => self.call(&text, Input::Buffer, flags),
            Err(_) => failure("the command contains a NUL byte"),
        }
    }

    /// Runs a whole script (one transaction) the way `nft -f FILE` does, so that complaints
    /// carry `FILE:LINE:COLUMNS` (libnftables names no line for a buffer). The file is an
    /// anonymous memory file, read through `/proc/self/fd`.
    pub(crate) fn script(&'static self, script: &str, flags: Flags) -> Output {
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

    fn call(&'static self, text: &CString, input: Input, flags: Flags) -> Output {
        if flags.json || flags.dry_run {
            let Some(ctx) = Context::new(self) else {
                return failure("libnftables could not create a context");
            };
            return ctx.run(text, input, flags);
        }
        let Some(namespace) = current_namespace() else {
            return failure("cannot read this thread's network namespace");
        };
        KEPT.with(|kept| {
            let mut kept = kept.borrow_mut();
            if kept.as_ref().is_none_or(|(ns, _)| *ns != namespace) {
                // The old context (another namespace's socket) is freed first.
                *kept = None;
                *kept = Context::new(self).map(|ctx| (namespace, ctx));
            }
            match kept.as_ref() {
                Some((_, ctx)) => ctx.run(text, input, flags),
                None => failure("libnftables could not create a context"),
            }
        })
    }
}

thread_local! {
    /// This thread's transaction context and the namespace its socket lives in.
    static KEPT: std::cell::RefCell<Option<(Namespace, Context)>> =
        const { std::cell::RefCell::new(None) };
}

/// A network namespace, as `stat(2)` of `/proc/thread-self/ns/net` names it.
type Namespace = (u64, u64);

fn current_namespace() -> Option<Namespace> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata("/proc/thread-self/ns/net").ok()?;
    Some((meta.dev(), meta.ino()))
}

/// One `struct nft_ctx` with buffered output, freed on drop. Never shared between threads (it
/// is not `Send`: the raw pointer keeps it on the thread that made it).
struct Context {
    api: &'static Api,
    ctx: *mut c_void,
}

impl Context {
    fn new(api: &'static Api) -> Option<Context> {
        // SAFETY: a new context, owned by the value returned; buffering is set before any use.
        unsafe {
            let ctx = (api.ctx_new)(CTX_DEFAULT);
            if ctx.is_null() {
                return None;
            }
            (api.buffer_output)(ctx);
            (api.buffer_error)(ctx);
            Some(Context { api, ctx })
        }
    }

    fn run(&self, text: &CString, input: Input, flags: Flags) -> Output {
        let api = self.api;
        // SAFETY: the context is live and used on its own thread only; the flags are set for
        // this call; both buffers are read (which rewinds them for the next call) and copied
        // out before anything else touches the context.
        unsafe {
            (api.set_output_flags)(self.ctx, if flags.json { OUTPUT_JSON } else { 0 });
            (api.set_dry_run)(self.ctx, flags.dry_run);
            let rc = match input {
                Input::Buffer => (api.run_from_buffer)(self.ctx, text.as_ptr()),
                Input::File => (api.run_from_filename)(self.ctx, text.as_ptr()),
            };
            let stdout = read_buffer((api.output_buffer)(self.ctx));
            let stderr = read_buffer((api.error_buffer)(self.ctx));
            Output {
                success: rc == 0,
                stdout,
                stderr,
            }
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: created by `ctx_new`, freed once, here.
        unsafe { (self.api.ctx_free)(self.ctx) }
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
