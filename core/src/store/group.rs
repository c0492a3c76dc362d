//! Group commit: writes that arrive at the same moment share one durable commit.
//!
//! A durable commit costs one `fdatasync` of every page the transaction touched, about as
//! much as the writes themselves on this class of box (see ARCHITECTURE.md, "Group commit").
//! When several clients post at once (phones at a goods-in door, a plugin, the console),
//! one caller leads: it takes every write queued so far, runs them one after another in one
//! transaction (each with its own actor and audit entries, each seeing the ones before it),
//! commits once and hands every caller its own result. Writes that arrive meanwhile queue
//! up; when the leader is done it hands the lead to the first of them, who takes them all.
//! Callers wait for the commit that carries their write, so a result still means "on disk".
//!
//! A write that fails is taken out and answered with its error; the transaction is thrown
//! away and the others run again without it, so a refused write never leaves a trace and
//! never takes the others down. Writes therefore must be repeatable (`FnMut`): they are
//! run again when a neighbour fails.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};

use super::journal::{self, Batch, Journal, Kind, Logged};
use super::{Actor, StoreError, WriteTx, audit};

/// The queue of waiting writes, and whether someone leads.
pub(super) struct Group {
    queue: Mutex<Queue>,
    /// Where batches of logged writes are journaled (see `store/journal.rs`).
    journal: Mutex<Journal>,
    kinds: &'static [Kind],
    /// Schema version journaled with each batch.
    schema: u64,
    /// Writes answered and commits made, for `/metrics` (their ratio is the batch size).
    writes: AtomicU64,
    commits: AtomicU64,
    /// Batches made durable by the journal, checkpoints, batches redone at open.
    journaled: AtomicU64,
    checkpoints: AtomicU64,
    redone: u64,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Box<dyn Job>>,
    leading: bool,
}

/// What a waiting caller hears: its result, or that it now leads.
enum Msg<T, E> {
    Done(Result<T, E>),
    Lead,
}

/// One queued write, with its type erased so writes of any result type share the queue.
trait Job: Send {
    fn actor(&self) -> &Actor;
    fn logged(&self) -> Option<&Logged>;
    /// Runs the write; false when it failed (its error is kept for `finish`).
    fn run(&mut self, w: &mut WriteTx) -> bool;
    /// Replaces the outcome with a store error (an audit append or the commit failed).
    fn fail(&mut self, e: StoreError);
    /// Hands the caller its outcome.
    fn finish(self: Box<Self>);
    /// Tells the caller to lead the next batch.
    fn promote(&self);
}

struct Grouped<T, E, F> {
    actor: Actor,
    /// What the journal records to redo this write; None: the batch commits durably.
    logged: Option<Logged>,
    f: F,
    out: Option<Result<T, E>>,
    tx: mpsc::SyncSender<Msg<T, E>>,
}

impl<T, E, F> Job for Grouped<T, E, F>
where
    T: Send,
    E: From<StoreError> + Send,
    F: FnMut(&mut WriteTx) -> Result<T, E> + Send,
{
    fn actor(&self) -> &Actor {
        &self.actor
    }

    fn logged(&self) -> Option<&Logged> {
        self.logged.as_ref()
    }

    fn run(&mut self, w: &mut WriteTx) -> bool {
        let r = (self.f)(w);
        let ok = r.is_ok();
        self.out = Some(r);
        ok
    }

    fn fail(&mut self, e: StoreError) {
        self.out = Some(Err(E::from(e)));
    }

    fn finish(self: Box<Self>) {
        let out = self
            .out
            .unwrap_or_else(|| Err(E::from(StoreError::Db("the write was not run".into()))));
        // the caller may be gone (a panicking leader unwinds through it): nothing to tell
        let _ = self.tx.send(Msg::Done(out));
    }

    fn promote(&self) {
        let _ = self.tx.send(Msg::Lead);
    }
}

/// The lead, while held: dropped (also when a write panics), it passes to the first
/// waiting write's caller, or lapses when nobody waits.
struct Baton<'a>(&'a Group);

impl Drop for Baton<'_> {
    fn drop(&mut self) {
        let mut q = self.0.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match q.jobs.first() {
            Some(next) => next.promote(),
            None => q.leading = false,
        }
    }
}

impl Group {
    pub(super) fn new(journal: Journal, kinds: &'static [Kind], schema: u64, redone: u64) -> Group {
        Group {
            queue: Mutex::default(),
            journal: Mutex::new(journal),
            kinds,
            schema,
            writes: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            journaled: AtomicU64::new(0),
            checkpoints: AtomicU64::new(0),
            redone,
        }
    }

    /// True when the journal can redo writes of `kind`.
    pub(super) fn knows(&self, kind: &str) -> bool {
        self.kinds.iter().any(|k| k.name == kind)
    }

    /// Queues `f` and returns once the commit that carries it is durable (or it failed):
    /// durable by the journal when `logged` says how to redo it, else by the commit itself.
    pub(super) fn write<T, E, F>(
        &self,
        db: &redb::Database,
        actor: &Actor,
        logged: Option<Logged>,
        f: F,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnMut(&mut WriteTx) -> Result<T, E> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let lead_now = {
            let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            q.jobs.push(Box::new(Grouped {
                actor: actor.clone(),
                logged,
                f,
                out: None,
                tx,
            }));
            !std::mem::replace(&mut q.leading, true)
        };
        if lead_now {
            self.lead_once(db);
        }
        loop {
            match rx.recv() {
                Ok(Msg::Done(r)) => return r,
                Ok(Msg::Lead) => self.lead_once(db),
                Err(_) => {
                    return Err(E::from(StoreError::Db(
                        "the write was lost: the transaction carrying it panicked".into(),
                    )));
                }
            }
        }
    }

    /// Takes every queued write (the caller's own among them) and commits them.
    fn lead_once(&self, db: &redb::Database) {
        let _baton = Baton(self);
        let jobs = std::mem::take(
            &mut self
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .jobs,
        );
        self.writes.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        let commits = self.lead(db, jobs);
        self.commits.fetch_add(commits, Ordering::Relaxed);
    }

    /// (writes answered, transactions committed) since the store was opened.
    pub(super) fn stats(&self) -> (u64, u64) {
        (
            self.writes.load(Ordering::Relaxed),
            self.commits.load(Ordering::Relaxed),
        )
    }

    /// (batches journaled, checkpoints, batches redone at open).
    pub(super) fn journal_stats(&self) -> (u64, u64, u64) {
        (
            self.journaled.load(Ordering::Relaxed),
            self.checkpoints.load(Ordering::Relaxed),
            self.redone,
        )
    }

    /// A durable commit of nothing (it persists every buffered batch), then an empty journal.
    pub(super) fn checkpoint(&self, db: &redb::Database) -> Result<(), StoreError> {
        let _baton = self.hold_lead();
        let mut j = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        if j.is_empty() {
            return Ok(());
        }
        db.begin_write()?.commit()?;
        self.checkpoints.fetch_add(1, Ordering::Relaxed);
        j.reset().map_err(|e| StoreError::Journal {
            path: j.path().to_path_buf(),
            detail: e.to_string(),
        })
    }

    /// Waits until nobody leads and takes the lead (for a checkpoint outside a batch).
    fn hold_lead(&self) -> Baton<'_> {
        loop {
            {
                let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if !q.leading {
                    q.leading = true;
                    return Baton(self);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Runs a batch of writes in one transaction and commits once (see the module comment);
    /// returns how many transactions it committed.
    fn lead(&self, db: &redb::Database, mut jobs: Vec<Box<dyn Job>>) -> u64 {
        let mut commits = 0;
        while !jobs.is_empty() {
            let n = self.lead_batch(db, &mut jobs);
            commits += n;
        }
        commits
    }

    /// Runs the writes once: a failing one is answered and taken out (0 commits, the caller
    /// runs the rest again), else all are committed and answered (1 commit).
    fn lead_batch(&self, db: &redb::Database, jobs: &mut Vec<Box<dyn Job>>) -> u64 {
        let tx = match db.begin_write() {
            Ok(tx) => tx,
            Err(e) => {
                let msg = e.to_string();
                for mut j in jobs.drain(..) {
                    j.fail(StoreError::Db(msg.clone()));
                    j.finish();
                }
                return 0;
            }
        };
        let at_ms = crate::util::now_ms();
        let mut w = WriteTx {
            tx,
            actor: jobs[0].actor().clone(),
            pending: Vec::new(),
            clock_ms: Some(at_ms),
        };
        let mut failed = None;
        for (i, j) in jobs.iter_mut().enumerate() {
            w.actor = j.actor().clone();
            let mut ok = j.run(&mut w);
            if ok {
                // each write's audit entries name its own actor
                let pending = std::mem::take(&mut w.pending);
                if let Err(e) = audit::append(&mut w, pending) {
                    j.fail(e);
                    ok = false;
                }
            }
            if !ok {
                failed = Some(i);
                break;
            }
        }
        if let Some(i) = failed {
            // throw the transaction away; the writes before the failed one run again
            let _ = w.tx.abort();
            jobs.remove(i).finish();
            return 0;
        }
        let committed = self.commit(db, w, jobs, at_ms);
        for mut j in jobs.drain(..) {
            if let Err(e) = &committed {
                j.fail(StoreError::Db(e.to_string()));
            }
            j.finish();
        }
        1
    }

    /// Commits a batch that ran: through the journal when every write in it can be redone
    /// and no checkpoint is due, else durably (then the journal is emptied).
    fn commit(
        &self,
        db: &redb::Database,
        mut w: WriteTx,
        jobs: &[Box<dyn Job>],
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let mut j = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        let writes: Option<Vec<Logged>> = jobs.iter().map(|j| j.logged().cloned()).collect();
        let journaled = match writes {
            Some(writes) if !j.due() => {
                let seq = journal::store_seq(&w)? + 1;
                journal::mark(&mut w, seq)?;
                w.tx.set_durability(redb::Durability::None)
                    .map_err(|e| StoreError::Db(e.to_string()))?;
                Some(Batch {
                    seq,
                    schema: self.schema,
                    app: journal::APP.into(),
                    at_ms,
                    writes,
                })
            }
            _ => None,
        };
        w.tx.commit()?;
        // from here on the batch is committed: callers hear of a failure only when it may
        // not be on disk
        match journaled {
            Some(b) => match j.append(&b) {
                Ok(()) => {
                    self.journaled.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                Err(e) => {
                    // not in the journal (its record was cut off again): make it durable
                    // the slow way
                    tracing::warn!(error = %e, "journal append failed; committing durably");
                    let durable = db
                        .begin_write()
                        .map_err(StoreError::from)
                        .and_then(|t| t.commit().map_err(StoreError::from));
                    match durable {
                        Ok(()) => {
                            self.checkpoints.fetch_add(1, Ordering::Relaxed);
                            self.reset(&mut j);
                            Ok(())
                        }
                        // redb takes no more writes after a failed durable commit; whether
                        // this batch survives a restart cannot be told
                        Err(c) => Err(StoreError::Journal {
                            path: j.path().to_path_buf(),
                            detail: format!(
                                "the batch could not be made durable ({e}; then {c}): its outcome is unknown until the store is opened again"
                            ),
                        }),
                    }
                }
            },
            None => {
                if !j.is_empty() {
                    self.checkpoints.fetch_add(1, Ordering::Relaxed);
                }
                self.reset(&mut j);
                Ok(())
            }
        }
    }

    /// Empties the journal after a durable commit. A failure is logged, not reported: the
    /// records left behind are all in the store (their numbers are at or below its own),
    /// so opening skips them.
    fn reset(&self, j: &mut Journal) {
        if let Err(e) = j.reset() {
            tracing::warn!(error = %e, path = %j.path().display(), "cannot empty the journal after a checkpoint; its records are in the store and will be skipped");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use crate::store::tests::temp_store;
    use crate::store::{Actor, Change, Reader, Table};

    const T: Table<u64, String> = Table::new("test.group");

    #[test]
    fn concurrent_writes_share_commits_and_a_failing_one_leaves_no_trace() {
        let (_dir, store) = temp_store();
        let store = Arc::new(store);
        let threads = 8;
        let per = 50u64;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads as u64)
            .map(|t| {
                let store = store.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    let actor = Actor::system(&format!("writer-{t}"));
                    for i in 0..per {
                        let key = t * 1000 + i;
                        // every fifth write fails after writing: it must leave nothing
                        let r: Result<u64, crate::error::Error> =
                            store.write_grouped(&actor, move |w| {
                                w.insert(&T, &key, &format!("v{key}"))?;
                                w.audit("test.write", format!("k:{key}"), Change::created(key));
                                if i % 5 == 4 {
                                    return Err(crate::error::Error::invalid("k", "refused"));
                                }
                                Ok(key)
                            });
                        assert_eq!(r.is_ok(), i % 5 != 4, "write {key}: {r:?}");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        // the writers overlapped: fewer commits than writes
        let (writes, commits) = store.group_stats();
        assert_eq!(writes, threads as u64 * per);
        assert!(
            commits < writes * 4 / 5,
            "{commits} commits for {writes} writes"
        );
        let r = store.read().unwrap();
        let rows = r.all(&T).unwrap();
        assert_eq!(rows.len() as u64, threads as u64 * per * 4 / 5);
        assert!(rows.iter().all(|(k, _)| k % 1000 % 5 != 4));
        // one audit entry per successful write, each naming its own writer
        let log = crate::store::audit::verify(&store).unwrap();
        assert!(log.problem.is_none(), "{:?}", log.problem);
        let q = crate::store::audit::Query {
            action: Some("test.write".into()),
            ..Default::default()
        };
        let entries = crate::store::audit::search(&r, &q, 1000).unwrap();
        assert_eq!(entries.len(), rows.len());
        for e in entries {
            let key: u64 = e.target.trim_start_matches("k:").parse().unwrap();
            assert_eq!(e.actor.name, format!("writer-{}", key / 1000));
        }
    }
}
