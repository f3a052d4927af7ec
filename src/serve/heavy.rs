//! A pool of threads for the requests that take milliseconds (a national `/v1/crisis` answer,
//! the data-quality report), run at a lower scheduling priority than the request workers and
//! the capacity log's writer. On a machine with few cores, a capacity write that arrives while
//! such a query runs then gets a core at once instead of waiting for the query's time slice
//! (the ORSAN target: write acknowledgements within 5 ms under SAMU queries).
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

/// Lowers the calling thread's priority by [`NICE`] (Linux: `setpriority` on the thread id).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread; no memory is shared.
        let result = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, NICE)
        };
        if result != 0 {
            tracing::debug!("could not lower the priority of a heavy-query thread");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn jobs_run_on_the_pool_and_panics_come_back() {
        let pool = HeavyPool::new(2);
        let name = pool.run(|| std::thread::current().name().map(str::to_owned)).await;
        assert!(name.is_some_and(|name| name.starts_with("ror-heavy-")));
        assert_eq!(pool.run(|| 6 * 7).await, 42);
        let pool = Arc::new(pool);
        let caught = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| panic!("boom")).await }
        })
        .await;
        assert!(caught.is_err());
        assert_eq!(pool.run(|| 1).await, 1, "the pool still runs after a panic");
        #[cfg(target_os = "linux")]
        {
            let nice = pool
                .run(|| unsafe {
                    let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                    libc::getpriority(libc::PRIO_PROCESS, tid)
                })
                .await;
            assert!(nice >= NICE.min(19), "{nice}");
        }
    }
}
