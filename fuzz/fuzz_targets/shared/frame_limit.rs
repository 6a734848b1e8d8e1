//! The frame size limit a fuzz input picks (shared by the responder and initiator targets).

/// 0: no frame limit; else a limit from 128 (radio framing) to 8,127 (the crate's above 4,095).
pub fn frame_limit(choice: u16) -> u64 {
    match choice {
        0 => 0,
        choice => negsync::MIN_FRAME_SIZE_LIMIT + u64::from(choice) % 8000,
    }
}
