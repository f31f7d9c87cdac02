//! Real-time scheduling for the threads that keep time: servo polling in the
//! recorder and, in the emulators, the servo buses that stand in for
//! hardware. With SCHED_FIFO a 200 Hz poll is not delayed by encoders and
//! compressors on a busy robot computer. Without the privilege (no
//! CAP_SYS_NICE / rtprio limit) the thread keeps its normal priority.

use thread_priority::{
    set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy, ThreadPriority,
    ThreadPriorityValue, ThreadSchedulePolicy,
};

/// Priority of recorder device threads that poll hardware.
pub const DEVICE_PRIORITY: u8 = 10;
/// Priority of emulated hardware (above the recorder: it is "the device").
pub const EMULATOR_PRIORITY: u8 = 20;

/// Moves the calling thread to SCHED_FIFO at `priority` (1–99); false if
/// the system refused.
pub fn make_current_thread_realtime(priority: u8) -> bool {
    let Ok(value) = ThreadPriorityValue::try_from(priority) else {
        return false;
    };
    let p = ThreadPriority::Crossplatform(value);
    set_thread_priority_and_policy(
        thread_native_id(),
        p,
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
    )
    .is_ok()
}
