//! Arbitrary sequences of C-ABI calls on sets and sessions, as a confused or hostile C program
//! might make them (NULLs, wrong orders, garbage messages): every call returns a defined code, no
//! call crashes, and every buffer handed out is fully readable. Calling `extern "C"` functions
//! needs `unsafe`; this harness is the C caller.
#![no_main]

use std::ptr;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use negsync::ffi::*;

#[derive(Arbitrary, Debug)]
enum Call {
    NewSet,
    FreeSet(u8),
    Insert { set: u8, timestamp: u64, tag: u8 },
    InsertMany { set: u8, count: u8, first_timestamp: u8, null_ids: bool },
    Remove { set: u8, timestamp: u64, tag: u8 },
    Len(u8),
    NewSession { set: u8, frame_limit: u16 },
    FreeSession(u8),
    Initiate(u8),
    /// Feed a session a message taken from another session's last output, or arbitrary bytes.
    ReconcileFrom { session: u8, from: u8 },
    ReconcileBytes { session: u8, bytes: Vec<u8> },
    HaveIds(u8),
    NeedIds(u8),
    SetLimits { session: u8, max_message_size: u16, max_rounds: u8 },
    Panic(u8),
    ForgetIds(u8),
}

const SLOTS: usize = 4;

struct World {
    sets: [*mut negsync_set; SLOTS],
    sessions: [*mut negsync_session; SLOTS],
    /// The last message each session handed out, copied (its buffer dies on the next call).
    outbox: [Vec<u8>; SLOTS],
}

fn slot(index: u8) -> usize {
    usize::from(index) % (SLOTS + 1) // SLOTS itself stands for "pass NULL"
}

impl World {
    fn set(&self, index: u8) -> *mut negsync_set {
        self.sets.get(slot(index)).copied().unwrap_or(ptr::null_mut())
    }

    fn session(&self, index: u8) -> *mut negsync_session {
        self.sessions.get(slot(index)).copied().unwrap_or(ptr::null_mut())
    }
}

fn touch(bytes: *const u8, len: usize) -> Vec<u8> {
    if len == 0 {
        return Vec::new();
    }
    assert!(!bytes.is_null());
    unsafe { std::slice::from_raw_parts(bytes, len) }.to_vec()
}

fn known(code: negsync_result) {
    assert!(code <= NEGSYNC_NO_MEMORY, "undefined result code {code}");
    assert_ne!(code, NEGSYNC_INTERNAL, "internal error reached the C caller");
}

/// libFuzzer's panic hook aborts on every panic, even one the boundary catches. Any panic inside
/// negsync is a finding, except the one `negsync_debug_panic` raises on purpose.
fn allow_deliberate_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&"negsync_debug_panic") {
                fuzzer_hook(info);
            }
        }));
    });
}

fuzz_target!(|calls: Vec<Call>| {
    allow_deliberate_panics();
    let mut world = World {
        sets: [ptr::null_mut(); SLOTS],
        sessions: [ptr::null_mut(); SLOTS],
        outbox: Default::default(),
    };
    unsafe {
        for call in calls.iter().take(64) {
            match *call {
                Call::NewSet => {
                    if let Some(free) = world.sets.iter().position(|s| s.is_null()) {
                        assert_eq!(negsync_set_new(&mut world.sets[free]), NEGSYNC_OK);
                    }
                }
                Call::FreeSet(index) => {
                    let at = slot(index);
                    if at < SLOTS {
                        negsync_set_free(world.sets[at]);
                        world.sets[at] = ptr::null_mut();
                    }
                }
                Call::Insert { set, timestamp, tag } => {
                    known(negsync_set_insert(world.set(set), timestamp, [tag; 32].as_ptr()));
                }
                Call::InsertMany { set, count, first_timestamp, null_ids } => {
                    let count = usize::from(count);
                    let timestamps: Vec<u64> =
                        (0..count as u64).map(|i| u64::from(first_timestamp) + i / 2).collect();
                    let ids: Vec<u8> = (0..count * 32).map(|i| (i * 7 / 32) as u8).collect();
                    let ids = if null_ids { ptr::null() } else { ids.as_ptr() };
                    known(negsync_set_insert_many(world.set(set), timestamps.as_ptr(), ids, count));
                }
                Call::Remove { set, timestamp, tag } => {
                    known(negsync_set_remove(world.set(set), timestamp, [tag; 32].as_ptr()));
                }
                Call::Len(set) => {
                    negsync_set_len(world.set(set));
                }
                Call::NewSession { set, frame_limit } => {
                    if let Some(free) = world.sessions.iter().position(|s| s.is_null()) {
                        let mut session = ptr::null_mut();
                        let code = negsync_session_new(world.set(set), u64::from(frame_limit), &mut session);
                        known(code);
                        assert_eq!(code == NEGSYNC_OK, !session.is_null());
                        world.sessions[free] = session;
                    }
                }
                Call::FreeSession(index) => {
                    let at = slot(index);
                    if at < SLOTS {
                        negsync_session_free(world.sessions[at]);
                        world.sessions[at] = ptr::null_mut();
                        world.outbox[at].clear();
                    }
                }
                Call::Initiate(index) => {
                    let (mut message, mut len) = (ptr::null(), 0usize);
                    let code = negsync_session_initiate(world.session(index), &mut message, &mut len);
                    known(code);
                    if code == NEGSYNC_OK {
                        world.outbox[slot(index)] = touch(message, len);
                    }
                }
                Call::ReconcileFrom { session, from } => {
                    let incoming = world.outbox.get(slot(from)).cloned().unwrap_or_default();
                    reconcile(&mut world, session, &incoming);
                }
                Call::ReconcileBytes { session, ref bytes } => reconcile(&mut world, session, bytes),
                Call::HaveIds(index) | Call::NeedIds(index) => {
                    let (mut ids, mut count) = (ptr::null(), 0usize);
                    let code = match *call {
                        Call::HaveIds(_) => negsync_session_have_ids(world.session(index), &mut ids, &mut count),
                        _ => negsync_session_need_ids(world.session(index), &mut ids, &mut count),
                    };
                    known(code);
                    if code == NEGSYNC_OK {
                        touch(ids, count * NEGSYNC_ID_SIZE);
                    }
                }
                Call::SetLimits { session, max_message_size, max_rounds } => {
                    let limits = negsync_limits {
                        max_message_size: u64::from(max_message_size),
                        max_rounds: u64::from(max_rounds),
                        max_id_bytes: 1 << 20,
                    };
                    known(negsync_session_set_limits(world.session(session), &limits));
                }
                Call::ForgetIds(index) => known(negsync_session_forget_ids(world.session(index))),
                Call::Panic(index) => {
                    let code = negsync_debug_panic(world.session(index));
                    assert!(code == NEGSYNC_PANIC || code == NEGSYNC_WRONG_STATE);
                }
            }
        }
        for set in world.sets {
            negsync_set_free(set);
        }
        for session in world.sessions {
            negsync_session_free(session);
        }
    }
});

unsafe fn reconcile(world: &mut World, index: u8, incoming: &[u8]) {
    let (mut reply, mut len, mut complete) = (ptr::null(), 0usize, false);
    let session = world.session(index);
    let code = unsafe {
        negsync_session_reconcile(session, incoming.as_ptr(), incoming.len(), &mut reply, &mut len, &mut complete)
    };
    known(code);
    if code == NEGSYNC_OK {
        world.outbox[slot(index)] = touch(reply, len);
        assert_eq!(complete, unsafe { negsync_session_is_complete(session) });
    }
    let detail = unsafe { negsync_session_last_error(session) };
    assert!(!detail.is_null());
}
