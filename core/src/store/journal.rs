//! The redo journal: durability for grouped writes without syncing their B-tree pages.
//!
//! A durable redb commit writes and syncs every page the transaction dirtied: a stock posting
//! touches about 30 pages scattered over nine tables, and on this class of box (a virtio
//! disk) the sync costs about a millisecond, as much in the kernel as in waiting. A grouped
//! write that names a *redo* (a registered function of this module's [`KINDS`] and its
//! arguments) commits without that sync (`Durability::None`: the pages stay in redb's write
//! buffer, readers see them at once); the batch (its sequence number, the clock its audit
//! entries used, and each write's actor, kind and arguments) is appended to
//! `nplusx.journal` beside the store and synced instead: a few hundred sequential bytes.
//! Callers are answered after that sync, so an answer still means "on disk".
//!
//! At most every second (or every 4 MiB of journal) the batch's commit is durable instead
//! (a checkpoint: the pages of every batch since go to disk in one sync) and the journal is
//! emptied. Any other durable commit (`Store::write`, the historian's flush) persists the
//! buffered batches too. Each journaled batch writes its sequence number into `store.meta`
//! in its own transaction, so the store says which batches it holds.
//!
//! Opening the store redoes, in order, the batches after the last durable commit: the same
//! functions with the same arguments, actors and audit clock on exactly the state they first
//! ran on (nothing else commits without a sync, so the store's last durable state is the
//! state before the first missing batch). A torn last record (the crash hit its append)
//! was never answered and is dropped. A journal that does not continue the store (a gap in
//! the sequence), one written by a binary of another schema, or a redo that fails refuses
//! the open and leaves both files untouched: the message says what to do.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Actor, StoreError, WriteTx, audit, meta_get, meta_put};

/// File name of the journal inside the data dir.
pub const JOURNAL_FILE: &str = "nplusx.journal";
/// `store.meta` key: the sequence number of the newest journaled batch the store holds.
const SEQ_KEY: &str = "journal.seq";
/// A checkpoint at least this often while grouped writes arrive.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// …or once the journal has grown this large.
const CHECKPOINT_BYTES: u64 = 4 << 20;
/// Records larger than this are not a batch (a corrupt length).
const MAX_RECORD: u32 = 64 << 20;

/// A write the journal can redo: `run` gets the actor and clock in the transaction and the
/// arguments as the caller encoded them; it must do exactly what the caller's write did.
pub struct Kind {
    pub name: &'static str,
    pub run: fn(&mut WriteTx, &[u8]) -> Result<(), String>,
}

/// Every redo the store knows. A write logged under another name cannot be redone, so
/// [`super::Store::write_logged`] refuses names missing here.
pub const KINDS: &[Kind] = &[Kind {
    name: "inventory.post",
    run: crate::modules::inventory::service::redo_post,
}];

/// One write of a batch, as journaled.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Logged {
    pub kind: String,
    pub actor: Actor,
    #[serde(with = "serde_bytes")]
    pub args: Vec<u8>,
}

/// The release that writes batches; a batch is redone only by the release that ran it
/// (posting rules and audit texts may differ between releases of the same schema).
pub(super) const APP: &str = env!("CARGO_PKG_VERSION");

/// One committed batch: its writes in the order they ran.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Batch {
    pub seq: u64,
    /// Schema version of the binary that ran it.
    pub schema: u64,
    /// Release of the binary that ran it ([`APP`]).
    pub app: String,
    /// The clock its audit entries carry.
    pub at_ms: i64,
    pub writes: Vec<Logged>,
}

/// The open journal file; only the group commit's leader appends to it.
pub(super) struct Journal {
    file: File,
    path: PathBuf,
    len: u64,
    checkpoint_at: Instant,
}

impl Journal {
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        file.sync_all()?;
        // the file's directory entry must survive a power cut too
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        let len = file.metadata()?.len();
        Ok(Journal {
            file,
            path: path.to_path_buf(),
            len,
            checkpoint_at: Instant::now(),
        })
    }

    /// Time (or size) for the next batch to be a checkpoint.
    pub fn due(&self) -> bool {
        self.checkpoint_at.elapsed() >= CHECKPOINT_EVERY || self.len >= CHECKPOINT_BYTES
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a batch and syncs it: once this returns, the batch survives a crash.
    pub fn append(&mut self, b: &Batch) -> std::io::Result<()> {
        let mut body = Vec::new();
        ciborium::into_writer(b, &mut body).map_err(std::io::Error::other)?;
        let mut rec = Vec::with_capacity(8 + body.len());
        rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        rec.extend_from_slice(&body);
        let written = self
            .file
            .write_all(&rec)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // cut a partly written record off: a later append behind it would be unreadable
            let _ = self
                .file
                .set_len(self.len)
                .and_then(|()| self.file.sync_data());
            return Err(e);
        }
        self.len += rec.len() as u64;
        Ok(())
    }

    /// After a durable commit that holds every batch in it: empties the journal and starts
    /// the time to the next checkpoint.
    pub fn reset(&mut self) -> std::io::Result<()> {
        self.checkpoint_at = Instant::now();
        // the file's own length: an append that failed may have left bytes behind
        if self.len == 0 && self.file.metadata()?.len() == 0 {
            return Ok(());
        }
        self.file.set_len(0)?;
        self.file.sync_all()?;
        self.len = 0;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The batches in the journal at `path`, in order, and whether a torn record ended it. A
/// record that fails its check with more bytes behind it is not a torn append but damage:
/// an error, so the open refuses rather than drop the answered batches behind it.
pub(super) fn read(path: &Path) -> std::io::Result<(Vec<Batch>, bool)> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), false)),
        Err(e) => return Err(e),
    }
    let mut out = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let Some((head, tail)) = rest.split_at_checked(8) else {
            return Ok((out, true));
        };
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
        if len > MAX_RECORD {
            return Ok((out, true));
        }
        let Some((body, tail)) = tail.split_at_checked(len as usize) else {
            return Ok((out, true));
        };
        let batch = (crc32fast::hash(body) == crc)
            .then(|| ciborium::from_reader::<Batch, _>(body).ok())
            .flatten();
        match batch {
            Some(b) => out.push(b),
            // the last record, cut short by the crash (or zero-filled by the file system)
            None if tail.is_empty() => return Ok((out, true)),
            None => {
                return Err(std::io::Error::other(format!(
                    "record {} (at byte {}) is damaged and {} bytes follow it",
                    out.len() + 1,
                    bytes.len() - rest.len(),
                    tail.len()
                )));
            }
        }
        rest = tail;
    }
    Ok((out, false))
}

/// Sequence number of the newest journaled batch the store holds.
pub(super) fn store_seq(r: &impl super::Reader) -> super::Result<u64> {
    Ok(meta_get(r, SEQ_KEY)?.unwrap_or(0))
}

/// Marks the batch being committed in `w` as held by the store.
pub(super) fn mark(w: &mut WriteTx, seq: u64) -> super::Result<()> {
    meta_put(w, SEQ_KEY, &seq)
}

/// Redoes the journal's batches the store does not hold, in one durable commit, and empties
/// the journal. Returns how many batches were redone.
pub(super) fn recover(
    db: &redb::Database,
    path: &Path,
    kinds: &[Kind],
    schema: u64,
) -> Result<usize, StoreError> {
    let refuse = |detail: String| StoreError::Journal {
        path: path.to_path_buf(),
        detail,
    };
    let (batches, torn) = read(path).map_err(|e| refuse(e.to_string()))?;
    if torn {
        tracing::warn!(path = %path.display(), "the journal ends in a torn record (a crash during its append); that batch was never answered and is dropped");
    }
    if batches.is_empty() && !torn {
        // nothing to redo: no transaction (a store from a newer binary stays untouched)
        Journal::open(path).map_err(|e| refuse(e.to_string()))?;
        return Ok(0);
    }
    let mut w = WriteTx {
        tx: db.begin_write()?,
        actor: Actor::system("journal"),
        pending: Vec::new(),
        clock_ms: None,
    };
    let mut seq = store_seq(&w)?;
    let mut redone = 0;
    for b in batches {
        if b.seq <= seq {
            continue;
        }
        if b.seq != seq + 1 {
            return Err(refuse(format!(
                "the journal continues at batch {} but the store holds up to batch {seq}: it belongs to another store (move it aside to open this one)",
                b.seq
            )));
        }
        if b.schema != schema || b.app != APP {
            return Err(refuse(format!(
                "batch {} was written by nplusx {} (schema {}) and this is nplusx {APP} (schema {schema}): start that version once to apply it",
                b.seq, b.app, b.schema
            )));
        }
        w.clock_ms = Some(b.at_ms);
        for l in b.writes {
            let k = kinds.iter().find(|k| k.name == l.kind).ok_or_else(|| {
                refuse(format!(
                    "batch {} has a write of kind {} that this binary cannot redo",
                    b.seq, l.kind
                ))
            })?;
            w.actor = l.actor;
            (k.run)(&mut w, &l.args)
                .map_err(|e| refuse(format!("redoing batch {} ({}) failed: {e}", b.seq, l.kind)))?;
            let pending = std::mem::take(&mut w.pending);
            audit::append(&mut w, pending)?;
        }
        mark(&mut w, b.seq)?;
        seq = b.seq;
        redone += 1;
    }
    w.tx.commit()?;
    // everything the journal holds is in the store now
    let mut j = Journal::open(path).map_err(|e| refuse(e.to_string()))?;
    j.reset().map_err(|e| refuse(e.to_string()))?;
    if redone > 0 {
        tracing::warn!(batches = redone, path = %path.display(), "redid the journaled writes the store did not hold (the last run ended without a checkpoint)");
    }
    Ok(redone)
}

#[cfg(test)]
mod tests {
    use std::ops::{Bound, ControlFlow};
    use std::sync::Arc;

    use super::*;
    use crate::store::{Change, Order, Reader, Store, Table, migrate};

    const T: Table<u64, String> = Table::new("test.journal");

    /// The test's redo: inserts `key → value` and audits it; refuses key 0.
    fn put(w: &mut WriteTx, args: &[u8]) -> Result<(), String> {
        let (key, value): (u64, String) =
            crate::store::decode("test.put", args).map_err(|e| e.to_string())?;
        if key == 0 {
            return Err("key 0 is refused".into());
        }
        let before = w.get(&T, &key).map_err(|e| e.to_string())?;
        w.insert(&T, &key, &value).map_err(|e| e.to_string())?;
        w.audit(
            "test.put",
            format!("k:{key}"),
            Change::updated(before, value),
        );
        Ok(())
    }

    const TEST_KINDS: &[Kind] = &[Kind {
        name: "test.put",
        run: put,
    }];

    fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_full(dir, migrate::MIGRATIONS, TEST_KINDS)
    }

    fn write(store: &Store, actor: &Actor, key: u64, value: &str) -> crate::error::Result<()> {
        let args = crate::store::encode("test.put", &(key, value.to_string()))?;
        let same = args.clone();
        store.write_logged(actor, "test.put", args, move |w| {
            put(w, &same).map_err(|_| crate::error::Error::invalid("key", "test.refused"))
        })
    }

    /// Raw (key, value) pairs of a table.
    type RawRows = Vec<(Vec<u8>, Vec<u8>)>;

    /// Every record of `T` and every audit entry, as raw bytes (the audit chain included).
    fn contents(store: &Store) -> (Vec<(u64, String)>, RawRows) {
        let r = store.read().unwrap();
        let mut log = Vec::new();
        r.raw_visit(
            audit::LOG.name,
            (Bound::Unbounded, Bound::Unbounded),
            Order::Asc,
            &mut |k, v| {
                log.push((k.to_vec(), v.to_vec()));
                Ok(ControlFlow::Continue(()))
            },
        )
        .unwrap();
        (r.all(&T).unwrap(), log)
    }

    /// What a power cut leaves: the store file as written so far (the last durable commit)
    /// and the journal, copied while the store is still open.
    fn crash_copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for f in [crate::store::DB_FILE, JOURNAL_FILE] {
            std::fs::copy(from.join(f), to.join(f)).unwrap();
        }
    }

    #[test]
    fn a_crash_loses_no_answered_write_and_the_redo_rebuilds_the_same_state() {
        let live = tempfile::tempdir().unwrap();
        let store = Arc::new(open(live.path()).unwrap());
        // writers at once, some refused, some overwriting others' keys
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let actor = Actor::system(&format!("writer-{t}"));
                    for i in 0..40u64 {
                        let key = if i % 7 == 6 { 0 } else { (t * 40 + i) % 90 + 1 };
                        let r = write(&store, &actor, key, &format!("{t}-{i}"));
                        assert_eq!(r.is_err(), key == 0);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let (batches, _, _) = store.journal_stats();
        assert!(batches > 0, "the writes went through the journal");
        let want = contents(&store);
        assert!(want.0.len() > 60);

        // the file alone (no redo) lacks them: the journal is what kept them
        let crashed = tempfile::tempdir().unwrap();
        crash_copy(live.path(), crashed.path());
        std::fs::write(crashed.path().join(JOURNAL_FILE), b"").unwrap();
        let bare = open(crashed.path()).unwrap();
        assert!(contents(&bare).0.is_empty());
        drop(bare);

        let crashed = tempfile::tempdir().unwrap();
        crash_copy(live.path(), crashed.path());
        // a torn last record (the crash hit an append) is dropped
        let mut f = OpenOptions::new()
            .append(true)
            .open(crashed.path().join(JOURNAL_FILE))
            .unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(f);
        let redone = open(crashed.path()).unwrap();
        assert_eq!(redone.journal_stats().2, batches);
        assert_eq!(contents(&redone), want, "same records, same audit chain");
        assert!(audit::verify(&redone).unwrap().problem.is_none());
        // the journal is empty after the redo, and opening again redoes nothing
        assert_eq!(
            std::fs::metadata(crashed.path().join(JOURNAL_FILE))
                .unwrap()
                .len(),
            0
        );
        drop(redone);
        let again = open(crashed.path()).unwrap();
        assert_eq!(again.journal_stats().2, 0);
        assert_eq!(contents(&again), want);

        // a checkpoint empties the live journal, and a crash after it needs no redo
        store.checkpoint().unwrap();
        assert_eq!(
            std::fs::metadata(live.path().join(JOURNAL_FILE))
                .unwrap()
                .len(),
            0
        );
        let after = tempfile::tempdir().unwrap();
        crash_copy(live.path(), after.path());
        let s = open(after.path()).unwrap();
        assert_eq!(s.journal_stats().2, 0);
        assert_eq!(contents(&s), want);
    }

    #[test]
    fn a_checkpoint_comes_every_second_and_the_journal_takes_the_writes_between() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path()).unwrap();
        let a = Actor::system("t");
        let journal_len = || {
            std::fs::metadata(dir.path().join(JOURNAL_FILE))
                .unwrap()
                .len()
        };
        write(&store, &a, 1, "a").unwrap();
        assert_eq!(store.journal_stats().0, 1);
        assert!(journal_len() > 0);
        std::thread::sleep(CHECKPOINT_EVERY + Duration::from_millis(50));
        // due: this batch commits durably and empties the journal…
        write(&store, &a, 2, "b").unwrap();
        assert_eq!(store.journal_stats().0, 1);
        assert_eq!(store.journal_stats().1, 1);
        assert_eq!(journal_len(), 0);
        // …and the next ones are journaled again
        write(&store, &a, 3, "c").unwrap();
        write(&store, &a, 4, "d").unwrap();
        assert_eq!(store.journal_stats().0, 3);
        assert!(journal_len() > 0);
    }

    #[test]
    fn a_journal_that_does_not_continue_the_store_is_refused_untouched() {
        let actor = Actor::system("test");
        let args = crate::store::encode("test.put", &(5u64, "x".to_string())).unwrap();
        for (seq, schema, kind, says) in [
            (
                7,
                migrate::current_version(),
                "test.put",
                "continues at batch 7",
            ),
            (1, 999, "test.put", "schema 999"),
            (1, migrate::current_version(), "test.gone", "cannot redo"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            drop(open(dir.path()).unwrap());
            let path = dir.path().join(JOURNAL_FILE);
            let mut j = Journal::open(&path).unwrap();
            j.append(&Batch {
                seq,
                schema,
                app: APP.into(),
                at_ms: 1,
                writes: vec![Logged {
                    kind: kind.into(),
                    actor: actor.clone(),
                    args: args.clone(),
                }],
            })
            .unwrap();
            let before = std::fs::read(&path).unwrap();
            let err = open(dir.path()).err().expect("refused").to_string();
            assert!(err.contains(says), "{err}");
            assert_eq!(std::fs::read(&path).unwrap(), before, "journal kept");
        }
        // a damaged record with answered batches behind it refuses the open (it is not a
        // torn append, and dropping it would drop them)
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path()).unwrap());
        let path = dir.path().join(JOURNAL_FILE);
        let mut j = Journal::open(&path).unwrap();
        for seq in [1, 2] {
            j.append(&Batch {
                seq,
                schema: migrate::current_version(),
                app: APP.into(),
                at_ms: 1,
                writes: vec![Logged {
                    kind: "test.put".into(),
                    actor: actor.clone(),
                    args: args.clone(),
                }],
            })
            .unwrap();
        }
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[12] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = open(dir.path()).err().expect("refused").to_string();
        assert!(err.contains("damaged"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "journal kept");

        // a redo that fails now refuses the open too
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path()).unwrap());
        let mut j = Journal::open(&dir.path().join(JOURNAL_FILE)).unwrap();
        j.append(&Batch {
            seq: 1,
            schema: migrate::current_version(),
            app: APP.into(),
            at_ms: 1,
            writes: vec![Logged {
                kind: "test.put".into(),
                actor,
                args: crate::store::encode("test.put", &(0u64, "x".to_string())).unwrap(),
            }],
        })
        .unwrap();
        let err = open(dir.path()).err().expect("refused").to_string();
        assert!(err.contains("key 0 is refused"), "{err}");
    }

    #[test]
    fn a_write_of_an_unknown_kind_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path()).unwrap();
        let r: crate::error::Result<()> =
            store.write_logged(&Actor::system("t"), "test.nope", vec![], |_| Ok(()));
        assert!(r.is_err());
    }
}
