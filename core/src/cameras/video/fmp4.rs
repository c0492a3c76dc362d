//! ISO BMFF (MP4) written and read without a decoder: the camera's H.264/H.265 access units
//! are copied as they came (4-byte length-prefixed NAL units, parameter sets in the sample
//! entry), never transcoded.
//!
//! - [`init_segment`] and [`fragment`]: fragmented MP4 (`ftyp moov` then `moof mdat` pairs),
//!   what Media Source Extensions take for live view and what a recording segment file is.
//! - [`scan`]: reads a segment file back (its sample entry and fragments), stopping at the
//!   first incomplete box — how a file cut short by a power loss is recovered.
//! - [`Clip`]: a standard, seekable MP4 (`ftyp moov mdat`, `moov` first) made from fragments
//!   of one or more segment files, served by byte range without holding the video in memory.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

/// Time scale of every video track: the RTP clock of H.264/H.265.
pub const TIMESCALE: u32 = 90_000;

/// One access unit as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// In [`TIMESCALE`] units.
    pub duration: u32,
    pub size: u32,
    pub key: bool,
}

fn boxed(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(kind);
    body(out);
    let len = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

fn full(
    out: &mut Vec<u8>,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    boxed(out, kind, |o| {
        o.extend_from_slice(&((u32::from(version) << 24) | flags).to_be_bytes());
        body(o)
    })
}

fn u16be(o: &mut Vec<u8>, v: u16) {
    o.extend_from_slice(&v.to_be_bytes());
}
fn u32be(o: &mut Vec<u8>, v: u32) {
    o.extend_from_slice(&v.to_be_bytes());
}
fn u64be(o: &mut Vec<u8>, v: u64) {
    o.extend_from_slice(&v.to_be_bytes());
}

const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

fn ftyp(o: &mut Vec<u8>, major: &[u8; 4]) {
    boxed(o, b"ftyp", |o| {
        o.extend_from_slice(major);
        u32be(o, 512);
        for b in [b"isom", b"iso2", b"iso5", b"avc1", b"mp41"] {
            o.extend_from_slice(b);
        }
    });
}

fn mvhd(o: &mut Vec<u8>, duration: u64) {
    full(o, b"mvhd", 1, 0, |o| {
        u64be(o, 0); // creation
        u64be(o, 0); // modification
        u32be(o, TIMESCALE);
        u64be(o, duration);
        u32be(o, 0x0001_0000); // rate 1.0
        u16be(o, 0x0100); // volume 1.0
        o.extend_from_slice(&[0; 10]);
        MATRIX.iter().for_each(|m| u32be(o, *m));
        o.extend_from_slice(&[0; 24]); // pre_defined
        u32be(o, 2); // next track id
    });
}

/// `trak` of the one video track; `stbl` is the sample table (empty for fragmented files).
fn trak(o: &mut Vec<u8>, width: u32, height: u32, duration: u64, stbl: impl FnOnce(&mut Vec<u8>)) {
    boxed(o, b"trak", |o| {
        full(o, b"tkhd", 1, 3, |o| {
            u64be(o, 0);
            u64be(o, 0);
            u32be(o, 1); // track id
            u32be(o, 0);
            u64be(o, duration);
            o.extend_from_slice(&[0; 8]);
            u16be(o, 0); // layer
            u16be(o, 0); // alternate group
            u16be(o, 0); // volume (video)
            u16be(o, 0);
            MATRIX.iter().for_each(|m| u32be(o, *m));
            u32be(o, width << 16);
            u32be(o, height << 16);
        });
        boxed(o, b"mdia", |o| {
            full(o, b"mdhd", 1, 0, |o| {
                u64be(o, 0);
                u64be(o, 0);
                u32be(o, TIMESCALE);
                u64be(o, duration);
                u16be(o, 0x55c4); // language "und"
                u16be(o, 0);
            });
            full(o, b"hdlr", 0, 0, |o| {
                u32be(o, 0);
                o.extend_from_slice(b"vide");
                o.extend_from_slice(&[0; 12]);
                o.extend_from_slice(b"nplusx video\0");
            });
            boxed(o, b"minf", |o| {
                full(o, b"vmhd", 0, 1, |o| o.extend_from_slice(&[0; 8]));
                boxed(o, b"dinf", |o| {
                    full(o, b"dref", 0, 0, |o| {
                        u32be(o, 1);
                        full(o, b"url ", 0, 1, |_| {});
                    })
                });
                boxed(o, b"stbl", stbl);
            });
        });
    });
}

fn stsd(o: &mut Vec<u8>, sample_entry: &[u8]) {
    full(o, b"stsd", 0, 0, |o| {
        u32be(o, 1);
        o.extend_from_slice(sample_entry);
    });
}

/// `ftyp moov` of a fragmented file: what a live view and every segment file begin with.
/// `sample_entry` is the `avc1`/`hvc1` box (with its `avcC`/`hvcC`).
pub fn init_segment(sample_entry: &[u8], width: u32, height: u32) -> Vec<u8> {
    let mut o = Vec::with_capacity(256 + sample_entry.len());
    ftyp(&mut o, b"iso5");
    boxed(&mut o, b"moov", |o| {
        mvhd(o, 0);
        trak(o, width, height, 0, |o| {
            stsd(o, sample_entry);
            full(o, b"stts", 0, 0, |o| u32be(o, 0));
            full(o, b"stsc", 0, 0, |o| u32be(o, 0));
            full(o, b"stsz", 0, 0, |o| {
                u32be(o, 0);
                u32be(o, 0)
            });
            full(o, b"stco", 0, 0, |o| u32be(o, 0));
        });
        boxed(o, b"mvex", |o| {
            full(o, b"trex", 0, 0, |o| {
                u32be(o, 1); // track
                u32be(o, 1); // sample description index
                u32be(o, 0);
                u32be(o, 0);
                u32be(o, 0);
            })
        });
    });
    o
}

const FLAGS_KEY: u32 = 0x0200_0000; // sample_depends_on = 2 (does not depend on others)
const FLAGS_DELTA: u32 = 0x0101_0000; // depends on others, not a sync sample

/// `moof mdat` for samples that follow each other, starting at `base_time` (TIMESCALE units
/// since the stream's start). `data` holds the samples' bytes back to back.
pub fn fragment(seq: u32, base_time: u64, samples: &[Sample], data: &[u8]) -> Vec<u8> {
    debug_assert_eq!(
        samples.iter().map(|s| s.size as usize).sum::<usize>(),
        data.len()
    );
    let mut o = Vec::with_capacity(120 + samples.len() * 12 + data.len());
    let mut data_offset_at = 0;
    boxed(&mut o, b"moof", |o| {
        full(o, b"mfhd", 0, 0, |o| u32be(o, seq));
        boxed(o, b"traf", |o| {
            // default-base-is-moof: data offsets count from this moof
            full(o, b"tfhd", 0, 0x02_0000, |o| u32be(o, 1));
            full(o, b"tfdt", 1, 0, |o| u64be(o, base_time));
            // data offset, per-sample duration, size and flags
            full(o, b"trun", 0, 0x0001 | 0x0100 | 0x0200 | 0x0400, |o| {
                u32be(o, samples.len() as u32);
                data_offset_at = o.len();
                u32be(o, 0);
                for s in samples {
                    u32be(o, s.duration);
                    u32be(o, s.size);
                    u32be(o, if s.key { FLAGS_KEY } else { FLAGS_DELTA });
                }
            });
        });
    });
    let data_offset = (o.len() + 8) as u32;
    o[data_offset_at..data_offset_at + 4].copy_from_slice(&data_offset.to_be_bytes());
    boxed(&mut o, b"mdat", |o| o.extend_from_slice(data));
    o
}

// ------------------------------------------------------------------ reading back

/// A fragment found in a file: where its samples' bytes are and what they are.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    pub base_time: u64,
    /// File offset of the first sample's bytes.
    pub data_at: u64,
    pub samples: Vec<Sample>,
}

impl Fragment {
    pub fn duration(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.duration)).sum()
    }
}

/// What a segment file holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scanned {
    /// The `avc1`/`hvc1` box of the file's `stsd`.
    pub sample_entry: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub fragments: Vec<Fragment>,
    /// Length of the file up to the end of its last complete fragment.
    pub complete_len: u64,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Child boxes of `body`: (type, contents).
fn children(body: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(len), Some(kind)) = (be32(body, at), body.get(at + 4..at + 8)) {
        let len = len as usize;
        if len < 8 || at + len > body.len() {
            break;
        }
        out.push((kind.try_into().expect("4 bytes"), &body[at + 8..at + len]));
        at += len;
    }
    out
}

fn child<'a>(body: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(body)
        .into_iter()
        .find(|(k, _)| k == kind)
        .map(|(_, b)| b)
}

fn parse_moov(moov: &[u8], s: &mut Scanned) -> Option<()> {
    let trak = child(moov, b"trak")?;
    let tkhd = child(trak, b"tkhd")?;
    let (w_at, h_at) = if tkhd.first() == Some(&1) {
        (88, 92)
    } else {
        (76, 80)
    };
    s.width = be32(tkhd, w_at)? >> 16;
    s.height = be32(tkhd, h_at)? >> 16;
    let stsd = child(
        child(child(child(trak, b"mdia")?, b"minf")?, b"stbl")?,
        b"stsd",
    )?;
    let entry = stsd.get(8..)?;
    let len = be32(entry, 0)? as usize;
    s.sample_entry = entry.get(..len)?.to_vec();
    Some(())
}

fn parse_moof(moof: &[u8], moof_at: u64) -> Option<Fragment> {
    let traf = child(moof, b"traf")?;
    let tfdt = child(traf, b"tfdt")?;
    let base_time = if tfdt.first() == Some(&1) {
        be64(tfdt, 4)?
    } else {
        u64::from(be32(tfdt, 4)?)
    };
    let trun = child(traf, b"trun")?;
    let flags = be32(trun, 0)? & 0xff_ffff;
    // only what `fragment` writes
    if flags != 0x0701 {
        return None;
    }
    let n = be32(trun, 4)? as usize;
    let data_offset = be32(trun, 8)?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let at = 12 + i * 12;
        samples.push(Sample {
            duration: be32(trun, at)?,
            size: be32(trun, at + 4)?,
            key: be32(trun, at + 8)? == FLAGS_KEY,
        });
    }
    Some(Fragment {
        base_time,
        data_at: moof_at + u64::from(data_offset),
        samples,
    })
}

/// Reads a fragmented file written by this module. Stops at the first box cut short or
/// not understood; `complete_len` tells where the good part ends.
pub fn scan(file: &mut (impl Read + Seek)) -> std::io::Result<Scanned> {
    let end = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    let mut s = Scanned::default();
    let mut at = 0u64;
    let mut pending: Option<Fragment> = None;
    loop {
        let mut head = [0u8; 8];
        if at + 8 > end {
            break;
        }
        file.seek(SeekFrom::Start(at))?;
        file.read_exact(&mut head)?;
        let len = u64::from(u32::from_be_bytes(head[..4].try_into().expect("4")));
        let kind: [u8; 4] = head[4..].try_into().expect("4");
        if len < 8 || at + len > end {
            break;
        }
        match &kind {
            b"moov" | b"moof" => {
                if len > 16 << 20 {
                    break;
                }
                let mut body = vec![0u8; (len - 8) as usize];
                file.read_exact(&mut body)?;
                if &kind == b"moov" {
                    if parse_moov(&body, &mut s).is_none() {
                        break;
                    }
                } else {
                    match parse_moof(&body, at) {
                        Some(f) => pending = Some(f),
                        None => break,
                    }
                }
                if &kind == b"moov" {
                    s.complete_len = at + len;
                }
            }
            b"mdat" => {
                let Some(f) = pending.take() else { break };
                let size: u64 = f.samples.iter().map(|x| u64::from(x.size)).sum();
                if f.data_at != at + 8 || size != len - 8 {
                    break;
                }
                s.fragments.push(f);
                s.complete_len = at + len;
            }
            b"ftyp" => s.complete_len = at + len,
            _ => break,
        }
        at += len;
    }
    if s.sample_entry.is_empty() {
        s.complete_len = 0;
    }
    Ok(s)
}

// ------------------------------------------------------------------ standard MP4 clips

/// A run of sample bytes in a segment file, placed at `out_at` in the clip.
#[derive(Debug, Clone)]
struct Chunk {
    file: PathBuf,
    file_at: u64,
    len: u64,
    out_at: u64,
}

/// A standard MP4 (`ftyp moov mdat`, moov first so players start at once and seek by
/// range) over fragments of segment files. Only the header is in memory.
#[derive(Debug, Clone)]
pub struct Clip {
    head: Vec<u8>,
    chunks: Vec<Chunk>,
    pub len: u64,
    /// Length in TIMESCALE units.
    pub duration: u64,
}

/// Fragments of one file to put in a clip.
pub struct Part {
    pub file: PathBuf,
    pub fragments: Vec<Fragment>,
}

impl Clip {
    /// Builds the clip: the samples of `parts` in order, one chunk per fragment. The
    /// first sample should be a key frame (the caller cuts at one).
    pub fn new(sample_entry: &[u8], width: u32, height: u32, parts: &[Part]) -> Clip {
        let frags: Vec<(&PathBuf, &Fragment)> = parts
            .iter()
            .flat_map(|p| p.fragments.iter().map(move |f| (&p.file, f)))
            .filter(|(_, f)| !f.samples.is_empty())
            .collect();
        let samples: Vec<Sample> = frags
            .iter()
            .flat_map(|(_, f)| f.samples.iter().copied())
            .collect();
        let duration: u64 = samples.iter().map(|s| u64::from(s.duration)).sum();
        let data_len: u64 = samples.iter().map(|s| u64::from(s.size)).sum();
        let build = |offsets: &[u64], co64: bool| {
            let mut o = Vec::new();
            ftyp(&mut o, b"isom");
            boxed(&mut o, b"moov", |o| {
                mvhd(o, duration);
                trak(o, width, height, duration, |o| {
                    stsd(o, sample_entry);
                    full(o, b"stts", 0, 0, |o| {
                        let mut runs: Vec<(u32, u32)> = Vec::new();
                        for s in &samples {
                            match runs.last_mut() {
                                Some((n, d)) if *d == s.duration => *n += 1,
                                _ => runs.push((1, s.duration)),
                            }
                        }
                        u32be(o, runs.len() as u32);
                        for (n, d) in runs {
                            u32be(o, n);
                            u32be(o, d);
                        }
                    });
                    full(o, b"stss", 0, 0, |o| {
                        let keys: Vec<u32> = (1..)
                            .zip(&samples)
                            .filter(|(_, s)| s.key)
                            .map(|(i, _)| i)
                            .collect();
                        u32be(o, keys.len() as u32);
                        keys.iter().for_each(|k| u32be(o, *k));
                    });
                    full(o, b"stsc", 0, 0, |o| {
                        let mut runs: Vec<(u32, u32)> = Vec::new();
                        for (i, (_, f)) in (1..).zip(&frags) {
                            let n = f.samples.len() as u32;
                            if runs.last().is_none_or(|(_, m)| *m != n) {
                                runs.push((i, n));
                            }
                        }
                        u32be(o, runs.len() as u32);
                        for (first, n) in runs {
                            u32be(o, first);
                            u32be(o, n);
                            u32be(o, 1);
                        }
                    });
                    full(o, b"stsz", 0, 0, |o| {
                        u32be(o, 0);
                        u32be(o, samples.len() as u32);
                        samples.iter().for_each(|s| u32be(o, s.size));
                    });
                    if co64 {
                        full(o, b"co64", 0, 0, |o| {
                            u32be(o, offsets.len() as u32);
                            offsets.iter().for_each(|x| u64be(o, *x));
                        });
                    } else {
                        full(o, b"stco", 0, 0, |o| {
                            u32be(o, offsets.len() as u32);
                            offsets.iter().for_each(|x| u32be(o, *x as u32));
                        });
                    }
                });
            });
            o
        };
        // the header's size does not depend on the offsets' values, only on their width
        let co64 = data_len > u64::from(u32::MAX) - (1 << 24);
        let placeholder = vec![0u64; frags.len()];
        let mdat_header = if data_len + 8 > u64::from(u32::MAX) {
            16
        } else {
            8
        };
        let head_len = build(&placeholder, co64).len() as u64 + mdat_header;
        let mut chunks = Vec::with_capacity(frags.len());
        let mut at = head_len;
        for (file, f) in &frags {
            let len: u64 = f.samples.iter().map(|s| u64::from(s.size)).sum();
            chunks.push(Chunk {
                file: (*file).clone(),
                file_at: f.data_at,
                len,
                out_at: at,
            });
            at += len;
        }
        let offsets: Vec<u64> = chunks.iter().map(|c| c.out_at).collect();
        let mut head = build(&offsets, co64);
        if mdat_header == 16 {
            u32be(&mut head, 1);
            head.extend_from_slice(b"mdat");
            u64be(&mut head, data_len + 16);
        } else {
            u32be(&mut head, (data_len + 8) as u32);
            head.extend_from_slice(b"mdat");
        }
        debug_assert_eq!(head.len() as u64, head_len);
        Clip {
            len: head_len + data_len,
            head,
            chunks,
            duration,
        }
    }

    /// Bytes `from..to` of the clip, read from the segment files.
    pub fn read(&self, from: u64, to: u64) -> std::io::Result<Vec<u8>> {
        let to = to.min(self.len);
        let mut out = Vec::with_capacity(to.saturating_sub(from) as usize);
        if from < self.head.len() as u64 {
            let end = (to as usize).min(self.head.len());
            out.extend_from_slice(&self.head[from as usize..end]);
        }
        let first = self.chunks.partition_point(|c| c.out_at + c.len <= from);
        let mut open: Option<(&PathBuf, std::fs::File)> = None;
        for c in &self.chunks[first..] {
            if c.out_at >= to {
                break;
            }
            let a = from.max(c.out_at);
            let b = to.min(c.out_at + c.len);
            let f = match &mut open {
                Some((p, f)) if *p == &c.file => f,
                _ => &mut open.insert((&c.file, std::fs::File::open(&c.file)?)).1,
            };
            f.seek(SeekFrom::Start(c.file_at + (a - c.out_at)))?;
            let n = out.len();
            out.resize(n + (b - a) as usize, 0);
            f.read_exact(&mut out[n..])?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Vec<u8> {
        // an avc1 box is opaque here: any box round-trips
        let mut o = Vec::new();
        boxed(&mut o, b"avc1", |o| o.extend_from_slice(&[7; 90]));
        o
    }

    fn samples(n: usize) -> (Vec<Sample>, Vec<u8>) {
        let s: Vec<Sample> = (0..n)
            .map(|i| Sample {
                duration: 9000,
                size: 100 + i as u32,
                key: i == 0,
            })
            .collect();
        let data = s
            .iter()
            .enumerate()
            .flat_map(|(i, x)| vec![i as u8; x.size as usize])
            .collect();
        (s, data)
    }

    fn file(frags: usize) -> Vec<u8> {
        let mut f = init_segment(&entry(), 1920, 1080);
        for k in 0..frags {
            let (s, d) = samples(10);
            f.extend(fragment(k as u32 + 1, k as u64 * 90_000, &s, &d));
        }
        f
    }

    #[test]
    fn a_written_file_reads_back() {
        let bytes = file(3);
        let s = scan(&mut std::io::Cursor::new(&bytes)).unwrap();
        assert_eq!(s.sample_entry, entry());
        assert_eq!((s.width, s.height), (1920, 1080));
        assert_eq!(s.fragments.len(), 3);
        assert_eq!(s.complete_len, bytes.len() as u64);
        assert_eq!(s.fragments[2].base_time, 180_000);
        assert_eq!(s.fragments[1].samples[3].size, 103);
        assert!(s.fragments[1].samples[0].key && !s.fragments[1].samples[1].key);
        let f = &s.fragments[1];
        assert_eq!(
            bytes[f.data_at as usize + 100],
            1,
            "data offset points at sample 1"
        );
    }

    #[test]
    fn a_file_cut_short_keeps_its_complete_fragments() {
        let bytes = file(3);
        let whole = scan(&mut std::io::Cursor::new(&bytes)).unwrap();
        for cut in [bytes.len() - 1, bytes.len() - 500, bytes.len() - 1100] {
            let s = scan(&mut std::io::Cursor::new(&bytes[..cut])).unwrap();
            assert_eq!(s.fragments.len(), 2, "cut at {cut}");
            assert_eq!(s.fragments[..], whole.fragments[..2]);
        }
        let init = init_segment(&entry(), 1920, 1080).len();
        let s = scan(&mut std::io::Cursor::new(&bytes[..init - 1])).unwrap();
        assert_eq!(s.complete_len, 0, "no moov: nothing to keep");
        let s = scan(&mut std::io::Cursor::new(
            b"garbage that is not mp4".to_vec(),
        ))
        .unwrap();
        assert_eq!(s.complete_len, 0);
    }

    #[test]
    fn a_clip_is_a_standard_mp4_with_the_samples_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg.mp4");
        std::fs::write(&path, file(3)).unwrap();
        let s = scan(&mut std::fs::File::open(&path).unwrap()).unwrap();
        let clip = Clip::new(
            &s.sample_entry,
            s.width,
            s.height,
            &[Part {
                file: path.clone(),
                fragments: s.fragments[1..].to_vec(),
            }],
        );
        assert_eq!(clip.duration, 20 * 9000);
        let all = clip.read(0, clip.len).unwrap();
        assert_eq!(all.len() as u64, clip.len);
        let top: Vec<[u8; 4]> = children(&all).iter().map(|(k, _)| *k).collect();
        assert_eq!(top, [*b"ftyp", *b"moov", *b"mdat"]);
        let moov = child(&all, b"moov").unwrap();
        let stbl = child(
            child(
                child(child(moov, b"trak").unwrap(), b"mdia").unwrap(),
                b"minf",
            )
            .unwrap(),
            b"stbl",
        )
        .unwrap();
        let stco = child(stbl, b"stco").unwrap();
        assert_eq!(be32(stco, 4), Some(2), "one chunk per fragment");
        let first = be32(stco, 8).unwrap() as usize;
        assert_eq!(
            &all[first..first + 100],
            &[0u8; 100][..],
            "sample 0 of fragment 1"
        );
        assert_eq!(all[first + 100], 1);
        let stss = child(stbl, b"stss").unwrap();
        assert_eq!(
            (be32(stss, 4), be32(stss, 8), be32(stss, 12)),
            (Some(2), Some(1), Some(11))
        );
        // any range reads the same bytes as the whole
        for (a, b) in [
            (0, 10),
            (first as u64 - 3, first as u64 + 250),
            (clip.len - 7, clip.len),
        ] {
            assert_eq!(clip.read(a, b).unwrap(), all[a as usize..b as usize]);
        }
    }
}
