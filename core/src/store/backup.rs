//! Online backup to a single file and restore into a data dir.
//!
//! A backup is a logical dump of one read snapshot (so it is consistent while the server
//! keeps writing): every table except the transient ones (sessions), record by record,
//! gzip-compressed. Layout of the uncompressed stream:
//!
//! ```text
//! "NXBK" u16:format  u32:len CBOR(Header)
//! 'T' u32:len name                      start of a table
//! 'R' u32:len key u32:len value         one record of the current table
//! 'E' u64:records [32]:SHA-256          end; hash of every byte before the 'E'
//! ```
//!
//! Restore reads and checks the whole file into a temporary database next to the target
//! and only then moves it into place, so a truncated, corrupt or too-new backup changes
//! nothing.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Actor, Change, DB_FILE, Store, StoreError, meta_get, migrate};

const MAGIC: &[u8; 4] = b"NXBK";
const FORMAT: u16 = 1;
/// Records per transaction while restoring; bounds memory on large stores.
const RESTORE_BATCH: u64 = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not an nplusx backup")]
    NotABackup(PathBuf),
    #[error("backup format {0} is not supported by this binary")]
    UnsupportedFormat(u16),
    #[error("the backup is truncated or damaged: {0}")]
    Damaged(String),
    #[error(
        "the backup was made by a newer nplusx (schema {found}, this binary supports up to {supported})"
    )]
    TooNew { found: u64, supported: u64 },
    #[error("{0} already holds a store; restore into an empty data dir or pass --force")]
    TargetExists(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the backup header says about its source.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub app_version: String,
    pub schema_version: u64,
    pub store_id: String,
    pub created_ms: i64,
}

/// Summary of a finished backup or restore.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub tables: u64,
    pub records: u64,
    pub bytes: u64,
    pub schema_version: u64,
}

struct HashWriter<W: Write> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn put_bytes(w: &mut impl Write, b: &[u8]) -> std::io::Result<()> {
    w.write_all(&(b.len() as u32).to_le_bytes())?;
    w.write_all(b)
}

/// Creates `dest` atomically: `produce` writes into `<dest>.partial` (mode 0600: a backup
/// holds password hashes), which is renamed into place only when `produce` succeeded.
pub fn write_file<T>(
    dest: &Path,
    produce: impl FnOnce(&mut std::fs::File) -> Result<T, BackupError>,
) -> Result<T, BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| BackupError::Io {
        path: dest.to_path_buf(),
        source,
    };
    let partial = dest.with_extension("partial");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .map_err(io)?;
    let result = produce(&mut file).and_then(|t| {
        file.sync_all().map_err(io)?;
        Ok(t)
    });
    match result {
        Ok(t) => {
            std::fs::rename(&partial, dest).map_err(io)?;
            Ok(t)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Writes a consistent backup of `store` to `dest` (atomically). Tables named in `exclude`
/// are skipped.
pub fn backup(store: &Store, dest: &Path, exclude: &[&str]) -> Result<Summary, BackupError> {
    let mut s = write_file(dest, |f| {
        write_backup(store, f, exclude).map_err(|e| match e {
            BackupError::Io { source, .. } => BackupError::Io {
                path: dest.to_path_buf(),
                source,
            },
            other => other,
        })
    })?;
    s.bytes = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    Ok(s)
}

/// [`backup`], then records it in the audit log.
pub fn backup_audited(
    store: &Store,
    dest: &Path,
    exclude: &[&str],
    actor: &Actor,
) -> Result<Summary, BackupError> {
    let s = backup(store, dest, exclude)?;
    let mut w = store.write(actor)?;
    w.audit(
        "store.backup",
        dest.display().to_string(),
        Change::created(
            serde_json::json!({ "records": s.records, "tables": s.tables, "bytes": s.bytes }),
        ),
    );
    w.commit()?;
    Ok(s)
}

/// Writes a backup stream to any writer (a file, or an HTTP download body).
pub fn write_backup(
    store: &Store,
    out: impl Write,
    exclude: &[&str],
) -> Result<Summary, BackupError> {
    let io = |source| BackupError::Io {
        path: store.path().to_path_buf(),
        source,
    };
    let snap = store.db.begin_read().map_err(StoreError::from)?;
    let read = super::ReadTx { tx: snap };
    let header = Header {
        app_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version: meta_get(&read, migrate::VERSION_KEY)?.unwrap_or(0),
        store_id: meta_get(&read, "store_id")?.unwrap_or_default(),
        created_ms: crate::util::now_ms(),
    };
    let gz = flate2::write::GzEncoder::new(BufWriter::new(out), flate2::Compression::fast());
    let mut w = HashWriter {
        inner: gz,
        hash: Sha256::new(),
    };
    w.write_all(MAGIC).map_err(io)?;
    w.write_all(&FORMAT.to_le_bytes()).map_err(io)?;
    put_bytes(&mut w, &super::encode("backup", &header)?).map_err(io)?;

    let mut tables = 0;
    let mut records = 0u64;
    let names: Vec<String> = read
        .tx
        .list_tables()
        .map_err(StoreError::from)?
        .map(|h| h.name().to_string())
        .filter(|n| !exclude.contains(&n.as_str()))
        .collect();
    for name in names {
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
        let t = read.tx.open_table(def).map_err(StoreError::from)?;
        w.write_all(b"T").map_err(io)?;
        put_bytes(&mut w, name.as_bytes()).map_err(io)?;
        tables += 1;
        for item in t.iter().map_err(StoreError::from)? {
            let (k, v) = item.map_err(StoreError::from)?;
            w.write_all(b"R").map_err(io)?;
            put_bytes(&mut w, k.value()).map_err(io)?;
            put_bytes(&mut w, v.value()).map_err(io)?;
            records += 1;
        }
    }
    let digest: [u8; 32] = w.hash.clone().finalize().into();
    w.write_all(b"E").map_err(io)?;
    w.write_all(&records.to_le_bytes()).map_err(io)?;
    w.write_all(&digest).map_err(io)?;
    let mut buf = w.inner.finish().map_err(io)?;
    buf.flush().map_err(io)?;
    Ok(Summary {
        tables,
        records,
        bytes: 0,
        schema_version: header.schema_version,
    })
}

struct HashReader<R: Read> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> HashReader<R> {
    fn exact(&mut self, buf: &mut [u8]) -> Result<(), BackupError> {
        self.inner
            .read_exact(buf)
            .map_err(|e| BackupError::Damaged(format!("unexpected end of data ({e})")))?;
        self.hash.update(&*buf);
        Ok(())
    }
    fn u32(&mut self) -> Result<u32, BackupError> {
        let mut b = [0u8; 4];
        self.exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn bytes(&mut self, max: u32) -> Result<Vec<u8>, BackupError> {
        let n = self.u32()?;
        if n > max {
            return Err(BackupError::Damaged(format!("field of {n} bytes")));
        }
        let mut v = vec![0u8; n as usize];
        self.exact(&mut v)?;
        Ok(v)
    }
}

/// Reads only the header: for `nplusx restore --check` and the console's upload preview.
pub fn read_header(src: &Path) -> Result<Header, BackupError> {
    let file = std::fs::File::open(src).map_err(|source| BackupError::Io {
        path: src.to_path_buf(),
        source,
    })?;
    let mut r = open_stream(src, file)?;
    header(src, &mut r)
}

fn open_stream(
    src: &Path,
    file: std::fs::File,
) -> Result<HashReader<flate2::read::GzDecoder<BufReader<std::fs::File>>>, BackupError> {
    let gz = flate2::read::GzDecoder::new(BufReader::new(file));
    if gz.header().is_none() {
        return Err(BackupError::NotABackup(src.to_path_buf()));
    }
    Ok(HashReader {
        inner: gz,
        hash: Sha256::new(),
    })
}

fn header<R: Read>(src: &Path, r: &mut HashReader<R>) -> Result<Header, BackupError> {
    let mut magic = [0u8; 4];
    r.exact(&mut magic)
        .map_err(|_| BackupError::NotABackup(src.to_path_buf()))?;
    if &magic != MAGIC {
        return Err(BackupError::NotABackup(src.to_path_buf()));
    }
    let mut f = [0u8; 2];
    r.exact(&mut f)?;
    let format = u16::from_le_bytes(f);
    if format != FORMAT {
        return Err(BackupError::UnsupportedFormat(format));
    }
    let h: Header = super::decode("backup", &r.bytes(1 << 20)?)
        .map_err(|e| BackupError::Damaged(format!("header: {e}")))?;
    let supported = migrate::current_version();
    if h.schema_version > supported {
        return Err(BackupError::TooNew {
            found: h.schema_version,
            supported,
        });
    }
    Ok(h)
}

/// Restores `src` into `data_dir`. With `force`, an existing store is kept beside it as
/// `nplusx.redb.before-restore-<ms>`; without, an existing store is an error.
pub fn restore(src: &Path, data_dir: &Path, force: bool) -> Result<Summary, BackupError> {
    let target = data_dir.join(DB_FILE);
    if target.exists() && !force {
        return Err(BackupError::TargetExists(data_dir.to_path_buf()));
    }
    // Hold the existing store's lock until the new file is in place: a running server holds
    // it, and replacing its file under it would lose everything it writes afterwards.
    let _lock = if target.exists() {
        match redb::Database::open(&target) {
            Ok(db) => Some(db),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::Locked(data_dir.to_path_buf()).into());
            }
            Err(e) => return Err(StoreError::from(e).into()),
        }
    } else {
        None
    };
    std::fs::create_dir_all(data_dir).map_err(|source| BackupError::Io {
        path: data_dir.to_path_buf(),
        source,
    })?;
    let file = std::fs::File::open(src).map_err(|source| BackupError::Io {
        path: src.to_path_buf(),
        source,
    })?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut r = open_stream(src, file)?;
    let h = header(src, &mut r)?;

    let tmp = data_dir.join(format!("{DB_FILE}.restoring"));
    let _ = std::fs::remove_file(&tmp);
    let loaded = load(&mut r, &tmp);
    let (tables, records) = match loaded {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let stamp = crate::util::now_ms();
    // the old store's journal goes with it (its batches would redo on the restored store);
    // an empty one (a clean stop) is just removed
    let journal = data_dir.join(super::journal::JOURNAL_FILE);
    if std::fs::metadata(&journal).is_ok_and(|m| m.len() == 0) {
        let _ = std::fs::remove_file(&journal);
    }
    for (file, present) in [
        (DB_FILE, target.exists()),
        (super::journal::JOURNAL_FILE, journal.exists()),
    ] {
        if present {
            let from = data_dir.join(file);
            let aside = data_dir.join(format!("{file}.before-restore-{stamp}"));
            std::fs::rename(&from, &aside).map_err(|source| BackupError::Io {
                path: from.clone(),
                source,
            })?;
        }
    }
    std::fs::rename(&tmp, &target).map_err(|source| BackupError::Io {
        path: target.clone(),
        source,
    })?;
    // the renames must survive a power cut before anything is written to the new store
    if let Ok(d) = std::fs::File::open(data_dir) {
        let _ = d.sync_all();
    }
    drop(_lock);
    // Opening runs the migrations a backup from an older binary needs.
    let store = Store::open(data_dir)?;
    let mut w = store.write(&Actor::system("restore"))?;
    w.audit(
        "store.restore",
        src.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Change::created(serde_json::json!({
            "source_store": h.store_id,
            "backup_created_ms": h.created_ms,
            "backup_app_version": h.app_version,
            "schema_version": h.schema_version,
            "records": records,
        })),
    );
    w.commit()?;
    Ok(Summary {
        tables,
        records,
        bytes,
        schema_version: h.schema_version,
    })
}

/// Reads every frame after the header, checking structure, count and checksum, and hands
/// each record to `on_record(table, key, value)`. Returns (tables, records).
fn read_frames<R: Read>(
    r: &mut HashReader<R>,
    mut on_table: impl FnMut(&str) -> Result<(), BackupError>,
    mut on_record: impl FnMut(&str, &[u8], &[u8]) -> Result<(), BackupError>,
) -> Result<(u64, u64), BackupError> {
    let mut tables = 0u64;
    let mut records = 0u64;
    let mut current: Option<String> = None;
    loop {
        let before = r.hash.clone();
        let mut tag = [0u8; 1];
        r.exact(&mut tag)?;
        match tag[0] {
            b'T' => {
                let name = String::from_utf8(r.bytes(4096)?)
                    .map_err(|_| BackupError::Damaged("table name is not UTF-8".into()))?;
                on_table(&name)?;
                current = Some(name);
                tables += 1;
            }
            b'R' => {
                let Some(name) = current.as_deref() else {
                    return Err(BackupError::Damaged("record before any table".into()));
                };
                let k = r.bytes(1 << 20)?;
                let v = r.bytes(1 << 30)?;
                on_record(name, &k, &v)?;
                records += 1;
            }
            b'E' => {
                let expected: [u8; 32] = before.finalize().into();
                let mut n = [0u8; 8];
                r.exact(&mut n)?;
                let mut digest = [0u8; 32];
                r.exact(&mut digest)?;
                if u64::from_le_bytes(n) != records {
                    return Err(BackupError::Damaged(format!(
                        "{records} records read, the backup says {}",
                        u64::from_le_bytes(n)
                    )));
                }
                if digest != expected {
                    return Err(BackupError::Damaged("checksum mismatch".into()));
                }
                let mut rest = [0u8; 1];
                if r.inner.read(&mut rest).unwrap_or(0) != 0 {
                    return Err(BackupError::Damaged("data after the end marker".into()));
                }
                return Ok((tables, records));
            }
            other => {
                return Err(BackupError::Damaged(format!(
                    "unknown frame 0x{other:02x} after {records} records"
                )));
            }
        }
    }
}

fn def(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

fn load<R: Read>(r: &mut HashReader<R>, tmp: &Path) -> Result<(u64, u64), BackupError> {
    let db = redb::Database::create(tmp).map_err(StoreError::from)?;
    let tx = std::cell::RefCell::new(Some(db.begin_write().map_err(StoreError::from)?));
    let mut in_batch = 0u64;
    let counts = read_frames(
        r,
        |name| {
            let tx = tx.borrow();
            let tx = tx.as_ref().expect("a transaction is open");
            tx.open_table(def(name)).map_err(StoreError::from)?;
            Ok(())
        },
        |name, k, v| {
            {
                let tx = tx.borrow();
                let tx = tx.as_ref().expect("a transaction is open");
                tx.open_table(def(name))
                    .map_err(StoreError::from)?
                    .insert(k, v)
                    .map_err(StoreError::from)?;
            }
            in_batch += 1;
            if in_batch >= RESTORE_BATCH {
                let full = tx.borrow_mut().take().expect("a transaction is open");
                full.commit().map_err(StoreError::from)?;
                *tx.borrow_mut() = Some(db.begin_write().map_err(StoreError::from)?);
                in_batch = 0;
            }
            Ok(())
        },
    )?;
    let last = tx.borrow_mut().take().expect("a transaction is open");
    last.commit().map_err(StoreError::from)?;
    Ok(counts)
}

/// Reads a whole backup file and checks it (header, every frame, record count, checksum)
/// without restoring it.
pub fn verify_file(src: &Path) -> Result<Summary, BackupError> {
    let file = std::fs::File::open(src).map_err(|source| BackupError::Io {
        path: src.to_path_buf(),
        source,
    })?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut r = open_stream(src, file)?;
    let h = header(src, &mut r)?;
    let (tables, records) = read_frames(&mut r, |_| Ok(()), |_, _, _| Ok(()))?;
    Ok(Summary {
        tables,
        records,
        bytes,
        schema_version: h.schema_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;
    use crate::store::{Reader, Table};

    const T: Table<u64, String> = Table::new("test.rows");
    const SESS: Table<u64, String> = Table::new("test.sessions");

    fn fill(s: &Store, n: u64) {
        let mut w = s.write(&Actor::system("test")).unwrap();
        for i in 0..n {
            w.insert(&T, &i, &format!("row {i}")).unwrap();
            w.insert(&SESS, &i, &"secret".to_string()).unwrap();
        }
        w.audit("test.fill", "rows", Change::none());
        w.commit().unwrap();
    }

    #[test]
    fn round_trip_keeps_data_and_chain() {
        let (d, s) = temp_store();
        fill(&s, 50_000);
        let file = d.path().join("b.nxb");
        let sum = backup(&s, &file, &["test.sessions"]).unwrap();
        assert!(sum.records >= 50_000);

        let target = tempfile::tempdir().unwrap();
        let r = restore(&file, target.path(), false).unwrap();
        assert_eq!(r.records, sum.records);
        let s2 = Store::open(target.path()).unwrap();
        let rd = s2.read().unwrap();
        assert_eq!(rd.count(&T).unwrap(), 50_000);
        assert_eq!(rd.get(&T, &49_999).unwrap().as_deref(), Some("row 49999"));
        assert_eq!(
            rd.count(&SESS).unwrap(),
            0,
            "transient tables are not backed up"
        );
        let v = crate::store::audit::verify(&s2).unwrap();
        assert_eq!(
            v.problem, None,
            "the chain survives, with the restore appended"
        );
    }

    #[test]
    fn truncated_backup_changes_nothing() {
        let (d, s) = temp_store();
        fill(&s, 2_000);
        let file = d.path().join("b.nxb");
        backup(&s, &file, &[]).unwrap();
        let bytes = std::fs::read(&file).unwrap();
        let cut = d.path().join("cut.nxb");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let target = tempfile::tempdir().unwrap();
        let err = restore(&cut, target.path(), false).unwrap_err();
        assert!(matches!(err, BackupError::Damaged(_)), "{err}");
        assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0);
    }

    #[test]
    fn other_files_and_future_backups_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let junk = d.path().join("junk.nxb");
        std::fs::write(&junk, b"hello, this is not a backup").unwrap();
        let target = tempfile::tempdir().unwrap();
        assert!(matches!(
            restore(&junk, target.path(), false),
            Err(BackupError::NotABackup(_))
        ));

        // a well-formed backup whose schema is newer than this binary
        let future = d.path().join("future.nxb");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&future).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(MAGIC).unwrap();
        gz.write_all(&FORMAT.to_le_bytes()).unwrap();
        let h = Header {
            app_version: "9.0.0".into(),
            schema_version: migrate::current_version() + 5,
            store_id: "x".into(),
            created_ms: 0,
        };
        put_bytes(&mut gz, &crate::store::encode("t", &h).unwrap()).unwrap();
        gz.finish().unwrap();
        match restore(&future, target.path(), false) {
            Err(BackupError::TooNew { found, .. }) => {
                assert_eq!(found, migrate::current_version() + 5)
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
        assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0);
    }

    #[test]
    fn existing_store_needs_force() {
        let (d, s) = temp_store();
        fill(&s, 10);
        let file = d.path().join("b.nxb");
        backup(&s, &file, &[]).unwrap();
        drop(s);
        assert!(matches!(
            restore(&file, d.path(), false),
            Err(BackupError::TargetExists(_))
        ));
        restore(&file, d.path(), true).unwrap();
        let aside = std::fs::read_dir(d.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("before-restore")
            })
            .count();
        assert_eq!(aside, 1);
    }
}
