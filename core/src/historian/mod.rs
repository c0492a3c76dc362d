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
//! **Hourly rolls**: once an hour has passed (plus two minutes for stragglers), each
//! numeric tag's good samples of that hour are summed up ([`totals::Roll`]: count, min,
//! max, sum, first, last, a totaliser's increase, a rate's integral) and kept, 24 to a row
//! per tag and UTC day. Samples that arrive later for a rolled hour roll it again. History
//! older than the rolls (an upgraded box) is rolled backwards, a day a second, while
//! nothing newer is waiting. [`Historian::totals`] answers a year of daily figures from
//! the rolls and only reads raw samples for the hours not rolled.
//!
//! Retention drops whole chunks older than the tag's `retention_days`, and the rolls of
//! days past it. Owns the `historian.*` tables.

pub mod codec;
pub mod totals;

use std::collections::{BTreeMap, HashMap, HashSet};
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
/// A packed chunk takes at most this many bytes. redb gives a value larger than a page a
/// power-of-two run of 4 KiB pages: with its key, the leaf's header and the value's length
/// prefix, a packed chunk fills four pages (one allocation of order 2) almost whole, where a
/// 15-minute chunk (about 1.1 kB of a 1 Hz tag) shares a page that B-tree splits leave a
/// third empty.
pub const PACK_BYTES: usize = 4 * 4096 - 128;
/// Closed chunks are packed once the data's clock is this far past them.
const PACK_AFTER_MS: i64 = HOUR_MS;
/// Work per [`Historian::pack`] call: tags looked at, packed chunks written.
const PACK_TAGS: usize = 32;
const PACK_CHUNKS: usize = 64;
/// The most one sample adds to a chunk (64-bit escapes of timestamp and value, quality).
const MAX_SAMPLE_BYTES: usize = 20;
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
/// (tag, UTC day start) → the day's hourly rolls: a `u32` bitmap of the hours present,
/// then [`totals::Roll::BYTES`] per present hour.
const HOURS: Table<(u64, u64), Blob> = Table::new("historian.hours");
/// `"hours"` → the rolled span `(from, until)`: every hour in it is rolled.
const META: Table<String, (i64, i64)> = Table::new("historian.meta");

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// How long after its end an hour is rolled: samples may arrive a little late.
const ROLL_GRACE_MS: i64 = 120_000;

/// The hours rolled: `[from, until)`; empty until the first roll.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    from: i64,
    until: i64,
}

/// A day's hourly rolls, by hour of the (UTC) day.
type DayRolls = [Option<totals::Roll>; 24];

fn encode_day(hours: &DayRolls) -> Vec<u8> {
    let mut bits = 0u32;
    let mut out = vec![0u8; 4];
    for (i, r) in hours.iter().enumerate() {
        if let Some(r) = r {
            bits |= 1 << i;
            r.to_bytes(&mut out);
        }
    }
    out[..4].copy_from_slice(&bits.to_le_bytes());
    out
}

fn decode_day(b: &[u8]) -> DayRolls {
    let mut out = [None; 24];
    let Some(bits) = b
        .get(..4)
        .and_then(|x| x.try_into().ok())
        .map(u32::from_le_bytes)
    else {
        return out;
    };
    let mut at = 4;
    for (i, slot) in out.iter_mut().enumerate() {
        if bits & (1 << i) != 0 {
            *slot = b.get(at..).and_then(totals::Roll::from_bytes);
            at += totals::Roll::BYTES;
        }
    }
    out
}

/// The good numeric samples of raw points, as `(ts, value)`.
fn good(points: &[Point]) -> Vec<(i64, f64)> {
    points
        .iter()
        .filter(|p| p.quality.is_good())
        .filter_map(|p| Some((p.ts_ms, p.value.as_ref()?.as_f64()?)))
        .collect()
}

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
    /// Packed chunks written ([`Historian::pack`]).
    pub packed: AtomicU64,
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
    /// The hours rolled; `until` is also kept apart for `flush`, which marks hours that
    /// samples arrived for after they were rolled.
    span: Mutex<Span>,
    rolled_until: AtomicI64,
    dirty: Mutex<HashSet<(u32, i64)>>,
    /// The oldest chunk's start: how far back rolling goes (found on the first roll).
    oldest: Mutex<Option<i64>>,
    /// The next tag [`Historian::pack`] looks at.
    pack_next: Mutex<u64>,
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
            span: Mutex::new(Span::default()),
            rolled_until: AtomicI64::new(i64::MIN),
            dirty: Mutex::new(HashSet::new()),
            oldest: Mutex::new(None),
            pack_next: Mutex::new(0),
            stats: Stats::default(),
        };
        if let Some((from, until)) = h.store.read()?.get(&META, &"hours".to_string())? {
            *h.span.lock().expect("historian lock is never poisoned") = Span { from, until };
            h.rolled_until.store(until, Ordering::Relaxed);
        }
        h.recover()?;
        Ok(h)
    }

    /// The newest closed-chunk timestamp per tag.
    fn sealed_until(&self, r: &impl Reader) -> Result<HashMap<u32, i64>, StoreError> {
        let mut out = HashMap::new();
        let mut tag = 0u64;
        while let Some((t, _)) = first_chunk_from(r, tag)? {
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
        let rolled_until = self.rolled_until.load(Ordering::Relaxed);
        let mut reroll: Vec<(u32, i64)> = Vec::new();
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
                    if s.ts_ms < rolled_until {
                        reroll.push((tag, s.ts_ms.div_euclid(HOUR_MS) * HOUR_MS));
                    }
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
        if !reroll.is_empty() {
            self.dirty
                .lock()
                .expect("historian lock is never poisoned")
                .extend(reroll);
        }
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

    /// Rolls what is due (call after [`Historian::flush`]): the hours that ended at least
    /// two minutes before `now` (at most a day of them per call), the hours samples
    /// arrived for after they were rolled, and, when nothing newer waits, a day of older
    /// history not yet rolled. Returns the hours rolled.
    pub fn roll_hours(&self, now: i64) -> Result<usize, StoreError> {
        let target = (now - ROLL_GRACE_MS).div_euclid(HOUR_MS) * HOUR_MS;
        let mut span = *self.span.lock().expect("historian lock is never poisoned");
        if span.until == 0 {
            span = Span {
                from: target,
                until: target,
            };
        }
        let tags: Vec<u32> = self
            .engine
            .defs()
            .iter()
            .filter(|t| matches!(t.data_type, DataType::Int | DataType::Float))
            .filter(|t| t.retention_days > 0)
            .map(|t| t.id)
            .collect();
        let mut done = 0;
        while span.until < target && done < 24 {
            self.roll(tags.iter().map(|t| (*t, span.until)), false)?;
            span.until += HOUR_MS;
            done += 1;
            self.save_span(span)?;
        }
        let dirty: Vec<(u32, i64)> =
            std::mem::take(&mut *self.dirty.lock().expect("historian lock is never poisoned"))
                .into_iter()
                .filter(|(_, h)| *h >= span.from && *h < span.until)
                .collect();
        if !dirty.is_empty() {
            done += dirty.len();
            self.roll(dirty.into_iter(), true)?;
        }
        if done == 0 {
            // back to the oldest chunk, a day at a time
            let oldest = self.oldest_chunk()?;
            if let Some(oldest) = oldest.filter(|o| *o < span.from) {
                let from = (span.from - DAY_MS).max(oldest.div_euclid(HOUR_MS) * HOUR_MS);
                let hours: Vec<i64> = (0..(span.from - from) / HOUR_MS)
                    .map(|i| from + i * HOUR_MS)
                    .collect();
                self.roll(
                    tags.iter()
                        .flat_map(|t| hours.iter().map(move |h| (*t, *h))),
                    true,
                )?;
                span.from = from;
                self.save_span(span)?;
                done += hours.len();
            }
        }
        Ok(done)
    }

    fn save_span(&self, span: Span) -> Result<(), StoreError> {
        let mut w = self.store.write(&Actor::system("historian"))?;
        w.insert(&META, &"hours".to_string(), &(span.from, span.until))?;
        w.commit()?;
        *self.span.lock().expect("historian lock is never poisoned") = span;
        self.rolled_until.store(span.until, Ordering::Relaxed);
        Ok(())
    }

    fn oldest_chunk(&self) -> Result<Option<i64>, StoreError> {
        let mut oldest = self
            .oldest
            .lock()
            .expect("historian lock is never poisoned");
        if oldest.is_none() {
            let r = self.store.read()?;
            let mut min = i64::MAX;
            let mut tag = 0u64;
            while let Some((t, first)) = first_chunk_from(&r, tag)? {
                min = min.min(first as i64);
                tag = t + 1;
            }
            *oldest = Some(min);
        }
        Ok(*oldest)
    }

    /// Rolls each `(tag, hour)` from raw history into its day's row; `replace`: an hour
    /// that now has no sample loses its roll.
    fn roll(
        &self,
        hours: impl Iterator<Item = (u32, i64)>,
        replace: bool,
    ) -> Result<(), StoreError> {
        let wanted: std::collections::BTreeSet<(u32, i64)> = hours.collect();
        let mut rolls: BTreeMap<(u32, i64), Option<totals::Roll>> = BTreeMap::new();
        // one raw read per run of consecutive hours of a tag
        let mut it = wanted.iter().peekable();
        while let Some(&(tag, first)) = it.next() {
            let mut last = first;
            while let Some(&&(t, h)) = it.peek()
                && t == tag
                && h == last + HOUR_MS
            {
                last = h;
                it.next();
            }
            let points = good(&self.raw(tag, first, last + HOUR_MS - 1)?);
            let mut i = 0;
            let mut hour = first;
            while hour <= last {
                let j = i;
                while i < points.len() && points[i].0 < hour + HOUR_MS {
                    i += 1;
                }
                let r = totals::Roll::of(&points[j..i]);
                if r.is_some() || replace {
                    rolls.insert((tag, hour), r);
                }
                hour += HOUR_MS;
            }
        }
        if rolls.is_empty() {
            return Ok(());
        }
        let mut w = self.store.write(&Actor::system("historian"))?;
        let mut day: Option<((u64, u64), DayRolls)> = None;
        for ((tag, hour), r) in rolls {
            let key = (
                u64::from(tag),
                hour.div_euclid(DAY_MS).max(0) as u64 * DAY_MS as u64,
            );
            if day.as_ref().is_none_or(|(k, _)| *k != key) {
                if let Some((k, hours)) = day.take() {
                    w.insert(&HOURS, &k, &Blob(encode_day(&hours)))?;
                }
                let hours = w
                    .get(&HOURS, &key)?
                    .map(|Blob(b)| decode_day(&b))
                    .unwrap_or([None; 24]);
                day = Some((key, hours));
            }
            if let Some((_, hours)) = day.as_mut() {
                hours[(hour.rem_euclid(DAY_MS) / HOUR_MS) as usize] = r;
            }
        }
        if let Some((k, hours)) = day {
            w.insert(&HOURS, &k, &Blob(encode_day(&hours)))?;
        }
        w.commit()?;
        Ok(())
    }

    /// A numeric tag's figures per period between consecutive `bounds` (see
    /// [`totals::totals`]), the value before the first period looked for up to a day
    /// back. Periods on whole hours are answered from the hourly rolls where they exist.
    pub fn totals(
        &self,
        tag: u32,
        bounds: &[i64],
        now: i64,
    ) -> Result<Vec<totals::Total>, StoreError> {
        let (Some(&first), Some(&last)) = (bounds.first(), bounds.last()) else {
            return Ok(Vec::new());
        };
        let span = *self.span.lock().expect("historian lock is never poisoned");
        let aligned = bounds.iter().all(|b| b.rem_euclid(HOUR_MS) == 0);
        let look = first - DAY_MS;
        if !aligned || span.from >= span.until || last <= span.from || look >= span.until {
            let before = good(&self.raw(tag, look, first - 1)?).last().copied();
            let points = good(&self.raw(tag, first, last - 1)?);
            return Ok(totals::totals(before, &points, bounds, now));
        }
        // the rolls from a day before the first period (for the value before it)
        let (rf, ru) = (look.max(span.from), last.min(span.until));
        // the rolled hours of [rf, ru), by hour from rf
        let mut rolled: Vec<Option<totals::Roll>> =
            vec![None; ((ru - rf).max(0) / HOUR_MS) as usize];
        let r = self.store.read()?;
        r.visit(
            &HOURS,
            (
                u64::from(tag),
                rf.div_euclid(DAY_MS).max(0) as u64 * DAY_MS as u64,
            )..(u64::from(tag), ru.max(0) as u64),
            Order::Asc,
            |(_, day), Blob(b)| {
                for (i, roll) in decode_day(&b).into_iter().enumerate() {
                    let h = day as i64 + i as i64 * HOUR_MS;
                    if roll.is_some() && h >= rf && h < ru {
                        rolled[((h - rf) / HOUR_MS) as usize] = roll;
                    }
                }
                ControlFlow::Continue(())
            },
        )?;
        drop(r);
        // the newest sample of the day before: raw after the rolls, the rolls, raw before
        let mut before = None;
        if first > span.until {
            before = good(&self.raw(tag, look.max(span.until), first - 1)?)
                .last()
                .map(|x| x.1);
        }
        if before.is_none() {
            let upto = ((first.min(ru) - rf).max(0) / HOUR_MS) as usize;
            before = rolled[..upto].iter().rev().find_map(|r| r.map(|r| r.last));
        }
        if before.is_none() && look < span.from {
            before = good(&self.raw(tag, look, first.min(span.from) - 1)?)
                .last()
                .map(|x| x.1);
        }
        // the hours outside the rolled span come from raw samples
        let mut raw: Vec<(i64, f64)> = Vec::new();
        if first < span.from {
            raw.extend(good(&self.raw(tag, first, span.from.min(last) - 1)?));
        }
        if last > span.until {
            raw.extend(good(&self.raw(tag, span.until.max(first), last - 1)?));
        }
        let mut segments = Vec::with_capacity(((last - first) / HOUR_MS) as usize);
        let mut i = 0;
        let mut h = first;
        while h < last {
            let roll = if h >= span.from && h < span.until {
                rolled.get(((h - rf) / HOUR_MS) as usize).copied().flatten()
            } else {
                let j = i;
                while i < raw.len() && raw[i].0 < h + HOUR_MS {
                    i += 1;
                }
                totals::Roll::of(&raw[j..i])
            };
            segments.push((h, h + HOUR_MS, roll));
            h += HOUR_MS;
        }
        Ok(totals::combine(before, &segments, bounds, now))
    }

    /// Packs closed chunks an hour behind the data's clock into chunks of up to
    /// [`PACK_BYTES`] (call after [`Historian::flush`]): a few tags per call, round the tags,
    /// in one transaction. The samples are decoded and encoded again with the chunk's own
    /// resolution, so what a query returns does not change; only how it lies on disk. Each
    /// tag's progress is kept in `historian.meta` (`pack:<tag>`), so a restart neither
    /// re-reads what is packed nor loses its place. Late chunks (replayed samples that may
    /// overlap others) and text chunks are left as they are. Returns the chunks written.
    pub fn pack(&self) -> Result<usize, StoreError> {
        let clock = self.clock.load(Ordering::Relaxed);
        if clock == i64::MIN {
            return Ok(0);
        }
        let cutoff = clock - PACK_AFTER_MS;
        let mut next = self
            .pack_next
            .lock()
            .expect("historian lock is never poisoned");
        let mut w = self.store.write(&Actor::system("historian"))?;
        let (mut written, mut changed, mut wrapped) = (0, false, false);
        let mut examined = 0;
        while examined < PACK_TAGS && written < PACK_CHUNKS {
            let Some((tag, _)) = first_chunk_from(&w, *next)? else {
                if wrapped || *next == 0 {
                    break;
                }
                wrapped = true;
                *next = 0;
                continue;
            };
            examined += 1;
            *next = tag + 1;
            let n = pack_tag(&mut w, tag, cutoff, PACK_CHUNKS - written)?;
            changed |= n.is_some();
            written += n.unwrap_or(0);
        }
        drop(next);
        if changed {
            w.commit()?;
            self.stats
                .packed
                .fetch_add(written as u64, Ordering::Relaxed);
        } else {
            w.abort()?;
        }
        Ok(written)
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
        // tag by tag, only the chunks that start before the tag's cutoff: the history kept
        // is not read
        let mut next = 0u64;
        while let Some((tag, _)) = first_chunk_from(&r, next)? {
            let days = defs
                .get(tag as u32)
                .map(|t| t.retention_days as i64)
                .unwrap_or(ORPHAN_RETENTION_DAYS);
            let cutoff = now_ms - days * DAY_MS;
            r.visit(
                &CHUNKS,
                (tag, 0)..(tag, cutoff.max(0) as u64),
                Order::Asc,
                |key, Blob(b)| {
                    if codec::header(&b).is_none_or(|h| h.last_ts < cutoff) {
                        doomed.push(key);
                    }
                    ControlFlow::Continue(())
                },
            )?;
            next = tag + 1;
        }
        let mut days: Vec<(u64, u64)> = Vec::new();
        r.visit(&HOURS, .., Order::Asc, |(tag, day), _| {
            let keep = defs
                .get(tag as u32)
                .map(|t| t.retention_days as i64)
                .unwrap_or(ORPHAN_RETENTION_DAYS);
            if day as i64 + DAY_MS < now_ms - keep * DAY_MS {
                days.push((tag, day));
            }
            ControlFlow::Continue(())
        })?;
        drop(r);
        if doomed.is_empty() && days.is_empty() {
            return Ok(0);
        }
        let mut w = self.store.write(&Actor::system("historian"))?;
        for k in &doomed {
            w.remove(&CHUNKS, k)?;
        }
        for k in &days {
            w.remove(&HOURS, k)?;
        }
        w.commit()?;
        Ok(doomed.len() as u64)
    }
}

/// The key of the first chunk of the first tag at or after `tag` (the tags that have history
/// are found by skipping from one to the next, never by reading every chunk).
fn first_chunk_from(r: &impl Reader, tag: u64) -> Result<Option<(u64, u64)>, StoreError> {
    let mut found = None;
    r.visit(
        &CHUNKS,
        (tag, 0)..=(u64::from(u32::MAX), u64::MAX),
        Order::Asc,
        |key, _| {
            found = Some(key);
            ControlFlow::Break(())
        },
    )?;
    Ok(found)
}

/// Packs one tag's closed regular chunks from its `pack:<tag>` mark up to `cutoff` (see
/// [`Historian::pack`]). None when nothing changed, else the full chunks written (the last,
/// partial one, which later chunks join next time, is written but not counted).
fn pack_tag(
    w: &mut crate::store::WriteTx,
    tag: u64,
    cutoff: i64,
    max_chunks: usize,
) -> Result<Option<usize>, StoreError> {
    let mark_key = format!("pack:{tag}");
    let from = w.get(&META, &mark_key)?.map_or(0, |(t, _)| t.max(0)) as u64;
    if from as i64 >= cutoff {
        return Ok(None);
    }
    let mut run: Vec<((u64, u64), Vec<u8>)> = Vec::new();
    let (mut bytes, mut resolution) = (0usize, None);
    // where a run that cannot grow ends (the resolution changed there)
    let mut closed_at: Option<u64> = None;
    w.visit(
        &CHUNKS,
        (tag, from)..(tag, cutoff.max(0) as u64),
        Order::Asc,
        |key, Blob(b)| {
            let Some(h) = codec::header(&b).filter(|h| !h.late && !h.text) else {
                return ControlFlow::Continue(());
            };
            if h.last_ts >= cutoff {
                return ControlFlow::Break(());
            }
            if resolution.is_some_and(|r| r != h.resolution) {
                closed_at = Some(key.1);
                return ControlFlow::Break(());
            }
            resolution = Some(h.resolution);
            bytes += b.len();
            run.push((key, b));
            if bytes >= max_chunks * PACK_BYTES {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )?;
    let Some(resolution) = resolution else {
        return Ok(None);
    };
    if closed_at.is_none() && bytes < PACK_BYTES {
        // not a packed chunk's worth yet: wait for more
        return Ok(None);
    }
    // decoded only now that there is a packed chunk's worth (most calls stop above)
    let mut full: Vec<Vec<u8>> = Vec::new();
    let mut enc = Encoder::new(resolution, false);
    let mut last_ts = None;
    let mut sources = Vec::with_capacity(run.len());
    for (key, b) in &run {
        let Some(points) = codec::decode(b) else {
            continue; // unreadable: left where it is
        };
        sources.push(*key);
        for p in points {
            if enc.len() + MAX_SAMPLE_BYTES > PACK_BYTES {
                full.push(enc.bytes());
                enc = Encoder::new(resolution, false);
            }
            enc.push(p.ts_ms, p.value.as_ref(), p.quality);
            last_ts = Some(p.ts_ms);
        }
    }
    let rest = (!enc.is_empty()).then(|| enc.bytes());
    for k in &sources {
        w.remove(&CHUNKS, k)?;
    }
    let mut rest_key = None;
    for (i, b) in full.iter().chain(rest.iter()).enumerate() {
        let first = codec::header(b).map_or(0, |h| h.first_ts.max(0)) as u64;
        let mut key = (tag, first);
        while w.get(&CHUNKS, &key)?.is_some() {
            key.1 += 1;
        }
        w.insert(&CHUNKS, &key, &Blob(b.clone()))?;
        if i == full.len() {
            rest_key = Some(key.1);
        }
    }
    // next time: from the partial chunk (later chunks join it), or past the resolution change
    let mark = match closed_at {
        Some(at) => at,
        None => rest_key.unwrap_or_else(|| last_ts.map_or(from, |t| t.max(0) as u64 + 1)),
    };
    w.insert(&META, &mark_key, &(mark as i64, 0))?;
    Ok(Some(full.len()))
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
    fn packing_rewrites_closed_chunks_into_full_ones_and_queries_answer_the_same() {
        let (dir, s) = temp_store();
        let store = Arc::new(s);
        let day0 = 1_767_225_600_000i64;
        let end = day0 + 12 * HOUR_MS;
        // a noisy 1 Hz signal: about 2 bytes a sample, 15-minute chunks of about 1.8 kB
        let v = |ts: i64| 20.0 + ((ts / 1000 * 7919) % 1000) as f64 * 0.01;
        let h = Historian::open(store.clone(), engine()).unwrap();
        for f in 0..12 * 60 {
            let batch: Vec<Sample> = (0..60)
                .map(|i| {
                    let ts = day0 + (f * 60 + i) * 1000;
                    sample(ts, v(ts))
                })
                .collect();
            h.accept(&batch);
            h.flush().unwrap();
        }
        // a replayed sample from the first hour: a late chunk of its own, left alone
        h.accept(&[sample(day0 + 500, 99.0)]);
        h.flush().unwrap();
        let raw = h.raw(1, day0, end).unwrap();
        let buckets = h.aggregate(1, day0, end, 12).unwrap();
        let (chunks, ..) = h.usage().unwrap();
        let mut full = 0;
        loop {
            let n = h.pack().unwrap();
            if n == 0 {
                break;
            }
            full += n;
        }
        assert!(full >= 4, "{full} packed chunks");
        assert_eq!(h.raw(1, day0, end).unwrap(), raw, "the same samples");
        let again = h.aggregate(1, day0, end, 12).unwrap();
        for (a, b) in buckets.iter().zip(&again) {
            assert_eq!(
                (a.count, a.min, a.max, a.first, a.last),
                (b.count, b.min, b.max, b.first, b.last)
            );
            assert!((a.avg.unwrap() - b.avg.unwrap()).abs() < 1e-9);
        }
        let (packed, ..) = h.usage().unwrap();
        assert!(packed * 4 < chunks, "{chunks} chunks became {packed}");
        // every packed chunk fits four pages; all but the partial last one nearly fill them
        let r = store.read().unwrap();
        let mut sizes = Vec::new();
        let mut late = 0;
        r.visit(&CHUNKS, .., Order::Asc, |_, Blob(b)| {
            let hd = codec::header(&b).unwrap();
            if hd.late {
                late += 1;
            } else if hd.last_ts < end - HOUR_MS {
                sizes.push(b.len());
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        drop(r);
        assert_eq!(late, 1);
        assert!(sizes.iter().all(|n| *n <= PACK_BYTES), "{sizes:?}");
        assert!(
            sizes[..full]
                .iter()
                .all(|n| *n > PACK_BYTES - 2 * MAX_SAMPLE_BYTES),
            "{sizes:?}"
        );
        // a restart keeps its place: nothing is packed twice
        drop(h);
        let h = Historian::open(store.clone(), engine()).unwrap();
        h.accept(&[sample(end + 1000, 1.0)]);
        h.flush().unwrap();
        assert_eq!(h.pack().unwrap(), 0);
        assert_eq!(h.raw(1, day0, end).unwrap(), raw);
        drop(dir);
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
    fn hourly_rolls_answer_totals_as_the_raw_samples_do_and_follow_late_samples() {
        let (_d, s) = temp_store();
        let store = Arc::new(s);
        let h = Historian::open(store.clone(), engine()).unwrap();
        let t0 = 1_767_225_600_000i64; // a UTC midnight
        // a totaliser read every 37 s for three days, reset once
        let mut v = 500.0;
        let mut ts = t0 - 2 * HOUR_MS;
        while ts < t0 + 3 * DAY_MS {
            v = if (ts / 37_000) % 5_000 == 0 {
                1.0
            } else {
                v + 0.25
            };
            h.accept(&[sample(ts, v)]);
            ts += 37_000;
            if ts % (10 * 37_000) == 0 {
                h.flush().unwrap();
            }
        }
        h.flush().unwrap();
        let now = t0 + 3 * DAY_MS + 5 * 60_000;
        let expect = |h: &Historian, bounds: &[i64]| {
            let before = good(&h.raw(1, bounds[0] - DAY_MS, bounds[0] - 1).unwrap())
                .last()
                .copied();
            let pts = good(&h.raw(1, bounds[0], bounds[bounds.len() - 1] - 1).unwrap());
            totals::totals(before, &pts, bounds, now)
        };
        let same = |a: &[totals::Total], b: &[totals::Total]| {
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                assert_eq!((x.count, x.first, x.last), (y.count, y.first, y.last));
                assert!(
                    (x.delta - y.delta).abs() < 1e-6,
                    "{} vs {}",
                    x.delta,
                    y.delta
                );
                assert!((x.integral - y.integral).abs() < 1e-6);
                assert!((x.mean - y.mean).abs() < 1e-9);
            }
        };
        let days: Vec<i64> = (0..=3).map(|d| t0 + d * DAY_MS).collect();
        let hours: Vec<i64> = (0..=30).map(|i| t0 + 20 * HOUR_MS + i * HOUR_MS).collect();
        // the first roll starts at the last whole hour; older history rolls backwards, a
        // day a call, to the oldest sample's hour
        assert_eq!(h.roll_hours(now).unwrap(), 24);
        let mut calls = 0;
        while h.roll_hours(now).unwrap() > 0 {
            calls += 1;
        }
        assert_eq!(calls, 3, "two more days, then the two hours before");
        let span = *h.span.lock().unwrap();
        assert_eq!((span.from, span.until), (t0 - 2 * HOUR_MS, t0 + 3 * DAY_MS));
        same(&h.totals(1, &days, now).unwrap(), &expect(&h, &days));
        same(&h.totals(1, &hours, now).unwrap(), &expect(&h, &hours));
        // a late sample for a rolled hour rolls it again
        h.accept(&[sample(t0 + 30 * HOUR_MS + 1, 9_999.0)]);
        h.flush().unwrap();
        assert_eq!(h.roll_hours(now).unwrap(), 1);
        let t = h.totals(1, &days, now).unwrap();
        assert_eq!(t[1].max, 9_999.0);
        same(&t, &expect(&h, &days));
        // the span survives a restart
        drop(h);
        let h = Historian::open(store, engine()).unwrap();
        assert_eq!(h.roll_hours(now).unwrap(), 0);
        same(&h.totals(1, &days, now).unwrap(), &expect(&h, &days));
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
