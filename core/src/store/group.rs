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

use super::{Actor, StoreError, WriteTx, audit};

/// The queue of waiting writes, and whether someone leads.
#[derive(Default)]
pub(super) struct Group {
    queue: Mutex<Queue>,
    /// Writes answered and commits made, for `/metrics` (their ratio is the batch size).
    writes: AtomicU64,
    commits: AtomicU64,
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
    /// Queues `f` and returns once the commit that carries it is durable (or it failed).
    pub(super) fn write<T, E, F>(&self, db: &redb::Database, actor: &Actor, f: F) -> Result<T, E>
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
        let commits = lead(db, jobs);
        self.commits.fetch_add(commits, Ordering::Relaxed);
    }

    /// (writes answered, transactions committed) since the store was opened.
    pub(super) fn stats(&self) -> (u64, u64) {
        (
            self.writes.load(Ordering::Relaxed),
            self.commits.load(Ordering::Relaxed),
        )
    }
}

/// Runs a batch of writes in one transaction and commits once (see the module comment);
/// returns how many transactions it committed.
fn lead(db: &redb::Database, mut jobs: Vec<Box<dyn Job>>) -> u64 {
    let mut commits = 0;
    while !jobs.is_empty() {
        let tx = match db.begin_write() {
            Ok(tx) => tx,
            Err(e) => {
                let msg = e.to_string();
                for mut j in jobs {
                    j.fail(StoreError::Db(msg.clone()));
                    j.finish();
                }
                return commits;
            }
        };
        let mut w = WriteTx {
            tx,
            actor: jobs[0].actor().clone(),
            pending: Vec::new(),
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
            continue;
        }
        let committed = w.tx.commit();
        commits += 1;
        for mut j in jobs.drain(..) {
            if let Err(e) = &committed {
                j.fail(StoreError::Db(e.to_string()));
            }
            j.finish();
        }
    }
    commits
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
