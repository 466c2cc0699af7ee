//! The worker `motcua serve` runs: it claims due jobs of every kind with a lease, runs the
//! handler registered for each job's kind, renews the lease while the handler runs, and
//! records the outcome (done, retry with backoff, dead). It knows nothing of the handlers:
//! each context registers its own in a [`Registry`] built at start.
//!
//! Several nodes may run workers on one PostgreSQL database; a job is claimed by one of them
//! at a time (`FOR UPDATE SKIP LOCKED`), and a node that dies loses its leases, so its jobs run
//! again elsewhere once the lease expires. Handlers must therefore be idempotent.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::Job;
use crate::{Db, clock};

/// Why a handler did not finish its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// Worth trying again later (a server down, a timeout).
    Retryable(String),
    /// Will fail however often it is tried (a malformed payload, a refused address).
    Permanent(String),
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::Retryable(m) => write!(f, "{m}"),
            JobError::Permanent(m) => write!(f, "permanent: {m}"),
        }
    }
}

/// What a handler is given: the job, and the lease owner running it (for handlers that record
/// who delivered).
#[derive(Debug, Clone)]
pub struct JobRun {
    pub job: Job,
    pub worker: String,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;
type HandlerFn = Arc<dyn Fn(JobRun) -> BoxFuture + Send + Sync>;

/// A kind enqueued by the workers themselves once per period.
#[derive(Debug, Clone)]
struct Recurring {
    kind: &'static str,
    interval: Duration,
    max_attempts: i32,
}

/// The handlers by kind, and the recurring jobs.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<&'static str, HandlerFn>,
    recurring: Vec<Recurring>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers the handler of `kind`; a later registration of the same kind replaces it.
    pub fn register<F, Fut>(&mut self, kind: &'static str, handler: F)
    where
        F: Fn(JobRun) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        self.handlers
            .insert(kind, Arc::new(move |run| Box::pin(handler(run))));
    }

    /// Runs `kind` (which must also be registered) once every `interval`, across all nodes:
    /// each period's occurrence is enqueued under a unique key, so it runs once even when
    /// several nodes or a restart enqueue it.
    pub fn every(&mut self, kind: &'static str, interval: Duration, max_attempts: i32) {
        self.recurring.push(Recurring {
            kind,
            interval,
            max_attempts,
        });
    }

    /// The registered kinds, sorted (the label set of `/metrics`).
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }

    fn get(&self, kind: &str) -> Option<&HandlerFn> {
        self.handlers.get(kind)
    }
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at once by this node.
    pub concurrency: usize,
    /// How long a claim holds a job; renewed every third of it while the handler runs, so a
    /// node that dies gives its jobs back after at most this long.
    pub lease: Duration,
    /// Idle polling starts at `poll_min` and doubles up to `poll_max`; a job enqueued by this
    /// process brings it back to `poll_min` at once.
    pub poll_min: Duration,
    pub poll_max: Duration,
    /// Retry after a failed attempt: `backoff_base · 2^(attempt−1)`, at most `backoff_max`,
    /// with jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// On shutdown, running jobs get this long to finish; the rest are released unrun.
    pub shutdown_grace: Duration,
    /// The lease owner name of this node.
    pub node: String,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 2,
            lease: Duration::from_secs(60),
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_secs(2),
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(3_600),
            shutdown_grace: Duration::from_secs(10),
            node: default_node_name(),
        }
    }
}

/// `node-<pid>-<random>`: unique per process, readable in the admin page.
pub fn default_node_name() -> String {
    let id = crate::new_id();
    let tail = &id[id.len().saturating_sub(6)..];
    format!("node-{}-{tail}", std::process::id())
}

fn wake_signal() -> &'static Notify {
    static WAKE: OnceLock<Notify> = OnceLock::new();
    WAKE.get_or_init(Notify::new)
}

/// Tells this process's worker that a job was just enqueued, so it polls at once rather than
/// at the end of its idle wait. Called by [`super::enqueue_job`]; the job may not be committed
/// yet, so the worker also keeps polling at its shortest interval for a while.
pub fn wake() {
    wake_signal().notify_one();
}

/// A running worker.
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Stops claiming, lets running jobs finish within the grace period, releases the rest.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "job worker ended abnormally");
        }
    }
}

/// Starts a worker on the current runtime.
pub fn start(db: Db, registry: Registry, config: WorkerConfig) -> WorkerHandle {
    let (stop, stopped) = watch::channel(false);
    let worker = Arc::new(Worker {
        db,
        registry,
        config,
        running: Mutex::new(Vec::new()),
    });
    let task = tokio::spawn(worker.dispatch(stopped));
    WorkerHandle { stop, task }
}

struct Worker {
    db: Db,
    registry: Registry,
    config: WorkerConfig,
    /// Ids of the jobs this node is running, to release on shutdown.
    running: Mutex<Vec<String>>,
}

impl Worker {
    fn lease_us(&self) -> i64 {
        self.config.lease.as_micros() as i64
    }

    async fn dispatch(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        let concurrency = self.config.concurrency.max(1);
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut idle = self.config.poll_min;
        let mut periods: HashMap<&'static str, i64> = HashMap::new();
        tracing::info!(
            node = %self.config.node,
            concurrency,
            kinds = ?self.registry.kinds(),
            "job worker started"
        );
        loop {
            if *stopped.borrow() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            self.enqueue_recurring(&mut periods).await;
            let free = concurrency.saturating_sub(tasks.len());
            if free == 0 {
                tokio::select! {
                    _ = tasks.join_next() => {}
                    _ = stopped.changed() => {}
                }
                continue;
            }
            let now = clock::now_us();
            match super::claim_due(
                &self.db,
                &self.config.node,
                free as i64,
                self.lease_us(),
                now,
            )
            .await
            {
                Ok(jobs) if !jobs.is_empty() => {
                    idle = self.config.poll_min;
                    for job in jobs {
                        self.track(&job.id, true);
                        tasks.spawn(Arc::clone(&self).run(job));
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "claiming jobs failed; retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(idle) => {
                    idle = (idle * 2).min(self.config.poll_max.max(self.config.poll_min));
                }
                _ = wake_signal().notified() => idle = self.config.poll_min,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = stopped.changed() => {}
            }
        }
        self.drain(tasks).await;
        tracing::info!(node = %self.config.node, "job worker stopped");
    }

    /// Waits up to the grace period for running jobs, then stops the rest and gives them back.
    async fn drain(&self, mut tasks: JoinSet<()>) {
        let grace = tokio::time::sleep(self.config.shutdown_grace);
        tokio::pin!(grace);
        while !tasks.is_empty() {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = &mut grace => break,
            }
        }
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        let left: Vec<String> = self.running.lock().map(|r| r.clone()).unwrap_or_default();
        for id in left {
            match super::release(&self.db, &id, &self.config.node, clock::now_us()).await {
                Ok(_) => tracing::info!(job = %id, "job released unfinished at shutdown"),
                Err(e) => {
                    tracing::warn!(job = %id, error = %e, "releasing a job failed; its lease will expire")
                }
            }
        }
    }

    fn track(&self, id: &str, running: bool) {
        if let Ok(mut list) = self.running.lock() {
            if running {
                list.push(id.to_owned());
            } else {
                list.retain(|x| x != id);
            }
        }
    }

    /// Enqueues each recurring kind's occurrence once per period seen by this node.
    async fn enqueue_recurring(&self, periods: &mut HashMap<&'static str, i64>) {
        let now = clock::now_us();
        for r in &self.registry.recurring {
            let interval = (r.interval.as_micros() as i64).max(1);
            let period = now.div_euclid(interval);
            if periods.get(r.kind) == Some(&period) {
                continue;
            }
            match super::enqueue_recurring(&self.db, r.kind, interval, r.max_attempts, now).await {
                Ok(_) => {
                    periods.insert(r.kind, period);
                }
                Err(e) => {
                    tracing::warn!(kind = r.kind, error = %e, "enqueueing a recurring job failed")
                }
            }
        }
    }

    async fn run(self: Arc<Self>, job: Job) {
        let id = job.id.clone();
        let outcome = self.execute(job.clone()).await;
        self.record(&job, outcome).await;
        self.track(&id, false);
    }

    /// Runs the handler while renewing the lease. `None`: the lease was lost (another node may
    /// be running the job), so this node stops and records nothing.
    async fn execute(&self, job: Job) -> Option<Result<(), JobError>> {
        if job.attempts > job.max_attempts {
            // The node running the final attempt died: nothing says the attempt did not act.
            return Some(Err(JobError::Permanent(format!(
                "the lease of the final attempt ({}) expired before it finished",
                job.max_attempts
            ))));
        }
        let Some(handler) = self.registry.get(&job.queue) else {
            return Some(Err(JobError::Permanent(format!(
                "no handler is registered for the kind {:?}",
                job.queue
            ))));
        };
        let run = JobRun {
            job: job.clone(),
            worker: self.config.node.clone(),
        };
        let handler = AssertUnwindSafe(handler(run)).catch_unwind();
        tokio::pin!(handler);
        let beat_every = (self.config.lease / 3).max(Duration::from_millis(10));
        let mut beat =
            tokio::time::interval_at(tokio::time::Instant::now() + beat_every, beat_every);
        loop {
            tokio::select! {
                result = &mut handler => {
                    return Some(result.unwrap_or_else(|_| {
                        Err(JobError::Retryable("the handler panicked".into()))
                    }));
                }
                _ = beat.tick() => {
                    match super::renew(&self.db, &job.id, &self.config.node, self.lease_us(), clock::now_us()).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(job = %job.id, kind = %job.queue, "job lease lost; abandoning this run");
                            return None;
                        }
                        Err(e) => tracing::warn!(job = %job.id, error = %e, "renewing a job lease failed"),
                    }
                }
            }
        }
    }

    async fn record(&self, job: &Job, outcome: Option<Result<(), JobError>>) {
        let now = clock::now_us();
        let node = &self.config.node;
        let recorded = match &outcome {
            None => return,
            Some(Ok(())) => super::complete(&self.db, &job.id, node, now)
                .await
                .map(|held| held.then_some("done")),
            Some(Err(JobError::Permanent(msg))) => {
                super::fail_permanently(&self.db, &job.id, node, msg, now)
                    .await
                    .map(|held| held.then_some("dead"))
            }
            Some(Err(JobError::Retryable(msg))) => {
                let wait = super::backoff_us(
                    job.attempts,
                    self.config.backoff_base.as_micros() as i64,
                    self.config.backoff_max.as_micros() as i64,
                    jitter(&job.id, job.attempts),
                );
                super::fail(&self.db, &job.id, node, msg, now + wait, now)
                    .await
                    .map(|o| match o {
                        super::FailOutcome::Retry(_) => Some("retry"),
                        super::FailOutcome::Dead => Some("dead"),
                        super::FailOutcome::NotHeld => None,
                    })
            }
        };
        // The error text is kept in the row; payloads are never logged (they may carry codes).
        match recorded {
            Ok(Some(state)) => {
                tracing::debug!(job = %job.id, kind = %job.queue, attempt = job.attempts, state, "job attempt recorded")
            }
            Ok(None) => {
                tracing::warn!(job = %job.id, kind = %job.queue, "job finished after its lease was taken over; outcome not recorded")
            }
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "recording a job outcome failed; its lease will expire")
            }
        }
        if let Some(Err(e)) = &outcome {
            tracing::info!(job = %job.id, kind = %job.queue, attempt = job.attempts, error = %e, "job attempt failed");
        }
    }
}

/// A number in [0, 1] from the process's random hasher keys, so retries spread out.
fn jitter(id: &str, attempts: i32) -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(id.as_bytes());
    h.write_i32(attempts);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}
