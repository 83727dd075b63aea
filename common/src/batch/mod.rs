//! Group commit: writes from many concurrent callers share one transaction, so one commit (one
//! fsync on SQLite, one WAL flush on PostgreSQL) serves a whole batch. The embedded queue's
//! inserts and deletes and the ledger's claims and completions go through a [`WriteBatcher`].
//!
//! A writer task (one on SQLite, a few side by side on PostgreSQL) runs each batch's writes in
//! turn in one transaction and commits it. A caller is answered only after the commit, so what
//! it wrote is durable when it hears Ok, exactly as with a transaction of its own. Batches form
//! on their own while the previous commit runs; with [`CommitLimits::wait`] a small batch also
//! waits a moment for more. If any write of a batch fails, the whole batch is rolled back and
//! every caller in it gets an error (PostgreSQL would otherwise roll the aborted transaction
//! back at commit without saying so): nothing is ever reported done that was not committed,
//! and each caller retries as it would after a failed write of its own.
mod combine;

use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

pub use self::combine::{Apply, Combiner};

/// How big a batch may grow and how long the writer waits for it to grow
/// (`database.group_commit_rows`, `database.group_commit_wait_us`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitLimits {
    /// Most writes in one transaction (1: each its own).
    pub max_rows: usize,
    /// Longest wait for more writes once the first of a batch arrived (zero: none; what
    /// arrived while the previous commit ran is batched either way).
    pub wait: Duration,
}

impl Default for CommitLimits {
    fn default() -> Self {
        crate::config::DatabaseSettings::default().group_commit()
    }
}

/// How much a batcher batched: writes per commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Transactions committed.
    pub commits: u64,
    /// Writes they held.
    pub writes: u64,
}

/// The transaction a write runs in (shared by the batch's writes, one after another).
pub type Batch = Arc<DatabaseTransaction>;

type Output = Box<dyn Any + Send>;
/// Where one caller hears how its write ended.
type Answer = oneshot::Sender<Result<Output, DbErr>>;

/// One caller's write, and where its result goes once the batch ended.
struct Job {
    run: Box<dyn FnOnce(Batch) -> BoxFuture<'static, Result<Output, DbErr>> + Send>,
    done: Answer,
}

/// How many writes wait for the writer at most before callers wait to hand theirs over.
const BACKLOG: usize = 4096;

/// Hands writes to a writer task that commits them in batches; cheap to clone. The task starts
/// with the first write (on the caller's runtime) and ends, after the writes it was given,
/// when the last clone is dropped.
#[derive(Clone)]
pub struct WriteBatcher {
    db: DatabaseConnection,
    limits: CommitLimits,
    jobs: Arc<OnceLock<mpsc::Sender<Job>>>,
    stats: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    writes: AtomicU64,
}

impl WriteBatcher {
    /// A batcher over `db`.
    pub fn new(db: DatabaseConnection, limits: CommitLimits) -> Self {
        Self {
            db,
            limits,
            jobs: Arc::new(OnceLock::new()),
            stats: Arc::new(Counters::default()),
        }
    }

    /// Its limits.
    pub fn limits(&self) -> CommitLimits {
        self.limits
    }

    /// Commits and writes so far.
    pub fn stats(&self) -> CommitStats {
        CommitStats {
            commits: self.stats.commits.load(Ordering::Relaxed),
            writes: self.stats.writes.load(Ordering::Relaxed),
        }
    }

    /// Runs `write` in the next batch's transaction and returns its result once the batch
    /// committed (an error if it did not). `write` must keep no clone of the transaction once
    /// it finished, and must return Ok for outcomes it expects (a row that was there
    /// already): an error fails the whole batch.
    pub async fn write<T, F, Fut>(&self, write: F) -> Result<T, DbErr>
    where
        F: FnOnce(Batch) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, DbErr>> + Send + 'static,
        T: Send + 'static,
    {
        if self.limits.max_rows <= 1 {
            return self.write_alone(write).await;
        }
        let (done, committed) = oneshot::channel();
        let run = Box::new(
            move |batch: Batch| -> BoxFuture<'static, Result<Output, DbErr>> {
                Box::pin(async move { write(batch).await.map(|value| Box::new(value) as Output) })
            },
        );
        let stopped = || DbErr::Custom("the database writer has stopped".into());
        self.sender()
            .send(Job { run, done })
            .await
            .map_err(|_| stopped())?;
        let output = committed.await.map_err(|_| stopped())??;
        output
            .downcast::<T>()
            .map(|value| *value)
            .map_err(|_| DbErr::Custom("a write's result had another type".into()))
    }

    /// Group commit off (`database.group_commit_rows` 1): the write in a transaction of its
    /// own, on any connection of the pool, at once (concurrent writes run side by side).
    async fn write_alone<T, F, Fut>(&self, write: F) -> Result<T, DbErr>
    where
        F: FnOnce(Batch) -> Fut,
        Fut: Future<Output = Result<T, DbErr>>,
    {
        let transaction = Arc::new(self.db.begin().await?);
        let result = write(transaction.clone()).await?;
        let transaction = Arc::try_unwrap(transaction)
            .map_err(|_| DbErr::Custom("a write kept its transaction".into()))?;
        transaction.commit().await?;
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        self.stats.writes.fetch_add(1, Ordering::Relaxed);
        Ok(result)
    }

    fn sender(&self) -> &mpsc::Sender<Job> {
        self.jobs.get_or_init(|| {
            let (jobs, receiver) = mpsc::channel(BACKLOG);
            let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
            for _ in 0..writers(&self.db) {
                tokio::spawn(write_batches(
                    self.db.clone(),
                    receiver.clone(),
                    self.limits,
                    self.stats.clone(),
                ));
            }
            jobs
        })
    }
}

/// Writer tasks per batcher: SQLite has one writer at a time, so one; PostgreSQL commits
/// transactions side by side, so while one batch commits (a WAL flush and a round trip per
/// statement) others gather and run.
fn writers(db: &DatabaseConnection) -> usize {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => 1,
        _ => POSTGRES_WRITERS,
    }
}

/// Writer tasks on PostgreSQL: a few of the pool's connections (`database.max_connections`,
/// 10 by default), leaving the rest to reads.
const POSTGRES_WRITERS: usize = 3;

async fn write_batches(
    db: DatabaseConnection,
    jobs: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    limits: CommitLimits,
    stats: Arc<Counters>,
) {
    let max_rows = limits.max_rows.max(1);
    let mut batch = Vec::with_capacity(max_rows);
    loop {
        {
            // One writer gathers at a time; the others run their batches meanwhile.
            let mut jobs = jobs.lock().await;
            let Some(first) = jobs.recv().await else {
                return;
            };
            batch.push(first);
            gather(&mut jobs, &mut batch, max_rows, limits.wait).await;
        }
        let count = batch.len();
        if run_batch(&db, batch.drain(..)).await {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats.writes.fetch_add(count as u64, Ordering::Relaxed);
        }
    }
}

/// Runs the jobs in one transaction and commits it unless one failed, then answers every
/// caller. Whether the batch was committed.
async fn run_batch(db: &DatabaseConnection, jobs: impl Iterator<Item = Job>) -> bool {
    let mut jobs = jobs.into_iter();
    let transaction = match db.begin().await {
        Ok(transaction) => Arc::new(transaction),
        Err(error) => {
            let reason = format!("the batch's transaction did not start: {error}");
            refuse(Vec::new(), jobs, &reason);
            return false;
        }
    };
    let mut ran = Vec::new();
    let mut failed = false;
    for Job { run, done } in jobs.by_ref() {
        let result = run(transaction.clone()).await;
        failed = result.is_err();
        ran.push((done, result));
        if failed {
            break;
        }
    }
    let ended = if failed {
        // Dropping the transaction rolls it back.
        drop(transaction);
        Err("another write in the same batch failed; nothing of the batch was written".to_owned())
    } else {
        match Arc::try_unwrap(transaction) {
            Ok(transaction) => transaction
                .commit()
                .await
                .map_err(|error| format!("the batch's commit failed: {error}")),
            Err(_) => Err("a write kept the batch's transaction; it was rolled back".to_owned()),
        }
    };
    match ended {
        Ok(()) => {
            for (done, result) in ran {
                let _ = done.send(result);
            }
            true
        }
        Err(reason) => {
            tracing::warn!(%reason, "a batch of writes was rolled back");
            refuse(ran, jobs, &reason);
            false
        }
    }
}

/// Answers every caller of a batch that was not committed: a write that failed with its own
/// error, the others with `reason`.
fn refuse(
    ran: Vec<(Answer, Result<Output, DbErr>)>,
    not_run: impl Iterator<Item = Job>,
    reason: &str,
) {
    let not_run = not_run.map(|job| (job.done, Ok(Box::new(()) as Output)));
    for (done, result) in ran.into_iter().chain(not_run) {
        let error = result
            .err()
            .unwrap_or_else(|| DbErr::Custom(reason.to_owned()));
        let _ = done.send(Err(error));
    }
}

/// Adds what is already waiting to `batch`, then, while it is smaller than `max_rows`, what
/// arrives within `wait`.
async fn gather(
    jobs: &mut mpsc::Receiver<Job>,
    batch: &mut Vec<Job>,
    max_rows: usize,
    wait: Duration,
) {
    while batch.len() < max_rows {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    if wait.is_zero() {
        return;
    }
    let deadline = Instant::now() + wait;
    while batch.len() < max_rows {
        match tokio::time::timeout_at(deadline, jobs.recv()).await {
            Ok(Some(job)) => batch.push(job),
            Ok(None) | Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::future::join_all;
    use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement};

    use super::*;
    use crate::entities::local_queue::Entity as Queue;
    use crate::envelope::EventEnvelope;
    use crate::queue::lane::Lane;
    use crate::queue::local::LocalQueue;

    async fn file_db(dir: &tempfile::TempDir) -> DatabaseConnection {
        let url = format!("sqlite://{}", dir.path().join("q.db").display());
        let db = crate::db::connect(&url).await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        db
    }

    fn event(n: usize) -> EventEnvelope {
        let client_key = crate::tenant::ClientKey::parse("ck").expect("a key");
        crate::envelope::test_event(&client_key, Some(format!("wh-{n}")), "{}")
    }

    async fn rows(db: &DatabaseConnection) -> u64 {
        Queue::find().count(db).await.unwrap()
    }

    fn queue(db: &DatabaseConnection, limits: CommitLimits) -> LocalQueue {
        LocalQueue::with_batcher(db.clone(), WriteBatcher::new(db.clone(), limits))
    }

    #[tokio::test]
    async fn concurrent_pushes_share_commits_and_statements_and_every_one_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(&dir).await;
        let queue = queue(&db, CommitLimits::default());
        let events: Vec<_> = (0..300).map(event).collect();
        let pushed = join_all(events.iter().map(|e| queue.push(e, Lane::Main))).await;
        assert!(pushed.iter().all(Result::is_ok), "{pushed:?}");
        assert_eq!(rows(&db).await, 300);
        let stats = queue.commit_stats();
        assert!(stats.commits < 10, "300 concurrent pushes took {stats:?}");
        assert!(
            (2..10).contains(&stats.writes),
            "300 pushes are at least two statements of at most 256 rows, and few: {stats:?}"
        );
        let claimed = queue
            .claim(Lane::Main, 300, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 300);
        let acked = join_all(claimed.iter().map(|d| queue.ack(d.id))).await;
        assert!(acked.iter().all(Result::is_ok));
        assert_eq!(rows(&db).await, 0);
    }

    #[tokio::test]
    async fn with_one_row_a_batch_every_write_commits_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(&dir).await;
        let limits = CommitLimits {
            max_rows: 1,
            wait: Duration::ZERO,
        };
        let queue = queue(&db, limits);
        let events: Vec<_> = (0..20).map(event).collect();
        let pushed = join_all(events.iter().map(|e| queue.push(e, Lane::Main))).await;
        assert!(pushed.iter().all(Result::is_ok), "{pushed:?}");
        assert_eq!(rows(&db).await, 20);
        let stats = queue.commit_stats();
        assert_eq!((stats.commits, stats.writes), (20, 20));
    }

    #[tokio::test]
    async fn a_batch_keeps_to_its_row_limit() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(&dir).await;
        let limits = CommitLimits {
            max_rows: 8,
            wait: Duration::from_millis(2),
        };
        let writes = WriteBatcher::new(db.clone(), limits);
        let counts =
            (0..40).map(|_| writes.write(|b| async move { Queue::find().count(&*b).await }));
        let counted = join_all(counts).await;
        assert!(counted.iter().all(Result::is_ok));
        assert!(writes.stats().commits >= 5, "{:?}", writes.stats());
    }

    #[tokio::test]
    async fn one_failed_write_fails_its_whole_batch_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(&dir).await;
        let writes = WriteBatcher::new(db.clone(), CommitLimits::default());
        let queue = LocalQueue::with_batcher(db.clone(), writes.clone());
        let events: Vec<_> = (0..5).map(event).collect();
        let broken = writes.write(|batch| async move {
            batch
                .execute(Statement::from_string(
                    batch.get_database_backend(),
                    "INSERT INTO no_such_table VALUES (1)",
                ))
                .await
        });
        // Queued together: the good writes and the broken one land in one batch.
        let (pushed, broken) = tokio::join!(
            join_all(events.iter().map(|e| queue.push(e, Lane::Main))),
            broken
        );
        assert!(broken.is_err());
        let failed = pushed.iter().filter(|p| p.is_err()).count();
        let stored = rows(&db).await;
        assert_eq!(
            stored + failed as u64,
            5,
            "every write is either stored and Ok, or not stored and failed: {pushed:?}"
        );
        assert!(
            failed > 0,
            "the broken write shared a batch with some of them"
        );
        queue.push(&event(9), Lane::Main).await.unwrap();
        assert_eq!(rows(&db).await, stored + 1);
    }

    #[tokio::test]
    async fn a_write_sees_what_earlier_writes_of_its_batch_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(&dir).await;
        let sql = |text: &str| Statement::from_string(db.get_database_backend(), text.to_owned());
        db.execute(sql("CREATE TABLE t (x INTEGER)")).await.unwrap();
        let writes = WriteBatcher::new(db.clone(), CommitLimits::default());
        let (insert, count) = (
            sql("INSERT INTO t VALUES (1)"),
            sql("SELECT COUNT(*) AS n FROM t"),
        );
        let inserted = writes.write(move |b| async move { b.execute(insert).await });
        let counted = writes.write(move |b| async move {
            let row = b.query_one(count).await?.expect("a row");
            row.try_get::<i64>("", "n")
        });
        let (inserted, counted) = tokio::join!(inserted, counted);
        inserted.unwrap();
        assert_eq!(counted.unwrap(), 1);
    }
}
