//! The historian: every reportable sample, compressed, in redb.
//!
//! Path of a sample: the tag engine hands it to [`Historian::accept`] (a buffer append,
//! never blocking); once a second [`Historian::flush`] takes the buffer and, in **one**
//! durable transaction, writes it as a *stage block* (all tags, compressed per tag) and
//! any *chunks* that closed. A chunk is one tag's run of up to 4,096 samples or 15
//! minutes, compressed by `codec` (delta-of-delta timestamps, quantised value deltas), kept
//! open in memory until it closes. Stage blocks are dropped once every sample in them is
//! in a closed chunk; at start the open chunks are rebuilt from the stage blocks.
//!
//! **Durability window**: a power cut loses the samples of the last second at most (the
//! buffer since the last commit). Everything committed stays, because each flush is one
//! redb transaction with an fsync.
//!
//! Retention drops whole chunks older than the tag's `retention_days`. Owns the
//! `historian.*` tables.

pub mod codec;
pub mod totals;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use codec::{Encoder, Point};

use crate::store::{Actor, Order, Reader, Store, StoreError, Table};
use crate::tags::engine::{Engine, Sink};
use crate::tags::model::{DataType, Sample, Tag};

/// A chunk closes after this many samples…
pub const CHUNK_SAMPLES: u32 = 4096;
/// …or once it spans this long.
pub const CHUNK_SPAN_MS: i64 = 15 * 60_000;
/// Samples kept in memory at most while the disk does not keep up; older ones are dropped
/// (and counted) so the appliance cannot run out of memory.
const MAX_BUFFERED: usize = 20_000_000;
/// History of deleted tags is dropped after this many days.
const ORPHAN_RETENTION_DAYS: i64 = 365;

#[derive(Serialize, Deserialize)]
struct Blob(#[serde(with = "serde_bytes")] Vec<u8>);

/// A stretch of one tag's history (see [`Historian::pieces`]).
pub enum Piece {
    /// A closed chunk: its summary and its bytes ([`codec::decode`]).
    Chunk(codec::Header, Vec<u8>),
    /// Samples not yet in a closed chunk, oldest first.
    Points(Vec<Point>),
}

/// (tag, first timestamp) → chunk bytes.
const CHUNKS: Table<(u64, u64), Blob> = Table::new("historian.chunks");
/// (newest timestamp in the block, flush sequence) → stage block.
const STAGE: Table<(u64, u64), Blob> = Table::new("historian.stage");

struct Open {
    enc: Encoder,
}

/// Counters for `/metrics` and the benchmark.
#[derive(Default)]
pub struct Stats {
    pub samples: AtomicU64,
    pub chunks: AtomicU64,
    pub flushes: AtomicU64,
    pub late: AtomicU64,
    pub dropped: AtomicU64,
    pub last_flush_us: AtomicU64,
}

pub struct Historian {
    store: Arc<Store>,
    engine: Arc<Engine>,
    buffer: Mutex<Vec<Sample>>,
    open: Mutex<HashMap<u32, Open>>,
    /// Serialises flushes (the timer and shutdown may race).
    flushing: Mutex<u64>,
    /// The newest sample timestamp seen: the clock that closes idle chunks.
    clock: AtomicI64,
    pub stats: Stats,
}

impl Sink for Historian {
    fn accept(&self, batch: &[Sample]) {
        let mut b = self
            .buffer
            .lock()
            .expect("historian lock is never poisoned");
        if b.len() + batch.len() > MAX_BUFFERED {
            let drop_n = (b.len() + batch.len() - MAX_BUFFERED).min(b.len());
            b.drain(..drop_n);
            self.stats
                .dropped
                .fetch_add(drop_n as u64, Ordering::Relaxed);
        }
        b.extend_from_slice(batch);
    }
}

/// A stage block: `base_ts i64` then, per tag, `tag u32 | len u32 | compact segment`
/// whose first timestamp is relative to `base_ts`.
fn encode_block(base_ts: i64, parts: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + parts.iter().map(|(_, b)| b.len() + 8).sum::<usize>());
    out.extend_from_slice(&base_ts.to_le_bytes());
    for (tag, bytes) in parts {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

fn decode_block(b: &[u8]) -> Vec<(u32, Vec<Point>)> {
    let mut out = Vec::new();
    let Some(base) = b
        .get(..8)
        .map(|x| i64::from_le_bytes(x.try_into().expect("8 bytes")))
    else {
        return out;
    };
    let mut i = 8;
    while i + 8 <= b.len() {
        let tag = u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let n = u32::from_le_bytes(b[i + 4..i + 8].try_into().expect("4 bytes")) as usize;
        if i + 8 + n > b.len() {
            break;
        }
        if let Some(points) = codec::decode_compact(&b[i + 8..i + 8 + n], base) {
            out.push((tag, points));
        }
        i += 8 + n;
    }
    out
}

fn encoder_for(tag: Option<&Arc<Tag>>) -> Encoder {
    match tag {
        Some(t) => Encoder::new(t.resolution, t.data_type == DataType::String),
        None => Encoder::new(0.001, false),
    }
}

/// One aggregate bucket of a history query.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Bucket {
    /// Start of the bucket (Unix ms).
    pub ts_ms: i64,
    /// Good numeric samples in the bucket.
    pub count: u32,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub avg: Option<f64>,
    pub first: Option<f64>,
    pub last: Option<f64>,
}

impl Historian {
    /// Opens the historian and rebuilds the open chunks from the stage blocks.
    pub fn open(store: Arc<Store>, engine: Arc<Engine>) -> Result<Historian, StoreError> {
        let h = Historian {
            store,
            engine,
            buffer: Mutex::new(Vec::new()),
            open: Mutex::new(HashMap::new()),
            flushing: Mutex::new(0),
            clock: AtomicI64::new(i64::MIN),
            stats: Stats::default(),
        };
        h.recover()?;
        Ok(h)
    }

    /// The newest closed-chunk timestamp per tag.
    fn sealed_until(&self, r: &impl Reader) -> Result<HashMap<u32, i64>, StoreError> {
        let mut out = HashMap::new();
        let mut tag = 0u64;
        loop {
            let mut found = None;
            r.visit(
                &CHUNKS,
                (tag, 0)..=(u64::from(u32::MAX), u64::MAX),
                Order::Asc,
                |(t, _), _| {
                    found = Some(t);
                    ControlFlow::Break(())
                },
            )?;
            let Some(t) = found else { break };
            let mut last = i64::MIN;
            // the newest regular chunk (late chunks may sit anywhere in time)
            r.visit(
                &CHUNKS,
                (t, 0)..=(t, u64::MAX),
                Order::Desc,
                |_, Blob(b)| match codec::header(&b) {
                    Some(h) if !h.late => {
                        last = h.last_ts;
                        ControlFlow::Break(())
                    }
                    _ => ControlFlow::Continue(()),
                },
            )?;
            out.insert(t as u32, last);
            tag = t + 1;
        }
        Ok(out)
    }

    fn recover(&self) -> Result<(), StoreError> {
        let r = self.store.read()?;
        let sealed = self.sealed_until(&r)?;
        let defs = self.engine.defs();
        let mut open = self.open.lock().expect("historian lock is never poisoned");
        let mut n = 0u64;
        r.visit(&STAGE, .., Order::Asc, |_, Blob(block)| {
            for (tag, points) in decode_block(&block) {
                let from = sealed.get(&tag).copied().unwrap_or(i64::MIN);
                let o = open.entry(tag).or_insert_with(|| Open {
                    enc: encoder_for(defs.get(tag)),
                });
                for p in points.iter().filter(|p| p.ts_ms > from) {
                    if o.enc.count() > 0 && p.ts_ms < o.enc.last_ts() {
                        continue;
                    }
                    o.enc.push(p.ts_ms, p.value.as_ref(), p.quality);
                    n += 1;
                }
            }
            ControlFlow::Continue(())
        })?;
        if n > 0 {
            tracing::info!(
                samples = n,
                tags = open.len(),
                "historian recovered open chunks"
            );
        }
        Ok(())
    }

    /// Writes everything buffered: one durable transaction. Returns the number of samples.
    pub fn flush(&self) -> Result<usize, StoreError> {
        let mut seq = self
            .flushing
            .lock()
            .expect("historian lock is never poisoned");
        let started = Instant::now();
        let batch = std::mem::take(
            &mut *self
                .buffer
                .lock()
                .expect("historian lock is never poisoned"),
        );
        if batch.is_empty() {
            return Ok(0);
        }
        let defs = self.engine.defs();
        let retained = |tag: u32| defs.get(tag).is_none_or(|t| t.retention_days > 0);
        let mut by_tag: HashMap<u32, Vec<&Sample>> = HashMap::new();
        for s in batch.iter().filter(|s| retained(s.tag)) {
            by_tag.entry(s.tag).or_default().push(s);
        }
        let mut stage_parts = Vec::with_capacity(by_tag.len());
        let base_ts = batch.iter().map(|s| s.ts_ms).min().unwrap_or(0);
        let mut sealed: Vec<(u32, i64, Vec<u8>)> = Vec::new();
        let mut max_ts = i64::MIN;
        let n_samples: usize = by_tag.values().map(Vec::len).sum();
        {
            let mut open = self.open.lock().expect("historian lock is never poisoned");
            for (tag, mut samples) in by_tag {
                samples.sort_by_key(|s| s.ts_ms);
                let def = defs.get(tag);
                let mut stage = match def {
                    Some(t) => {
                        Encoder::with_base(t.resolution, t.data_type == DataType::String, base_ts)
                    }
                    None => Encoder::with_base(0.001, false, base_ts),
                };
                let mut late = encoder_for(def);
                late.set_late();
                let o = open.entry(tag).or_insert_with(|| Open {
                    enc: encoder_for(def),
                });
                for s in samples {
                    stage.push(s.ts_ms, s.value.as_ref(), s.quality);
                    max_ts = max_ts.max(s.ts_ms);
                    if o.enc.count() > 0 && s.ts_ms < o.enc.last_ts() {
                        // older than what this tag already has: a chunk of its own
                        late.push(s.ts_ms, s.value.as_ref(), s.quality);
                        self.stats.late.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let full = o.enc.count() >= CHUNK_SAMPLES
                        || (o.enc.count() > 0 && s.ts_ms - o.enc.first_ts() >= CHUNK_SPAN_MS);
                    if full {
                        let done = std::mem::replace(&mut o.enc, encoder_for(def));
                        sealed.push((tag, done.first_ts(), done.bytes()));
                    }
                    o.enc.push(s.ts_ms, s.value.as_ref(), s.quality);
                }
                if !late.is_empty() {
                    sealed.push((tag, late.first_ts(), late.bytes()));
                }
                stage_parts.push((tag, stage.compact()));
            }
            // a tag that went quiet does not keep its chunk (and the stage) open forever:
            // the data's own clock closes it
            let clock = self.clock.fetch_max(max_ts, Ordering::Relaxed).max(max_ts);
            for (tag, o) in open.iter_mut() {
                if o.enc.count() > 0 && clock - o.enc.first_ts() >= CHUNK_SPAN_MS {
                    let done = std::mem::replace(&mut o.enc, encoder_for(defs.get(*tag)));
                    sealed.push((*tag, done.first_ts(), done.bytes()));
                }
            }
        }
        let oldest_open = self
            .open
            .lock()
            .expect("historian lock is never poisoned")
            .values()
            .filter(|o| o.enc.count() > 0)
            .map(|o| o.enc.first_ts())
            .min();
        *seq += 1;
        let mut w = self.store.write(&Actor::system("historian"))?;
        w.insert(
            &STAGE,
            &(max_ts.max(0) as u64, *seq),
            &Blob(encode_block(base_ts, &stage_parts)),
        )?;
        for (tag, first, bytes) in &sealed {
            // two chunks starting in the same millisecond (late data): the later one moves up
            let mut key = (*tag as u64, (*first).max(0) as u64);
            while w.get(&CHUNKS, &key)?.is_some() {
                key.1 += 1;
            }
            w.insert(&CHUNKS, &key, &Blob(bytes.clone()))?;
        }
        // stage blocks whose every sample is now in a closed chunk
        let keep_from = oldest_open.unwrap_or(i64::MAX).max(0) as u64;
        if keep_from > 0 {
            w.remove_range(&STAGE, (0, 0)..(keep_from, 0))?;
        }
        w.commit()?;
        self.stats
            .samples
            .fetch_add(n_samples as u64, Ordering::Relaxed);
        self.stats
            .chunks
            .fetch_add(sealed.len() as u64, Ordering::Relaxed);
        self.stats.flushes.fetch_add(1, Ordering::Relaxed);
        self.stats
            .last_flush_us
            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        Ok(n_samples)
    }

    /// One tag's history in `[from, to]` as it is kept, oldest first: each closed chunk with
    /// its summary header (decode its bytes only where the summary will not do) and the
    /// samples not yet in a closed chunk. Figures over long ranges (a batch record's phases)
    /// add up whole chunks' summaries instead of decoding every sample.
    pub fn pieces(&self, tag: u32, from: i64, to: i64) -> Result<Vec<Piece>, StoreError> {
        let r = self.store.read()?;
        let mut out: Vec<Piece> = Vec::new();
        r.visit(
            &CHUNKS,
            (tag as u64, 0)..=(tag as u64, to.max(0) as u64),
            Order::Desc,
            |_, Blob(b)| match codec::header(&b) {
                Some(h) if h.last_ts < from => ControlFlow::Break(()),
                Some(h) => {
                    out.push(Piece::Chunk(h, b));
                    ControlFlow::Continue(())
                }
                None => ControlFlow::Break(()),
            },
        )?;
        drop(r);
        out.reverse();
        let rest: Vec<Point> = self.raw_unflushed(tag, from, to).into_iter().collect();
        if !rest.is_empty() {
            out.push(Piece::Points(rest));
        }
        Ok(out)
    }

    /// The open chunk's and the buffer's samples of a tag in `[from, to]`.
    fn raw_unflushed(&self, tag: u32, from: i64, to: i64) -> Vec<Point> {
        let mut out = Vec::new();
        if let Some(o) = self
            .open
            .lock()
            .expect("historian lock is never poisoned")
            .get(&tag)
            && o.enc.count() > 0
            && o.enc.last_ts() >= from
            && let Some(points) = codec::decode(&o.enc.bytes())
        {
            out.extend(
                points
                    .into_iter()
                    .filter(|p| p.ts_ms >= from && p.ts_ms <= to),
            );
        }
        let b = self
            .buffer
            .lock()
            .expect("historian lock is never poisoned");
        out.extend(
            b.iter()
                .filter(|s| s.tag == tag && s.ts_ms >= from && s.ts_ms <= to)
                .map(|s| Point {
                    ts_ms: s.ts_ms,
                    value: s.value.clone(),
                    quality: s.quality,
                }),
        );
        out
    }

    /// Raw history of one tag in `[from, to]`, oldest first.
    pub fn raw(&self, tag: u32, from: i64, to: i64) -> Result<Vec<Point>, StoreError> {
        let r = self.store.read()?;
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        r.visit(
            &CHUNKS,
            (tag as u64, 0)..=(tag as u64, to.max(0) as u64),
            Order::Desc,
            |_, Blob(b)| {
                let stop = codec::header(&b).is_none_or(|h| h.last_ts < from);
                if !stop {
                    chunks.push(b);
                }
                if stop {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )?;
        drop(r);
        let mut out: Vec<Point> = Vec::new();
        for b in chunks.iter().rev() {
            if let Some(points) = codec::decode(b) {
                out.extend(
                    points
                        .into_iter()
                        .filter(|p| p.ts_ms >= from && p.ts_ms <= to),
                );
            }
        }
        // the open chunk, and what is waiting for the next flush
        out.extend(self.raw_unflushed(tag, from, to));
        let sorted = out.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms);
        if !sorted {
            out.sort_by_key(|p| p.ts_ms);
        }
        Ok(out)
    }

    /// `buckets` equal buckets over `[from, to)`: count, min, max, average, first and last
    /// of the good numeric samples in each.
    pub fn aggregate(
        &self,
        tag: u32,
        from: i64,
        to: i64,
        buckets: u32,
    ) -> Result<Vec<Bucket>, StoreError> {
        let n = buckets.clamp(1, 100_000) as i64;
        let width = ((to - from) as f64 / n as f64).max(1.0);
        let mut out: Vec<Bucket> = (0..n)
            .map(|i| Bucket {
                ts_ms: from + (i as f64 * width) as i64,
                count: 0,
                min: None,
                max: None,
                avg: None,
                first: None,
                last: None,
            })
            .collect();
        let mut sums = vec![0f64; n as usize];
        for p in self.raw(tag, from, to.saturating_sub(1))? {
            let (true, Some(v)) = (
                p.quality.is_good(),
                p.value.as_ref().and_then(|v| v.as_f64()),
            ) else {
                continue;
            };
            let i = (((p.ts_ms - from) as f64 / width) as usize).min(n as usize - 1);
            let b = &mut out[i];
            b.count += 1;
            b.min = Some(b.min.map_or(v, |m| m.min(v)));
            b.max = Some(b.max.map_or(v, |m| m.max(v)));
            b.first.get_or_insert(v);
            b.last = Some(v);
            sums[i] += v;
        }
        for (b, s) in out.iter_mut().zip(sums) {
            if b.count > 0 {
                b.avg = Some(s / b.count as f64);
            }
        }
        Ok(out)
    }

    /// What the history occupies: (closed chunks, their encoded bytes, stage blocks, their
    /// bytes, samples in the closed chunks). For `/metrics` and the benchmark.
    pub fn usage(&self) -> Result<(u64, u64, u64, u64, u64), StoreError> {
        let r = self.store.read()?;
        let (mut chunks, mut chunk_bytes, mut samples) = (0u64, 0u64, 0u64);
        r.visit(&CHUNKS, .., Order::Asc, |_, Blob(b)| {
            chunks += 1;
            chunk_bytes += b.len() as u64;
            samples += codec::header(&b).map(|h| h.count as u64).unwrap_or(0);
            ControlFlow::Continue(())
        })?;
        let (mut stages, mut stage_bytes) = (0u64, 0u64);
        r.visit(&STAGE, .., Order::Asc, |_, Blob(b)| {
            stages += 1;
            stage_bytes += b.len() as u64;
            ControlFlow::Continue(())
        })?;
        Ok((chunks, chunk_bytes, stages, stage_bytes, samples))
    }

    /// Drops whole chunks older than each tag's retention (deleted tags: one year).
    /// Returns the number of chunks removed.
    pub fn apply_retention(&self, now_ms: i64) -> Result<u64, StoreError> {
        let defs = self.engine.defs();
        let r = self.store.read()?;
        let mut doomed: Vec<(u64, u64)> = Vec::new();
        r.visit(&CHUNKS, .., Order::Asc, |(tag, start), Blob(b)| {
            let days = defs
                .get(tag as u32)
                .map(|t| t.retention_days as i64)
                .unwrap_or(ORPHAN_RETENTION_DAYS);
            let cutoff = now_ms - days * 86_400_000;
            if codec::header(&b).is_none_or(|h| h.last_ts < cutoff) {
                doomed.push((tag, start));
            }
            ControlFlow::Continue(())
        })?;
        drop(r);
        if doomed.is_empty() {
            return Ok(0);
        }
        let mut w = self.store.write(&Actor::system("historian"))?;
        for k in &doomed {
            w.remove(&CHUNKS, k)?;
        }
        w.commit()?;
        Ok(doomed.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;
    use crate::tags::model::{Quality, Source, Value};

    fn engine() -> Arc<Engine> {
        let mut t = crate::tags::service::blank_tag("T1", DataType::Float, Source::Manual);
        t.id = 1;
        t.resolution = 0.01;
        t.retention_days = 10;
        Arc::new(Engine::new(vec![t]))
    }

    fn sample(ts: i64, v: f64) -> Sample {
        Sample {
            tag: 1,
            ts_ms: ts,
            value: Some(Value::Float(v)),
            quality: Quality::Good,
        }
    }

    #[test]
    fn flushed_history_survives_a_restart_and_queries_span_chunks() {
        let (dir, s) = temp_store();
        let store = Arc::new(s);
        let day0 = 1_767_225_600_000i64; // 2026-01-01
        {
            let h = Historian::open(store.clone(), engine()).unwrap();
            // 3 hours at 1 Hz in 60 flushes: several closed chunks plus an open one
            for f in 0..60 {
                let batch: Vec<Sample> = (0..180)
                    .map(|i| {
                        let ts = day0 + (f * 180 + i) * 1000;
                        sample(ts, 20.0 + ((ts / 1000) % 100) as f64 * 0.01)
                    })
                    .collect();
                h.accept(&batch);
                h.flush().unwrap();
            }
            let pts = h.raw(1, day0, day0 + 3 * 3_600_000).unwrap();
            assert_eq!(pts.len(), 10_800);
            assert!(pts.windows(2).all(|w| w[1].ts_ms - w[0].ts_ms == 1000));
        }
        drop(store);
        // reopen: open chunks come back from the stage blocks
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let h = Historian::open(store, engine()).unwrap();
        let pts = h.raw(1, day0, day0 + 3 * 3_600_000).unwrap();
        assert_eq!(pts.len(), 10_800, "nothing lost, nothing doubled");
        let b = h.aggregate(1, day0, day0 + 3 * 3_600_000, 3).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].count, 3600);
        assert!((b[0].min.unwrap() - 20.0).abs() < 1e-9);
        assert!((b[0].max.unwrap() - 20.99).abs() < 1e-9);
        let mid = h.raw(1, day0 + 5_000, day0 + 5_999).unwrap();
        assert_eq!(mid.len(), 1);
        assert!((mid[0].value.as_ref().unwrap().as_f64().unwrap() - 20.05).abs() < 1e-9);
    }

    #[test]
    fn retention_drops_whole_old_chunks() {
        let (_d, s) = temp_store();
        let h = Historian::open(Arc::new(s), engine()).unwrap();
        let old = 1_700_000_000_000i64;
        h.accept(
            &(0..5000)
                .map(|i| sample(old + i * 1000, 1.0))
                .collect::<Vec<_>>(),
        );
        h.flush().unwrap();
        let now = old + 30 * 86_400_000;
        h.accept(&[sample(now, 2.0)]);
        h.flush().unwrap();
        // 5,000 s of 1 Hz: five 15-minute chunks and the rest, closed when the clock moved on
        assert_eq!(h.apply_retention(now).unwrap(), 6);
        assert!(h.raw(1, old, old + 5000 * 1000).unwrap().is_empty());
        assert_eq!(h.raw(1, now, now).unwrap().len(), 1);
    }

    #[test]
    fn late_samples_are_kept_not_dropped() {
        let (_d, s) = temp_store();
        let h = Historian::open(Arc::new(s), engine()).unwrap();
        let t0 = 1_767_225_600_000i64;
        h.accept(&[sample(t0 + 10_000, 1.0), sample(t0 + 11_000, 2.0)]);
        h.flush().unwrap();
        // a gateway replays an older value after reconnecting
        h.accept(&[sample(t0 + 5_000, 0.5)]);
        h.flush().unwrap();
        let pts = h.raw(1, t0, t0 + 20_000).unwrap();
        let ts: Vec<i64> = pts.iter().map(|p| p.ts_ms - t0).collect();
        assert_eq!(ts, vec![5_000, 10_000, 11_000]);
        assert_eq!(h.stats.late.load(Ordering::Relaxed), 1);
    }
}
