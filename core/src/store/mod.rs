//! The store: one redb file in the data dir, shared by every module.
//!
//! Owns the database handle, the typed-table API every module uses, the schema version and
//! its migrations (`migrate`), the hash-chained audit log (`audit`) and backup/restore
//! (`backup`). Modules declare their tables as `Table` constants named `<module>.<table>`
//! in their own `store.rs`; nobody opens another module's tables.
//!
//! Every table is raw bytes → raw bytes at the redb level. Keys use an order-preserving
//! encoding (`Key`), values are CBOR of serde types (`Record`), so fields can be added with
//! `#[serde(default)]` without a migration and backup can copy any table generically.
//!
//! Writes go through `WriteTx`, which carries the acting user and appends the audit entries
//! it collected to the chain in the same redb transaction as the change.

pub mod audit;
pub mod backup;
mod group;
pub mod journal;
pub mod migrate;
pub mod routes;

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Bound, ControlFlow, RangeBounds};
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use audit::{Actor, ActorKind, Change};

/// File name of the database inside the data dir.
pub const DB_FILE: &str = "nplusx.redb";

type Raw = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// Errors of the storage layer. Mapped to user-facing messages at the edges (CLI, HTTP).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the data dir {0} is in use by another nplusx process")]
    Locked(PathBuf),
    #[error(
        "the store was written by a newer nplusx (schema {found}, this binary supports up to {supported})"
    )]
    TooNew { found: u64, supported: u64 },
    #[error("cannot create data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Db(String),
    #[error("record in {table} cannot be decoded: {detail}")]
    Decode { table: &'static str, detail: String },
    #[error("record for {table} cannot be encoded: {detail}")]
    Encode { table: &'static str, detail: String },
    #[error("the journal {path} cannot be applied: {detail}")]
    Journal { path: PathBuf, detail: String },
    /// A migration refused the store: nothing was written (all pending migrations run in
    /// one transaction), the store is still at schema `found`; `backup` is the copy made
    /// before the upgrade.
    #[error("migration {version} ({name}) failed: {detail}")]
    Migration {
        version: u64,
        name: &'static str,
        detail: String,
        found: u64,
        backup: Option<PathBuf>,
    },
    /// The copy made before an upgrade could not be written: nothing was migrated.
    #[error("cannot copy the store before upgrading it (into {path}): {detail}")]
    UpgradeBackup { path: PathBuf, detail: String },
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Db(e.to_string()) }
        }
    )*};
}
db_err!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::CompactionError
);

impl From<redb::DatabaseError> for StoreError {
    fn from(e: redb::DatabaseError) -> Self {
        StoreError::Db(e.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A key with an order-preserving byte encoding.
pub trait Key: Sized {
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Option<Self>;
}

impl Key for u64 {
    fn encode(&self) -> Vec<u8> {
        self.to_be_bytes().to_vec()
    }
    fn decode(b: &[u8]) -> Option<Self> {
        Some(u64::from_be_bytes(b.try_into().ok()?))
    }
}

impl Key for String {
    fn encode(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn decode(b: &[u8]) -> Option<Self> {
        String::from_utf8(b.to_vec()).ok()
    }
}

impl Key for (u64, u64) {
    fn encode(&self) -> Vec<u8> {
        let mut v = self.0.to_be_bytes().to_vec();
        v.extend_from_slice(&self.1.to_be_bytes());
        v
    }
    fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != 16 {
            return None;
        }
        Some((u64::decode(&b[..8])?, u64::decode(&b[8..])?))
    }
}

impl Key for (u64, u64, u64) {
    fn encode(&self) -> Vec<u8> {
        words(&[self.0, self.1, self.2])
    }
    fn decode(b: &[u8]) -> Option<Self> {
        let [a, b, c] = unwords(b)?;
        Some((a, b, c))
    }
}

impl Key for (u64, u64, u64, u64) {
    fn encode(&self) -> Vec<u8> {
        words(&[self.0, self.1, self.2, self.3])
    }
    fn decode(b: &[u8]) -> Option<Self> {
        let [a, b, c, d] = unwords(b)?;
        Some((a, b, c, d))
    }
}

/// Big-endian words, so byte order is the tuple's order.
fn words(xs: &[u64]) -> Vec<u8> {
    xs.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn unwords<const N: usize>(b: &[u8]) -> Option<[u64; N]> {
    if b.len() != N * 8 {
        return None;
    }
    let mut out = [0u64; N];
    for (i, c) in b.chunks_exact(8).enumerate() {
        out[i] = u64::from_be_bytes(c.try_into().ok()?);
    }
    Some(out)
}

/// A stored value: any serde type, encoded as CBOR.
pub trait Record: Serialize + DeserializeOwned {}
impl<T: Serialize + DeserializeOwned> Record for T {}

/// A typed table `<module>.<name>`. Declare as a constant in the owning module's `store.rs`.
pub struct Table<K, V> {
    pub name: &'static str,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Table<K, V> {
    pub const fn new(name: &'static str) -> Self {
        Table {
            name,
            _types: PhantomData,
        }
    }
    fn raw(&self) -> Raw {
        TableDefinition::new(self.name)
    }
}

pub(crate) fn encode<V: Serialize>(table: &'static str, v: &V) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    ciborium::into_writer(v, &mut out).map_err(|e| StoreError::Encode {
        table,
        detail: e.to_string(),
    })?;
    Ok(out)
}

pub(crate) fn decode<V: DeserializeOwned>(table: &'static str, b: &[u8]) -> Result<V> {
    ciborium::from_reader(b).map_err(|e| StoreError::Decode {
        table,
        detail: e.to_string(),
    })
}

fn decode_key<K: Key>(table: &'static str, b: &[u8]) -> Result<K> {
    K::decode(b).ok_or_else(|| StoreError::Decode {
        table,
        detail: format!("bad key of {} bytes", b.len()),
    })
}

fn bounds<K: Key>(r: &impl RangeBounds<K>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let map = |b: Bound<&K>| match b {
        Bound::Included(k) => Bound::Included(k.encode()),
        Bound::Excluded(k) => Bound::Excluded(k.encode()),
        Bound::Unbounded => Bound::Unbounded,
    };
    (map(r.start_bound()), map(r.end_bound()))
}

fn as_slice(x: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match x {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn as_slices(b: &(Bound<Vec<u8>>, Bound<Vec<u8>>)) -> (Bound<&[u8]>, Bound<&[u8]>) {
    (as_slice(&b.0), as_slice(&b.1))
}

/// A raw visitor: called with each key and value; breaks to stop the scan.
pub type RawVisitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<ControlFlow<()>> + 'a;

/// Which way a scan walks its range.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// Typed reads, shared by read and write transactions.
pub trait Reader {
    #[doc(hidden)]
    fn raw_get(&self, table: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>>;
    #[doc(hidden)]
    fn raw_visit(
        &self,
        table: &'static str,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        order: Order,
        f: &mut RawVisitor,
    ) -> Result<()>;
    #[doc(hidden)]
    fn raw_len(&self, table: &'static str) -> Result<u64>;

    fn get<K: Key, V: Record>(&self, t: &Table<K, V>, k: &K) -> Result<Option<V>> {
        match self.raw_get(t.name, &k.encode())? {
            Some(b) => Ok(Some(decode(t.name, &b)?)),
            None => Ok(None),
        }
    }

    /// Calls `f` for each record in `range`, in key order or reverse, until it breaks.
    fn visit<K: Key, V: Record>(
        &self,
        t: &Table<K, V>,
        range: impl RangeBounds<K>,
        order: Order,
        mut f: impl FnMut(K, V) -> ControlFlow<()>,
    ) -> Result<()> {
        let b = bounds(&range);
        self.raw_visit(t.name, as_slices(&b), order, &mut |k, v| {
            Ok(f(decode_key(t.name, k)?, decode(t.name, v)?))
        })
    }

    /// All records of the table, in key order. For tables that stay small (users, roles…).
    fn all<K: Key, V: Record>(&self, t: &Table<K, V>) -> Result<Vec<(K, V)>> {
        let mut out = Vec::new();
        self.visit(t, .., Order::Asc, |k, v| {
            out.push((k, v));
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// The records of the table without their keys, in key order (small tables).
    fn values<K: Key, V: Record>(&self, t: &Table<K, V>) -> Result<Vec<V>> {
        let mut out = Vec::new();
        self.visit(t, .., Order::Asc, |_, v| {
            out.push(v);
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// Number of records in the table (without reading them).
    fn count<K: Key, V: Record>(&self, t: &Table<K, V>) -> Result<u64> {
        self.raw_len(t.name)
    }

    /// The first (or, with `Order::Desc`, last) record.
    fn first<K: Key, V: Record>(&self, t: &Table<K, V>, order: Order) -> Result<Option<(K, V)>> {
        let mut out = None;
        self.visit(t, .., order, |k, v| {
            out = Some((k, v));
            ControlFlow::Break(())
        })?;
        Ok(out)
    }
}

fn visit_table<T: ReadableTable<&'static [u8], &'static [u8]>>(
    t: &T,
    range: (Bound<&[u8]>, Bound<&[u8]>),
    order: Order,
    f: &mut RawVisitor,
) -> Result<()> {
    let iter = t.range::<&[u8]>(range)?;
    type Item<'g> = std::result::Result<
        (
            redb::AccessGuard<'g, &'static [u8]>,
            redb::AccessGuard<'g, &'static [u8]>,
        ),
        redb::StorageError,
    >;
    let mut step = |item: Item<'_>| {
        let (k, v) = item?;
        f(k.value(), v.value())
    };
    match order {
        Order::Asc => {
            for item in iter {
                if step(item)?.is_break() {
                    break;
                }
            }
        }
        Order::Desc => {
            for item in iter.rev() {
                if step(item)?.is_break() {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// A consistent snapshot for reading.
pub struct ReadTx {
    tx: redb::ReadTransaction,
}

impl Reader for ReadTx {
    fn raw_get(&self, table: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let def: Raw = TableDefinition::new(table);
        match self.tx.open_table(def) {
            Ok(t) => Ok(t.get(key)?.map(|g| g.value().to_vec())),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn raw_visit(
        &self,
        table: &'static str,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        order: Order,
        f: &mut RawVisitor,
    ) -> Result<()> {
        let def: Raw = TableDefinition::new(table);
        match self.tx.open_table(def) {
            Ok(t) => visit_table(&t, range, order, f),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn raw_len(&self, table: &'static str) -> Result<u64> {
        use redb::ReadableTableMetadata;
        let def: Raw = TableDefinition::new(table);
        match self.tx.open_table(def) {
            Ok(t) => Ok(t.len()?),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

/// A write transaction on behalf of an actor. Audit entries added with [`WriteTx::audit`]
/// are chained and written in the same redb transaction on [`WriteTx::commit`].
pub struct WriteTx {
    tx: redb::WriteTransaction,
    actor: Actor,
    pending: Vec<audit::Pending>,
    /// The clock audit entries carry; None: now. Set for a grouped batch (one clock for
    /// all its writes) so the journal can redo them with the same entries.
    clock_ms: Option<i64>,
}

impl Reader for WriteTx {
    fn raw_get(&self, table: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let def: Raw = TableDefinition::new(table);
        let t = self.tx.open_table(def)?;
        Ok(t.get(key)?.map(|g| g.value().to_vec()))
    }

    fn raw_visit(
        &self,
        table: &'static str,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        order: Order,
        f: &mut RawVisitor,
    ) -> Result<()> {
        let def: Raw = TableDefinition::new(table);
        let t = self.tx.open_table(def)?;
        visit_table(&t, range, order, f)
    }

    fn raw_len(&self, table: &'static str) -> Result<u64> {
        use redb::ReadableTableMetadata;
        let def: Raw = TableDefinition::new(table);
        Ok(self.tx.open_table(def)?.len()?)
    }
}

impl WriteTx {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn insert<K: Key, V: Record>(&mut self, t: &Table<K, V>, k: &K, v: &V) -> Result<()> {
        let bytes = encode(t.name, v)?;
        let mut tab = self.tx.open_table(t.raw())?;
        tab.insert(k.encode().as_slice(), bytes.as_slice())?;
        Ok(())
    }

    /// Removes a record and returns what it held.
    pub fn remove<K: Key, V: Record>(&mut self, t: &Table<K, V>, k: &K) -> Result<Option<V>> {
        let mut tab = self.tx.open_table(t.raw())?;
        let old = tab
            .remove(k.encode().as_slice())?
            .map(|g| g.value().to_vec());
        drop(tab);
        old.map(|b| decode(t.name, &b)).transpose()
    }

    /// Removes every record whose key falls in `range`; returns how many.
    pub fn remove_range<K: Key, V: Record>(
        &mut self,
        t: &Table<K, V>,
        range: impl RangeBounds<K>,
    ) -> Result<u64> {
        let b = bounds(&range);
        let mut tab = self.tx.open_table(t.raw())?;
        let keys: Vec<Vec<u8>> = tab
            .range::<&[u8]>(as_slices(&b))?
            .map(|r| r.map(|(k, _)| k.value().to_vec()))
            .collect::<std::result::Result<_, _>>()?;
        for k in &keys {
            tab.remove(k.as_slice())?;
        }
        Ok(keys.len() as u64)
    }

    /// Next value of the table's id sequence (starts at 1).
    pub fn next_id<K, V>(&mut self, t: &Table<K, V>) -> Result<u64> {
        let key = format!("seq:{}", t.name);
        let cur: u64 = meta_get(self, &key)?.unwrap_or(0);
        meta_put(self, &key, &(cur + 1))?;
        Ok(cur + 1)
    }

    /// Next id of a table whose ids are `u32` (tags, devices, alarms…).
    pub fn next_u32_id<K, V>(&mut self, t: &Table<K, V>) -> crate::error::Result<u32> {
        u32::try_from(self.next_id(t)?)
            .map_err(|_| crate::error::Error::conflict("tags.err.too_many"))
    }

    /// Audits a record saved: `<what>.create` without `before`, else `<what>.update`
    /// (the catalogue needs `audit.act.<what>_create` and `_update`).
    pub fn audit_saved(
        &mut self,
        what: &str,
        target: impl fmt::Display,
        before: Option<impl Serialize>,
        after: impl Serialize,
    ) {
        match before {
            None => self.audit(&format!("{what}.create"), target, Change::created(after)),
            Some(b) => self.audit(&format!("{what}.update"), target, Change::updated(b, after)),
        }
    }

    /// Claims `key` in a unique-code index (`code → record id`) for record `id`, moving it
    /// from `old` (the record's code before a rename); false, changing nothing, when another
    /// record holds the key.
    pub fn claim(
        &mut self,
        t: &Table<String, u64>,
        key: &str,
        id: u64,
        old: Option<&str>,
    ) -> Result<bool> {
        let key = key.to_string();
        if self.get(t, &key)?.is_some_and(|other| other != id) {
            return Ok(false);
        }
        if let Some(o) = old.filter(|o| *o != key) {
            self.remove(t, &o.to_string())?;
        }
        self.insert(t, &key, &id)?;
        Ok(true)
    }

    /// Records what this transaction changes, for the audit log. `action` is a stable code
    /// such as `user.create`; `target` names the record (`user:12 wangwei`).
    pub fn audit(&mut self, action: &str, target: impl fmt::Display, change: Change) {
        self.pending.push(audit::Pending {
            action: action.to_string(),
            target: target.to_string(),
            change,
        });
    }

    /// Appends the collected audit entries to the chain and commits durably.
    pub fn commit(mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        audit::append(&mut self, pending)?;
        self.tx.commit()?;
        Ok(())
    }

    /// Drops everything written in it, audit entries included (a check that runs a
    /// service's rules without keeping what they wrote).
    pub fn abort(self) -> Result<()> {
        self.tx.abort()?;
        Ok(())
    }
}

/// The store-wide key/value table (`store.meta`): schema version, sequences, audit head.
pub(crate) const META: Table<String, serde_json::Value> = Table::new("store.meta");

pub(crate) fn meta_get<V: DeserializeOwned>(r: &impl Reader, key: &str) -> Result<Option<V>> {
    match r.raw_get(META.name, key.as_bytes())? {
        Some(b) => Ok(Some(decode(META.name, &b)?)),
        None => Ok(None),
    }
}

pub(crate) fn meta_put<V: Serialize>(w: &mut WriteTx, key: &str, v: &V) -> Result<()> {
    let bytes = encode(META.name, v)?;
    let mut tab = w.tx.open_table(META.raw())?;
    tab.insert(key.as_bytes(), bytes.as_slice())?;
    Ok(())
}

/// The schema version of the store at `path`, read without writing to the file; None when
/// there is no store, or it cannot be read this way (held by a running server, or it needs
/// the repair that only a writable open does): the writable open then says what is wrong.
fn peek_schema(path: &Path) -> Option<u64> {
    if !path.is_file() {
        return None;
    }
    let db = redb::ReadOnlyDatabase::open(path).ok()?;
    let tx = ReadTx {
        tx: db.begin_read().ok()?,
    };
    meta_get(&tx, migrate::VERSION_KEY).ok()?
}

/// The opened store. Cheap to share behind an `Arc`.
/// redb's page cache. Its default (1 GiB) is a ceiling the history writes fill over hours,
/// which a 2 GB box cannot spare; the kernel's page cache still holds the file, and the
/// B-tree's interior pages of a large store fit in a fraction of this.
const CACHE_BYTES: usize = 32 << 20;

pub struct Store {
    db: redb::Database,
    path: PathBuf,
    /// Writes queued for a shared commit ([`Store::write_grouped`]).
    group: group::Group,
    /// Seals credentials with the key beside the store file (opened on first use).
    sealer: std::sync::OnceLock<std::sync::Arc<crate::secrets::Sealer>>,
}

impl Store {
    /// Opens (or creates) the store in `data_dir` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<Store> {
        Self::open_with(data_dir, migrate::MIGRATIONS)
    }

    pub(crate) fn open_with(data_dir: &Path, migrations: &[migrate::Migration]) -> Result<Store> {
        Self::open_full(data_dir, migrations, journal::KINDS)
    }

    /// Opens the store, redoes what its journal holds beyond the last durable commit (with
    /// `kinds`), then migrates.
    pub(crate) fn open_full(
        data_dir: &Path,
        migrations: &[migrate::Migration],
        kinds: &'static [journal::Kind],
    ) -> Result<Store> {
        use std::os::unix::fs::PermissionsExt;
        let dir_err = |source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        };
        if !data_dir.exists() {
            // password hashes and every record live here: owner only
            std::fs::create_dir_all(data_dir).map_err(dir_err)?;
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
                .map_err(dir_err)?;
        }
        let path = data_dir.join(DB_FILE);
        // A store from a newer binary is refused before anything opens it for writing: even
        // an open with nothing to do rewrites redb's header.
        let supported = migrations.last().map_or(0, |m| m.version);
        if let Some(found) = peek_schema(&path)
            && found > supported
        {
            return Err(StoreError::TooNew { found, supported });
        }
        let db = match redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
        {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::Locked(data_dir.to_path_buf()));
            }
            Err(e) => return Err(e.into()),
        };
        if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(path = %path.display(), error = %e, "cannot restrict the store file to its owner");
        }
        // the journal's batches ran on the schema they were written with: redo them before
        // any migration (a journal from another schema refuses the open)
        let schema = migrations.last().map_or(0, |m| m.version);
        let jpath = data_dir.join(journal::JOURNAL_FILE);
        let redone = journal::recover(&db, &jpath, kinds, schema)?;
        let journal = journal::Journal::open(&jpath).map_err(|e| StoreError::Journal {
            path: jpath.clone(),
            detail: e.to_string(),
        })?;
        let store = Store {
            db,
            path,
            group: group::Group::new(journal, kinds, schema, redone as u64),
            sealer: std::sync::OnceLock::new(),
        };
        migrate::run(&store, migrations)?;
        Ok(store)
    }

    /// True when a store file exists in `data_dir` (it may still be empty of data).
    pub fn exists(data_dir: &Path) -> bool {
        data_dir.join(DB_FILE).is_file()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The box's credential sealer (`<data>/secret.key`, created on first use).
    pub fn sealer(&self) -> Result<std::sync::Arc<crate::secrets::Sealer>> {
        if let Some(s) = self.sealer.get() {
            return Ok(s.clone());
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let s = crate::secrets::Sealer::open(dir).map_err(|source| StoreError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(self.sealer.get_or_init(|| std::sync::Arc::new(s)).clone())
    }

    pub fn read(&self) -> Result<ReadTx> {
        Ok(ReadTx {
            tx: self.db.begin_read()?,
        })
    }

    /// Starts a write on behalf of `actor`. Callers record what they change with
    /// [`WriteTx::audit`]; the entries land in the same transaction.
    pub fn write(&self, actor: &Actor) -> Result<WriteTx> {
        Ok(WriteTx {
            tx: self.db.begin_write()?,
            actor: actor.clone(),
            pending: Vec::new(),
            clock_ms: None,
        })
    }

    /// Runs `f` in a write transaction shared with the other writes queued at the same
    /// moment, committed durably once for all of them (group commit, see `store/group.rs`).
    /// Returns `f`'s result once that commit is on disk. `f` may run more than once (when a
    /// write grouped with it fails, the others run again without it), so it must not have
    /// effects outside the transaction. For hot paths with many concurrent writers, such as
    /// posting stock movements; other writes use [`Store::write`].
    pub fn write_grouped<T, E, F>(&self, actor: &Actor, f: F) -> std::result::Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnMut(&mut WriteTx) -> std::result::Result<T, E> + Send + 'static,
    {
        self.group.write(&self.db, actor, None, f)
    }

    /// Like [`Store::write_grouped`], for a write the journal can redo: `kind` names a
    /// [`journal::Kind`] and `args` are the arguments it gets, and `f` must do exactly what
    /// that kind does with them (call the same function). Its batch commits without syncing
    /// the B-tree pages; the journal record is synced instead (see `store/journal.rs`).
    pub fn write_logged<T, E, F>(
        &self,
        actor: &Actor,
        kind: &'static str,
        args: Vec<u8>,
        f: F,
    ) -> std::result::Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnMut(&mut WriteTx) -> std::result::Result<T, E> + Send + 'static,
    {
        if !self.group.knows(kind) {
            return Err(E::from(StoreError::Db(format!(
                "no redo is registered for {kind}: add it to journal::KINDS"
            ))));
        }
        let logged = journal::Logged {
            kind: kind.to_string(),
            actor: actor.clone(),
            args,
        };
        self.group.write(&self.db, actor, Some(logged), f)
    }

    /// Makes every journaled batch durable and empties the journal (also done when the
    /// store is dropped; after a crash, opening the store redoes them instead).
    pub fn checkpoint(&self) -> Result<()> {
        self.group.checkpoint(&self.db)
    }

    /// Grouped writes answered and the commits that carried them, since the store opened.
    pub fn group_stats(&self) -> (u64, u64) {
        self.group.stats()
    }

    /// (journaled batches, checkpoints, batches redone when the store opened).
    pub fn journal_stats(&self) -> (u64, u64, u64) {
        self.group.journal_stats()
    }

    /// The schema version the store is at.
    pub fn schema_version(&self) -> Result<u64> {
        Ok(meta_get(&self.read()?, migrate::VERSION_KEY)?.unwrap_or(0))
    }

    /// A quick liveness probe for `/healthz`: a read transaction on the meta table.
    pub fn check(&self) -> Result<()> {
        let r = self.read()?;
        let _: Option<u64> = meta_get(&r, migrate::VERSION_KEY)?;
        Ok(())
    }

    /// Size of the database file in bytes.
    pub fn file_size(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }

    /// Space accounting of the file: (allocated pages × page size, stored key/value bytes,
    /// metadata bytes, fragmented bytes).
    pub fn space(&self) -> Result<(u64, u64, u64, u64)> {
        let w = self.db.begin_write()?;
        let s = w.stats().map_err(|e| StoreError::Db(e.to_string()))?;
        let out = (
            s.allocated_pages() * s.page_size() as u64,
            s.stored_bytes(),
            s.metadata_bytes(),
            s.fragmented_bytes(),
        );
        w.abort()?;
        Ok(out)
    }

    /// Names of all tables that exist in the file.
    pub fn table_names(&self) -> Result<Vec<String>> {
        let r = self.db.begin_read()?;
        Ok(r.list_tables()?.map(|h| h.name().to_string()).collect())
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.checkpoint() {
            tracing::warn!(error = %e, "no checkpoint at close: the next open redoes the journal");
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open store");
        (dir, store)
    }

    const T: Table<u64, String> = Table::new("test.items");

    #[test]
    fn insert_get_scan_remove() {
        let (_d, s) = temp_store();
        let mut w = s.write(&Actor::system("test")).unwrap();
        for i in 1..=5u64 {
            w.insert(&T, &i, &format!("item {i}")).unwrap();
        }
        w.audit("test.insert", "items", Change::none());
        w.commit().unwrap();

        let r = s.read().unwrap();
        assert_eq!(r.get(&T, &3).unwrap().as_deref(), Some("item 3"));
        assert_eq!(r.get(&T, &9).unwrap(), None);
        let mut desc = Vec::new();
        r.visit(&T, 2..=4, Order::Desc, |k, _| {
            desc.push(k);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(desc, vec![4, 3, 2]);
        assert_eq!(r.count(&T).unwrap(), 5);
        drop(r);

        let mut w = s.write(&Actor::system("test")).unwrap();
        assert_eq!(w.remove(&T, &3).unwrap().as_deref(), Some("item 3"));
        assert_eq!(w.remove_range(&T, 4..).unwrap(), 2);
        w.commit().unwrap();
        assert_eq!(s.read().unwrap().all(&T).unwrap().len(), 2);
    }

    #[test]
    fn missing_table_reads_as_empty() {
        let (_d, s) = temp_store();
        let r = s.read().unwrap();
        assert_eq!(r.get(&T, &1).unwrap(), None);
        assert!(r.all(&T).unwrap().is_empty());
    }

    #[test]
    fn records_evolve_without_migration() {
        #[derive(Serialize, serde::Deserialize)]
        struct V1 {
            name: String,
        }
        #[derive(Serialize, serde::Deserialize)]
        struct V2 {
            name: String,
            #[serde(default)]
            phone: Option<String>,
        }
        let old = encode("t", &V1 { name: "a".into() }).unwrap();
        let new: V2 = decode("t", &old).unwrap();
        assert_eq!(new.name, "a");
        assert_eq!(new.phone, None);
        // and a newer record still reads in an older binary (unknown fields are ignored)
        let newer = encode(
            "t",
            &V2 {
                name: "b".into(),
                phone: Some("1".into()),
            },
        )
        .unwrap();
        let back: V1 = decode("t", &newer).unwrap();
        assert_eq!(back.name, "b");
    }

    #[test]
    fn second_open_reports_locked() {
        let (d, _s) = temp_store();
        match Store::open(d.path()) {
            Err(StoreError::Locked(p)) => assert_eq!(p, d.path()),
            other => panic!("expected Locked, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn sequences_count_per_table() {
        let (_d, s) = temp_store();
        let mut w = s.write(&Actor::system("test")).unwrap();
        assert_eq!(w.next_id(&T).unwrap(), 1);
        assert_eq!(w.next_id(&T).unwrap(), 2);
        w.commit().unwrap();
        let mut w = s.write(&Actor::system("test")).unwrap();
        assert_eq!(w.next_id(&T).unwrap(), 3);
    }
}
