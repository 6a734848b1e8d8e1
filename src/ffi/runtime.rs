//! What a bare-metal C program supplies to the Rust code inside libnegsync.a: memory and a place
//! for panics to go. Only in the firmware build (`--no-default-features --features c-runtime`);
//! with std, Rust's own allocator and unwinding serve instead.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::{c_char, c_void};
use core::sync::atomic::{AtomicUsize, Ordering};

use super::result::{NEGSYNC_OK, negsync_result};

/// Allocates `size` bytes aligned for any C object, or returns NULL (like `malloc`).
pub type negsync_malloc_fn = Option<unsafe extern "C" fn(size: usize) -> *mut c_void>;
/// Resizes a block from the malloc function, or returns NULL leaving it intact (like `realloc`).
pub type negsync_realloc_fn =
    Option<unsafe extern "C" fn(block: *mut c_void, size: usize) -> *mut c_void>;
/// Frees a block from the malloc or realloc function (like `free`).
pub type negsync_free_fn = Option<unsafe extern "C" fn(block: *mut c_void)>;
/// Told why negsync panicked: `message` is `length` bytes, not NUL-terminated. Must not return.
pub type negsync_panic_fn = Option<unsafe extern "C" fn(message: *const c_char, length: usize)>;

unsafe extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn realloc(block: *mut c_void, size: usize) -> *mut c_void;
    fn free(block: *mut c_void);
    fn abort() -> !;
}

// Function pointers kept as integers: 0 means "use the C library's own".
static MALLOC: AtomicUsize = AtomicUsize::new(0);
static REALLOC: AtomicUsize = AtomicUsize::new(0);
static FREE: AtomicUsize = AtomicUsize::new(0);
static PANIC_HOOK: AtomicUsize = AtomicUsize::new(0);
/// The size of the request the allocator refused last, or 0 once a later one succeeded: what the
/// panic hook reports for an allocation failure, whose message this build does not format.
static REFUSED: AtomicUsize = AtomicUsize::new(0);

/// Routes every allocation negsync makes to the given functions instead of the C library's
/// `malloc`/`realloc`/`free` (to a dedicated heap, or to count bytes). Call it before any other
/// negsync function, or after freeing every negsync object: a block must be freed by the
/// allocator that made it. All three must be given, or all three NULL to return to the defaults;
/// `NEGSYNC_NULL_PARAMETER` (and nothing changed) when only some are. Firmware build only
/// (`c-runtime`): declared when the includer defines `NEGSYNC_FIRMWARE`.
///
/// # Safety
/// The functions behave like `malloc`, `realloc` and `free` and may be called from any thread that
/// uses negsync.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_set_allocator(
    malloc_fn: negsync_malloc_fn,
    realloc_fn: negsync_realloc_fn,
    free_fn: negsync_free_fn,
) -> negsync_result {
    let given = [malloc_fn.is_some(), realloc_fn.is_some(), free_fn.is_some()];
    if given.contains(&true) && given.contains(&false) {
        return super::result::NEGSYNC_NULL_PARAMETER;
    }
    MALLOC.store(malloc_fn.map_or(0, |f| f as usize), Ordering::SeqCst);
    REALLOC.store(realloc_fn.map_or(0, |f| f as usize), Ordering::SeqCst);
    FREE.store(free_fn.map_or(0, |f| f as usize), Ordering::SeqCst);
    NEGSYNC_OK
}

/// Sets the function a panic inside negsync calls (NULL: none). Without std a panic cannot be
/// turned into `NEGSYNC_PANIC`: negsync calls the hook with the panic message, and if the hook
/// returns, calls `abort()`. Firmware build only (`c-runtime`): declared when the includer
/// defines `NEGSYNC_FIRMWARE`.
///
/// # Safety
/// `hook` never returns into negsync (it resets the device, or loops); it may be called from any
/// thread that uses negsync.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_set_panic_hook(hook: negsync_panic_fn) -> negsync_result {
    PANIC_HOOK.store(hook.map_or(0, |f| f as usize), Ordering::SeqCst);
    NEGSYNC_OK
}

/// What C's malloc guarantees on the targets we build for (8 on 32-bit ARM newlib).
const MALLOC_ALIGN: usize = 8;

struct CAllocator;

impl CAllocator {
    unsafe fn raw_malloc(size: usize) -> *mut u8 {
        match MALLOC.load(Ordering::Relaxed) {
            0 => unsafe { malloc(size) }.cast(),
            f => unsafe {
                core::mem::transmute::<usize, unsafe extern "C" fn(usize) -> *mut c_void>(f)(size)
            }
            .cast(),
        }
    }

    unsafe fn raw_realloc(block: *mut u8, size: usize) -> *mut u8 {
        match REALLOC.load(Ordering::Relaxed) {
            0 => unsafe { realloc(block.cast(), size) }.cast(),
            f => {
                unsafe {
                    core::mem::transmute::<
                        usize,
                        unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void,
                    >(f)(block.cast(), size)
                }
                .cast()
            }
        }
    }

    unsafe fn raw_free(block: *mut u8) {
        match FREE.load(Ordering::Relaxed) {
            0 => unsafe { free(block.cast()) },
            f => unsafe {
                core::mem::transmute::<usize, unsafe extern "C" fn(*mut c_void)>(f)(block.cast())
            },
        }
    }
}

impl CAllocator {
    /// Remembers whether the allocator refused `size` bytes (see `REFUSED`).
    fn note(block: *mut u8, size: usize) -> *mut u8 {
        REFUSED.store(
            if block.is_null() { size.max(1) } else { 0 },
            Ordering::Relaxed,
        );
        block
    }
}

unsafe impl GlobalAlloc for CAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::note(unsafe { self.alloc_unnoted(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { self.dealloc_unnoted(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::note(
            unsafe { self.realloc_unnoted(pointer, layout, new_size) },
            new_size,
        )
    }
}

impl CAllocator {
    unsafe fn alloc_unnoted(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            return unsafe { Self::raw_malloc(layout.size()) };
        }
        // Over-aligned: allocate extra, align inside, and keep the block's start just before.
        let Some(padded) = layout.size().checked_add(layout.align()) else {
            return core::ptr::null_mut();
        };
        let block = unsafe { Self::raw_malloc(padded) };
        if block.is_null() {
            return block;
        }
        let aligned = unsafe { block.add(layout.align() - (block as usize % layout.align())) };
        unsafe { aligned.cast::<*mut u8>().sub(1).write_unaligned(block) };
        aligned
    }

    unsafe fn dealloc_unnoted(&self, pointer: *mut u8, layout: Layout) {
        if layout.align() <= MALLOC_ALIGN {
            unsafe { Self::raw_free(pointer) }
        } else {
            unsafe { Self::raw_free(pointer.cast::<*mut u8>().sub(1).read_unaligned()) }
        }
    }

    unsafe fn realloc_unnoted(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            // In place where the heap can: growing a Vec must not need old + new at once.
            return unsafe { Self::raw_realloc(pointer, new_size) };
        }
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let moved = unsafe { self.alloc_unnoted(new_layout) };
        if !moved.is_null() {
            unsafe {
                core::ptr::copy_nonoverlapping(pointer, moved, layout.size().min(new_size));
                self.dealloc_unnoted(pointer, layout);
            }
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: CAllocator = CAllocator;

// Targets without compare-and-swap (thumbv6m, riscv32imc): portable-atomic performs the
// reference counts' and the set lock's read-modify-write operations inside a critical section,
// which the firmware provides as two C functions (each critical section lasts one such operation).
#[cfg(not(target_has_atomic = "ptr"))]
mod critical {
    unsafe extern "C" {
        /// Provided by the firmware: masks interrupts (and on a multi-core chip takes a hardware
        /// lock) and returns what `negsync_critical_section_exit` needs to restore the state.
        fn negsync_critical_section_enter() -> u32;
        fn negsync_critical_section_exit(state: u32);
    }

    struct CCriticalSection;
    critical_section::set_impl!(CCriticalSection);

    unsafe impl critical_section::Impl for CCriticalSection {
        unsafe fn acquire() -> critical_section::RawRestoreState {
            unsafe { negsync_critical_section_enter() }
        }

        unsafe fn release(state: critical_section::RawRestoreState) {
            unsafe { negsync_critical_section_exit(state) }
        }
    }
}

/// A fixed buffer for the panic message: no allocation while panicking.
struct MessageBuffer {
    bytes: [u8; 160],
    used: usize,
}

impl MessageBuffer {
    fn push(&mut self, text: &[u8]) {
        let room = self.bytes.len() - self.used;
        let taken = text.len().min(room);
        self.bytes[self.used..self.used + taken].copy_from_slice(&text[..taken]);
        self.used += taken;
    }

    fn push_number(&mut self, value: usize) {
        let mut digits = [0; 20];
        self.push(super::call::decimal(value as u64, &mut digits));
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut message = MessageBuffer {
        bytes: [0; 160],
        used: 0,
    };
    // Written without core::fmt, which the firmware image then leaves out (about 3 KB of code
    // on Cortex-M3, measured): a message with arguments is not formatted, except that of an
    // allocation failure, which the allocator noted.
    message.push(b"negsync panicked: ");
    match (info.message().as_str(), REFUSED.load(Ordering::Relaxed)) {
        (Some(text), _) => message.push(text.as_bytes()),
        (None, 0) => message.push(b"(a message this build does not format)"),
        (None, refused) => {
            message.push(b"memory allocation of ");
            message.push_number(refused);
            message.push(b" bytes failed");
        }
    }
    if let Some(location) = info.location() {
        message.push(b" at ");
        message.push(location.file().as_bytes());
        message.push(b":");
        message.push_number(location.line() as usize);
    }
    let hook = PANIC_HOOK.load(Ordering::SeqCst);
    if hook != 0 {
        unsafe {
            core::mem::transmute::<usize, unsafe extern "C" fn(*const c_char, usize)>(hook)(
                message.bytes.as_ptr().cast(),
                message.used,
            )
        };
    }
    unsafe { abort() }
}
