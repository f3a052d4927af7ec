//! A pool of threads for the requests that take milliseconds (a national `/v1/crisis` answer,
//! the data-quality report), scheduled below the request workers and the capacity log's writer.
//! On a machine with few cores, a capacity write that arrives while such a query runs then gets
//! a core at once instead of waiting for the query's time slice (the ORSAN target: write
//! acknowledgements within 5 ms under SAMU queries).
//!
//! On Linux the threads run under `SCHED_IDLE`: the scheduler preempts them as soon as any
//! normal thread wakes up (EEVDF and CFS alike check this first at every wake-up), whereas a
//! niced thread keeps its slice until a woken thread's deadline comes before its own. Where
//! `SCHED_IDLE` is refused they are niced by [`NICE`] instead.
//!
//! The threads start at the first job; they stop when the pool is dropped.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

type Job = Box<dyn FnOnce() + Send>;

/// How much lower than the other threads the pool's threads run (the `nice` increment).
pub const NICE: i32 = 10;

/// The pool.
pub struct HeavyPool {
    threads: usize,
    sender: OnceLock<Mutex<Sender<Job>>>,
}

impl std::fmt::Debug for HeavyPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeavyPool").field("threads", &self.threads).finish()
    }
}

impl HeavyPool {
    /// A pool of `threads` threads (at least one).
    pub fn new(threads: usize) -> HeavyPool {
        HeavyPool { threads: threads.max(1), sender: OnceLock::new() }
    }

    fn sender(&self) -> &Mutex<Sender<Job>> {
        self.sender.get_or_init(|| {
            let (sender, receiver) = channel::<Job>();
            let receiver = Arc::new(Mutex::new(receiver));
            for index in 0..self.threads {
                let receiver = receiver.clone();
                let spawned = std::thread::Builder::new().name(format!("ror-heavy-{index}")).spawn(move || {
                    lower_priority();
                    work(&receiver);
                });
                if let Err(error) = spawned {
                    tracing::error!(%error, "heavy-query thread not started");
                }
            }
            Mutex::new(sender)
        })
    }

    /// Runs `job` on the pool and waits for its result; a panic in it resumes here (and the
    /// service's panic catcher answers 500). Runs it in place when the pool has no thread left.
    pub async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> T {
        let (result_sender, result) = tokio::sync::oneshot::channel();
        let wrapped: Job = Box::new(move || {
            let _ = result_sender.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)));
        });
        let sent = self.sender().lock().unwrap_or_else(PoisonError::into_inner).send(wrapped);
        let outcome = match sent {
            Ok(()) => result.await.ok(),
            Err(returned) => {
                // No thread: run it here.
                (returned.0)();
                result.await.ok()
            }
        };
        match outcome {
            Some(Ok(value)) => value,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => panic!("a heavy-query thread stopped"),
        }
    }
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = receiver.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// Puts the calling thread below every normal thread: `SCHED_IDLE`, or nice [`NICE`] where
/// that policy is refused (Linux: on the thread id; elsewhere nothing).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread, with a parameter block that lives
        // through the call; no memory is shared.
        let idle = unsafe {
            let parameters = libc::sched_param { sched_priority: 0 };
            libc::sched_setscheduler(0, libc::SCHED_IDLE, &raw const parameters)
        };
        if idle == 0 {
            return;
        }
        // SAFETY: as above.
        let niced = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, NICE)
        };
        if niced != 0 {
            tracing::debug!("could not lower the priority of a heavy-query thread");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_pool_below_normal_threads() {
        let pool = HeavyPool::new(2);
        let (name, policy) = pool
            .run(|| {
                let name = std::thread::current().name().map(str::to_owned);
                // SAFETY: reads the calling thread's scheduling policy.
                #[cfg(target_os = "linux")]
                let policy = unsafe { libc::sched_getscheduler(0) };
                #[cfg(not(target_os = "linux"))]
                let policy = 0;
                (name, policy)
            })
            .await;
        assert!(name.is_some_and(|name| name.starts_with("ror-heavy-")));
        #[cfg(target_os = "linux")]
        assert_eq!(policy, libc::SCHED_IDLE, "a heavy thread runs under SCHED_IDLE");
        let _ = policy;
        // the caller's own thread is untouched
        #[cfg(target_os = "linux")]
        // SAFETY: as above.
        assert_eq!(unsafe { libc::sched_getscheduler(0) }, libc::SCHED_OTHER);
    }

    #[tokio::test]
    async fn a_panicking_job_resumes_its_panic_in_the_caller_and_the_pool_goes_on() {
        let pool = Arc::new(HeavyPool::new(1));
        let caught = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| panic!("boom")).await }
        })
        .await;
        assert!(caught.is_err_and(|error| error.is_panic()));
        assert_eq!(pool.run(|| 41 + 1).await, 42);
    }
}
