//! The box's own test camera, for the demo plant and for trying video without a camera: a
//! small RTSP server on loopback (OPTIONS, DESCRIBE, SETUP with TCP interleaving, PLAY,
//! GET_PARAMETER, TEARDOWN) streaming H.264 it makes itself — colour bars with a block
//! moving across them and a picture counter, coded as I_PCM macroblocks, so no encoder is
//! needed: an IDR picture every 2 s and P pictures that carry only the macroblocks that
//! changed. Browsers decode it like any camera's H.264, and it goes through the same
//! ingest as a real camera.
//!
//! A camera whose address has the host [`HOST`] is pointed at this server by the ingest.
//! [`Source`] is also used by the video benchmark to send camera-sized frames.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

/// `rtsp://testcam.nplusx/…` is the box's own test camera.
pub const HOST: &str = "testcam.nplusx";

/// MSB-first bit writer for RBSP.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    cur: u8,
    n: u8,
}

impl Bits {
    fn u(&mut self, bits: u8, v: u32) {
        for i in (0..bits).rev() {
            self.cur = (self.cur << 1) | ((v >> i) & 1) as u8;
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.cur);
                self.cur = 0;
                self.n = 0;
            }
        }
    }
    fn ue(&mut self, v: u32) {
        let x = v + 1;
        let len = 32 - x.leading_zeros() as u8;
        self.u(len - 1, 0);
        self.u(len, x);
    }
    fn se(&mut self, v: i32) {
        self.ue(if v > 0 {
            (2 * v - 1) as u32
        } else {
            (-2 * v) as u32
        });
    }
    fn align_zero(&mut self) {
        while self.n != 0 {
            self.u(1, 0);
        }
    }
    fn bytes(&mut self, b: &[u8]) {
        debug_assert_eq!(self.n, 0);
        self.out.extend_from_slice(b);
    }
    /// rbsp_trailing_bits
    fn finish(mut self) -> Vec<u8> {
        self.u(1, 1);
        self.align_zero();
        self.out
    }
}

/// A NAL unit from its header fields and RBSP, with emulation prevention bytes.
fn nal(ref_idc: u8, kind: u8, rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + rbsp.len() / 64 + 1);
    out.push((ref_idc << 5) | kind);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// One access unit: its NAL units and whether it starts a GOP.
pub struct Unit {
    pub key: bool,
    pub nals: Vec<Vec<u8>>,
}

/// What a test camera sends.
pub trait Source: Send {
    fn sps(&self) -> Vec<u8>;
    fn pps(&self) -> Vec<u8>;
    fn fps(&self) -> u32;
    fn next(&mut self) -> Unit;
}

/// Baseline-profile SPS/PPS for a picture of `w`×`h` macroblocks.
fn parameter_sets(w: u32, h: u32) -> (Vec<u8>, Vec<u8>) {
    let mut s = Bits::default();
    s.u(8, 66); // profile_idc: baseline
    s.u(8, 0xC0); // constraint_set0/1
    s.u(8, if w * h > 1620 { 40 } else { 30 }); // level_idc
    s.ue(0); // seq_parameter_set_id
    s.ue(0); // log2_max_frame_num_minus4: frame_num has 4 bits
    s.ue(2); // pic_order_cnt_type: output order is decoding order
    s.ue(1); // max_num_ref_frames
    s.u(1, 0); // gaps_in_frame_num_value_allowed_flag
    s.ue(w - 1);
    s.ue(h - 1);
    s.u(1, 1); // frame_mbs_only_flag
    s.u(1, 1); // direct_8x8_inference_flag
    s.u(1, 0); // frame_cropping_flag
    s.u(1, 0); // vui_parameters_present_flag
    let sps = nal(3, 7, &s.finish());
    let mut p = Bits::default();
    p.ue(0); // pic_parameter_set_id
    p.ue(0); // seq_parameter_set_id
    p.u(1, 0); // entropy_coding_mode_flag: CAVLC
    p.u(1, 0); // bottom_field_pic_order_in_frame_present_flag
    p.ue(0); // num_slice_groups_minus1
    p.ue(0); // num_ref_idx_l0_default_active_minus1
    p.ue(0); // num_ref_idx_l1_default_active_minus1
    p.u(1, 0); // weighted_pred_flag
    p.u(2, 0); // weighted_bipred_idc
    p.se(0); // pic_init_qp_minus26
    p.se(0); // pic_init_qs_minus26
    p.se(0); // chroma_qp_index_offset
    p.u(1, 1); // deblocking_filter_control_present_flag
    p.u(1, 0); // constrained_intra_pred_flag
    p.u(1, 0); // redundant_pic_cnt_present_flag
    (sps, nal(3, 8, &p.finish()))
}

/// BT.601 limited-range colour bars: white, yellow, cyan, green, magenta, red, blue, black.
const BARS: [(u8, u8, u8); 8] = [
    (235, 128, 128),
    (210, 16, 146),
    (170, 166, 16),
    (145, 54, 34),
    (106, 202, 222),
    (81, 90, 240),
    (41, 240, 110),
    (16, 128, 128),
];
const BLOCK: (u8, u8, u8) = (235, 128, 128);

/// Colour bars with a 2×2-macroblock block moving one macroblock per picture, under a
/// binary picture counter.
pub struct Pattern {
    w: u32,
    h: u32,
    frame: u64,
    gop: u64,
    idr: u32,
}

impl Pattern {
    /// `w`×`h` pixels (multiples of 16).
    pub fn new(w: u32, h: u32) -> Pattern {
        Pattern {
            w: w / 16,
            h: h / 16,
            frame: 0,
            gop: 20,
            idr: 0,
        }
    }

    /// Left to right, a macroblock a picture, then from the left again: any two pictures
    /// less than a lap apart differ.
    fn block_at(&self, frame: u64) -> (u32, u32) {
        ((frame % u64::from(self.w - 1)) as u32, self.h / 2 - 1)
    }

    fn pixel(&self, frame: u64, x: u32, y: u32) -> (u8, u8, u8) {
        // the top row counts pictures in binary, a macroblock a bit: no two pictures alike
        if y < 16 {
            return if (frame >> (x / 16)) & 1 == 1 {
                BARS[0]
            } else {
                BARS[7]
            };
        }
        let (bx, by) = self.block_at(frame);
        if x / 16 >= bx && x / 16 < bx + 2 && y / 16 >= by && y / 16 < by + 2 {
            return if (x % 32 < 2) || (y % 32 < 2) {
                BARS[7]
            } else {
                BLOCK
            };
        }
        // a grey ramp under the bars, so the picture is not flat
        if y >= self.h * 16 * 3 / 4 {
            let v = 16 + (x * 219 / (self.w * 16)) as u8;
            return (v, 128, 128);
        }
        BARS[(x * 8 / (self.w * 16)) as usize]
    }

    /// A macroblock as I_PCM: mb_type, alignment, 256 luma then 64 Cb and 64 Cr samples.
    fn pcm(&self, b: &mut Bits, frame: u64, mx: u32, my: u32, mb_type: u32) {
        b.ue(mb_type);
        b.align_zero();
        let mut luma = [0u8; 256];
        for y in 0..16 {
            for x in 0..16 {
                luma[(y * 16 + x) as usize] = self.pixel(frame, mx * 16 + x, my * 16 + y).0;
            }
        }
        b.bytes(&luma);
        let mut cb = [0u8; 64];
        let mut cr = [0u8; 64];
        for y in 0..8 {
            for x in 0..8 {
                let (_, u, v) = self.pixel(frame, mx * 16 + x * 2, my * 16 + y * 2);
                cb[(y * 8 + x) as usize] = u;
                cr[(y * 8 + x) as usize] = v;
            }
        }
        b.bytes(&cb);
        b.bytes(&cr);
    }

    fn changed(&self, frame: u64) -> Vec<u32> {
        let mut mbs = Vec::new();
        for f in [frame - 1, frame] {
            let (bx, by) = self.block_at(f);
            for dy in 0..2 {
                for dx in 0..2 {
                    mbs.push((by + dy) * self.w + bx + dx);
                }
            }
        }
        let flipped = (frame - 1) ^ frame;
        mbs.extend((0..self.w).filter(|i| (flipped >> i) & 1 == 1));
        mbs.sort_unstable();
        mbs.dedup();
        mbs
    }
}

impl Source for Pattern {
    fn sps(&self) -> Vec<u8> {
        parameter_sets(self.w, self.h).0
    }
    fn pps(&self) -> Vec<u8> {
        parameter_sets(self.w, self.h).1
    }
    fn fps(&self) -> u32 {
        10
    }

    fn next(&mut self) -> Unit {
        let f = self.frame;
        self.frame += 1;
        let key = f.is_multiple_of(self.gop);
        let mut b = Bits::default();
        b.ue(0); // first_mb_in_slice
        if key {
            b.ue(7); // slice_type: I (all slices)
            b.ue(0); // pic_parameter_set_id
            b.u(4, 0); // frame_num
            b.ue(self.idr % 65_536); // idr_pic_id
            self.idr += 1;
            b.u(1, 0); // no_output_of_prior_pics_flag
            b.u(1, 0); // long_term_reference_flag
            b.se(0); // slice_qp_delta
            b.ue(1); // disable_deblocking_filter_idc
            for my in 0..self.h {
                for mx in 0..self.w {
                    self.pcm(&mut b, f, mx, my, 25);
                }
            }
            let (sps, pps) = parameter_sets(self.w, self.h);
            Unit {
                key,
                nals: vec![sps, pps, nal(3, 5, &b.finish())],
            }
        } else {
            b.ue(5); // slice_type: P (all slices)
            b.ue(0);
            b.u(4, (f % self.gop % 16) as u32); // frame_num: one per reference picture
            b.u(1, 0); // num_ref_idx_active_override_flag
            b.u(1, 0); // ref_pic_list_modification_flag_l0
            b.u(1, 0); // adaptive_ref_pic_marking_mode_flag
            b.se(0);
            b.ue(1);
            let total = self.w * self.h;
            let mut next = 0;
            for mb in self.changed(f) {
                b.ue(mb - next); // mb_skip_run
                self.pcm(&mut b, f, mb % self.w, mb / self.w, 30); // I_PCM in a P slice
                next = mb + 1;
            }
            if next < total {
                b.ue(total - next);
            }
            Unit {
                key,
                nals: vec![nal(2, 1, &b.finish())],
            }
        }
    }
}

/// Camera-sized access units of filler bytes (not decodable pictures): the video benchmark
/// measures repackaging and recording, which never look inside a slice.
pub struct Filler {
    w: u32,
    h: u32,
    fps: u32,
    gop: u64,
    frame: u64,
    key_bytes: usize,
    delta_bytes: usize,
}

impl Filler {
    /// `bps` bits per second at `fps`, an IDR every `gop` pictures ten times a P picture.
    pub fn new(w: u32, h: u32, fps: u32, gop: u64, bps: u64) -> Filler {
        let per_gop = bps / 8 * gop / u64::from(fps);
        let delta = per_gop / (gop + 9);
        Filler {
            w: w / 16,
            h: h.div_ceil(16),
            fps,
            gop,
            frame: 0,
            key_bytes: (delta * 10) as usize,
            delta_bytes: delta as usize,
        }
    }
}

impl Source for Filler {
    fn sps(&self) -> Vec<u8> {
        parameter_sets(self.w, self.h).0
    }
    fn pps(&self) -> Vec<u8> {
        parameter_sets(self.w, self.h).1
    }
    fn fps(&self) -> u32 {
        self.fps
    }
    fn next(&mut self) -> Unit {
        let key = self.frame.is_multiple_of(self.gop);
        self.frame += 1;
        let len = if key {
            self.key_bytes
        } else {
            self.delta_bytes
        };
        let mut body = vec![0x5a_u8; len];
        body[0] = 0x88; // first_mb 0, slice type… as an encoder would start
        let unit = nal(if key { 3 } else { 2 }, if key { 5 } else { 1 }, &body);
        Unit {
            key,
            nals: if key {
                vec![self.sps(), self.pps(), unit]
            } else {
                vec![unit]
            },
        }
    }
}

/// RTP packets (interleaved on channel 0) of one access unit: single NAL unit packets, FU-A
/// for the large ones; the marker on the last.
fn packetize(unit: &Unit, seq: &mut u16, ts: u32, out: &mut Vec<u8>) {
    const MTU: usize = 1400;
    let mut packets: Vec<Vec<u8>> = Vec::new();
    for n in &unit.nals {
        if n.len() <= MTU {
            packets.push(n.clone());
        } else {
            let (hdr, body) = (n[0], &n[1..]);
            let chunks: Vec<&[u8]> = body.chunks(MTU).collect();
            for (i, c) in chunks.iter().enumerate() {
                let mut p = Vec::with_capacity(c.len() + 2);
                p.push((hdr & 0xe0) | 28);
                let start = if i == 0 { 0x80 } else { 0 };
                let end = if i == chunks.len() - 1 { 0x40 } else { 0 };
                p.push(start | end | (hdr & 0x1f));
                p.extend_from_slice(c);
                packets.push(p);
            }
        }
    }
    let last = packets.len() - 1;
    for (i, p) in packets.iter().enumerate() {
        let len = (p.len() + 12) as u16;
        out.extend_from_slice(&[b'$', 0]);
        out.extend_from_slice(&len.to_be_bytes());
        out.push(0x80);
        out.push(if i == last { 0x80 | 96 } else { 96 });
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&ts.to_be_bytes());
        out.extend_from_slice(&0x6e70_6c78u32.to_be_bytes()); // SSRC "nplx"
        out.extend_from_slice(p);
        *seq = seq.wrapping_add(1);
    }
}

/// Serves `make()`'s stream to every client on `listener` (each client its own source).
pub async fn serve<S: Source + 'static>(
    listener: TcpListener,
    make: Arc<dyn Fn() -> S + Send + Sync>,
) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        let make = make.clone();
        tokio::spawn(async move {
            let _ = session(sock, make()).await;
        });
    }
}

async fn session<S: Source + 'static>(
    sock: tokio::net::TcpStream,
    source: S,
) -> std::io::Result<()> {
    let _ = sock.set_nodelay(true);
    let (mut rd, wr) = sock.into_split();
    let wr = Arc::new(Mutex::new(wr));
    let b64 = base64::engine::general_purpose::STANDARD;
    let sdp_params = format!("{},{}", b64.encode(source.sps()), b64.encode(source.pps()));
    let mut source = Some(source);
    let mut sender: Option<tokio::task::JoinHandle<()>> = None;
    let mut buf: Vec<u8> = Vec::new();
    let mut tmp = [0u8; 4096];
    let result = loop {
        // interleaved data from the client (RTCP receiver reports) is skipped
        while buf.first() == Some(&b'$') && buf.len() >= 4 {
            let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
            if buf.len() < 4 + len {
                break;
            }
            buf.drain(..4 + len);
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            buf.drain(..end + 4);
            let mut lines = head.lines();
            let first = lines.next().unwrap_or("");
            let mut parts = first.split_whitespace();
            let (method, url) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let header = |name: &str| {
                head.lines().skip(1).find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_string())
                })
            };
            let cseq = header("CSeq").unwrap_or_else(|| "0".into());
            if let Some(n) = header("Content-Length").and_then(|v| v.parse::<usize>().ok()) {
                while buf.len() < n {
                    let k = rd.read(&mut tmp).await?;
                    if k == 0 {
                        break;
                    }
                    buf.extend_from_slice(&tmp[..k]);
                }
                buf.drain(..n.min(buf.len()));
            }
            let base = url.trim_end_matches('/').to_string();
            let (extra, body) = match method {
                "OPTIONS" => (
                    "Public: OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, TEARDOWN\r\n".into(),
                    String::new(),
                ),
                "DESCRIBE" => {
                    let fps = source.as_ref().map_or(10, |s| s.fps());
                    let sdp = format!(
                        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=nplusx test camera\r\nt=0 0\r\na=control:*\r\n\
                         m=video 0 RTP/AVP 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 H264/90000\r\n\
                         a=fmtp:96 packetization-mode=1;profile-level-id=42C01E;sprop-parameter-sets={sdp_params}\r\n\
                         a=framerate:{fps}\r\na=control:track1\r\n"
                    );
                    (
                        format!("Content-Base: {base}/\r\nContent-Type: application/sdp\r\n"),
                        sdp,
                    )
                }
                "SETUP" => (
                    "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: 6e706c78;timeout=60\r\n"
                        .into(),
                    String::new(),
                ),
                "PLAY" => {
                    if let Some(src) = source.take() {
                        sender = Some(tokio::spawn(send(src, wr.clone())));
                    }
                    ("Session: 6e706c78\r\nRange: npt=0.000-\r\n".into(), String::new())
                }
                "GET_PARAMETER" | "SET_PARAMETER" => {
                    ("Session: 6e706c78\r\n".into(), String::new())
                }
                "TEARDOWN" => {
                    let mut w = wr.lock().await;
                    let _ = w
                        .write_all(format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n\r\n").as_bytes())
                        .await;
                    break Ok(());
                }
                _ => {
                    let mut w = wr.lock().await;
                    w.write_all(
                        format!("RTSP/1.0 501 Not Implemented\r\nCSeq: {cseq}\r\n\r\n").as_bytes(),
                    )
                    .await?;
                    continue;
                }
            };
            let msg = format!(
                "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nServer: nplusx-testcam\r\n{extra}Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            wr.lock().await.write_all(msg.as_bytes()).await?;
            continue;
        }
        let n = rd.read(&mut tmp).await?;
        if n == 0 {
            break Ok(());
        }
        buf.extend_from_slice(&tmp[..n]);
        if buf.len() > 64 * 1024 {
            break Ok(());
        }
    };
    if let Some(s) = sender {
        s.abort();
    }
    result
}

async fn send<S: Source>(mut src: S, wr: Arc<Mutex<tokio::net::tcp::OwnedWriteHalf>>) {
    let fps = src.fps().max(1);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / fps);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seq = 0u16;
    let mut ts = 0u32;
    let mut out = Vec::new();
    loop {
        tick.tick().await;
        let unit = src.next();
        out.clear();
        packetize(&unit, &mut seq, ts, &mut out);
        ts = ts.wrapping_add(90_000 / fps);
        if wr.lock().await.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Starts the test camera on a free loopback port of `rt`; returns the port.
pub fn start(rt: &tokio::runtime::Handle) -> std::io::Result<u16> {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    std_listener.set_nonblocking(true)?;
    let port = std_listener.local_addr()?.port();
    rt.spawn(async move {
        match TcpListener::from_std(std_listener) {
            Ok(l) => serve(l, Arc::new(|| Pattern::new(320, 240))).await,
            Err(e) => tracing::error!(error = %e, "test camera not started"),
        }
    });
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb_codes() {
        let mut b = Bits::default();
        for v in [0, 1, 2, 3, 7] {
            b.ue(v);
        }
        // 1 010 011 00100 0001000 + stop bit
        assert_eq!(b.finish(), vec![0b1010_0110, 0b0100_0001, 0b0001_0000]);
    }

    #[test]
    fn emulation_prevention_breaks_start_codes() {
        assert_eq!(
            nal(3, 5, &[0, 0, 1, 0, 0, 0]),
            vec![0x65, 0, 0, 3, 1, 0, 0, 3, 0]
        );
    }

    #[test]
    fn the_pattern_moves_and_p_pictures_carry_only_the_change() {
        let mut p = Pattern::new(320, 240);
        let idr = p.next();
        assert!(idr.key);
        assert_eq!(idr.nals.len(), 3);
        // every macroblock: 300 × (384 samples + a byte or so of header)
        assert!(idr.nals[2].len() > 300 * 384, "{}", idr.nals[2].len());
        let pic = p.next();
        assert!(!pic.key && pic.nals[0][0] & 0x1f == 1);
        // the block's old and new columns (6 macroblocks) and the counter's changed bit
        assert!(pic.nals[0].len() < 8 * 400, "{}", pic.nals[0].len());
        assert_ne!(p.block_at(1), p.block_at(2));
    }
}
