//! How background threads (the access log's, a bulk import's validators) share cores with the
//! work that must not wait for them (Linux; elsewhere these are no-ops).
//!
//! Measured on one core under load (BENCHMARKS.md): the journal writer's time from entry to
//! acknowledgement is set less by the disk (an overwrite sync takes about 0.15 ms) than by
//! how soon the scheduler runs the writer again after its sleep or sync. A normal thread may
//! wait out the running thread's whole time slice (several ms). Asking for a short slice
//! (EEVDF's `sched_runtime` for normal threads, Linux 6.12+) gives the writer an early
//! deadline, so it runs promptly when it wakes and briefly when it runs. The ingester runs
//! under `SCHED_IDLE`: only when nothing else wants the core, and any waking request thread
//! preempts it. While other work keeps every core busy the copy waits; the synced journal
//! holds the entries meanwhile, and readers wait for the copy (`AccessLog::flush`).

/// Background threads give the core back after this many units of work (a record decoded or
/// inserted: a few microseconds each).
const PACE_EVERY: u32 = 32;

/// Makes a background thread's long stretches of computation yield the core often.
///
/// A request thread woken from another core (its socket received data there) onto a core
/// running a background thread does not always preempt it at once: under lazy preemption
/// (Linux 6.13+) the switch waits for the core's next timer tick, several milliseconds, or
/// for the background thread's next system call. Measured with `perf sched` under load: the
/// `SCHED_IDLE` ingester ran 6.5 ms in SQLite code while a request thread waited. A yield
/// every few dozen records is such a system call, and costs about a microsecond when nothing
/// else is waiting.
#[derive(Default)]
pub struct Pacer {
    done: u32,
}

impl Pacer {
    /// Counts one unit of work, yielding the core every [`PACE_EVERY`].
    pub fn step(&mut self) {
        self.done += 1;
        if self.done >= PACE_EVERY {
            self.done = 0;
            std::thread::yield_now();
        }
    }
}

/// The slice the journal writer asks for: it runs for tens of microseconds at a time.
const WRITER_SLICE_NS: u64 = 100_000;

/// For the journal writer thread: a short time slice. Older kernels ignore the request.
pub fn prefer_short_slices() {
    #[cfg(target_os = "linux")]
    if let Err(e) = linux::set_current_thread(linux::SCHED_NORMAL, WRITER_SLICE_NS) {
        tracing::warn!(error = %e, "cannot request a short time slice for the access-log writer");
    }
}

/// For background work: run only when the core is otherwise idle.
pub fn run_when_idle() {
    #[cfg(target_os = "linux")]
    if let Err(e) = linux::set_current_thread(linux::SCHED_IDLE, 0) {
        tracing::warn!(error = %e, "cannot move a background thread to SCHED_IDLE");
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod linux {
    pub const SCHED_NORMAL: u32 = 0;
    pub const SCHED_IDLE: u32 = 5;

    /// `struct sched_attr` of sched_setattr(2), version 1 (with utilisation clamps).
    #[repr(C)]
    struct SchedAttr {
        size: u32,
        policy: u32,
        flags: u64,
        nice: i32,
        priority: u32,
        runtime: u64,
        deadline: u64,
        period: u64,
        util_min: u32,
        util_max: u32,
    }

    /// Sets the calling thread's policy and, for normal threads, its requested slice.
    pub fn set_current_thread(policy: u32, slice_ns: u64) -> std::io::Result<()> {
        let attr = SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            policy,
            flags: 0,
            nice: 0,
            priority: 0,
            runtime: slice_ns,
            deadline: 0,
            period: 0,
            util_min: 0,
            util_max: 0,
        };
        // SAFETY: sched_setattr reads `size` bytes from a valid, initialised `SchedAttr` that
        // outlives the call; pid 0 names the calling thread. No memory is written.
        let r = unsafe {
            libc::syscall(
                libc::SYS_sched_setattr,
                0 as libc::pid_t,
                &attr as *const SchedAttr,
                0 as libc::c_uint,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::linux::{SCHED_IDLE, SCHED_NORMAL};

    /// The scheduling policy of the calling thread: field 41 of `/proc/thread-self/stat`.
    fn policy() -> Option<u32> {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
        // The command name (field 2) may hold spaces; fields are counted after its ')'.
        let after = stat.get(stat.rfind(')')? + 2..)?;
        after.split(' ').nth(41 - 3)?.parse().ok()
    }

    #[test]
    fn background_threads_move_to_sched_idle_and_the_writer_stays_normal() {
        let moved = std::thread::spawn(|| {
            super::prefer_short_slices();
            let writer = policy();
            super::run_when_idle();
            (writer, policy())
        })
        .join();
        assert!(matches!(moved, Ok((Some(SCHED_NORMAL), Some(SCHED_IDLE)))));
        // Only the thread that asked was moved.
        assert_eq!(policy(), Some(SCHED_NORMAL));
    }
}
