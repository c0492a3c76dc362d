//! Peers that receive what the appliance sends out: an HTTP endpoint standing in for the
//! DingTalk / WeCom robot APIs, and an SMTP server that accepts every mail.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// (path with query, body) of each request.
#[derive(Clone, Default)]
pub struct Requests(pub Arc<Mutex<Vec<(String, String)>>>);

impl Requests {
    pub fn all(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().clone()
    }
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// An HTTP server answering every POST with `answer` (JSON); returns its base URL.
pub fn http(answer: &'static str) -> (String, Requests) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let got = Requests::default();
    let g = got.clone();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut len = 0;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            g.0.lock()
                .unwrap()
                .push((path, String::from_utf8_lossy(&body).into_owned()));
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (base, got)
}

/// An SMTP server on loopback that accepts every message; returns its port and the raw
/// DATA of each mail.
pub fn smtp() -> (u16, Requests) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = Requests::default();
    let g = got.clone();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let g = g.clone();
            std::thread::spawn(move || {
                let mut w = c.try_clone().unwrap();
                let mut r = BufReader::new(c);
                let _ = w.write_all(b"220 sink ESMTP\r\n");
                let mut envelope = String::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if cmd.starts_with("MAIL") || cmd.starts_with("RCPT") {
                        envelope.push_str(&line);
                        b"250 OK\r\n"
                    } else if cmd.starts_with("DATA") {
                        let _ = w.write_all(b"354 end with .\r\n");
                        let mut data = envelope.clone();
                        loop {
                            let mut l = String::new();
                            if r.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                                break;
                            }
                            data.push_str(&l);
                        }
                        g.0.lock().unwrap().push((String::new(), data));
                        envelope.clear();
                        b"250 queued\r\n"
                    } else if cmd.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n");
                        return;
                    } else {
                        b"250 OK\r\n"
                    };
                    if w.write_all(reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, got)
}

/// A JPEG as small as cameras never send.
pub const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0xFF, 0xD9,
];

/// A camera's snapshot endpoint with Digest authentication (user `admin`, password
/// `password`): 401 with a challenge, then the JPEG for a Digest answer naming the user.
/// Returns the base URL and how many snapshots it served.
pub fn camera(password: &'static str) -> (String, Arc<Mutex<u32>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let served = Arc::new(Mutex::new(0u32));
    let n = served.clone();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut auth = None;
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
                if h.to_ascii_lowercase().starts_with("authorization:") {
                    auth = Some(h[14..].trim().to_string());
                }
            }
            // a digest answer for our user and nonce, computed with the right password
            let ok = auth.as_deref().is_some_and(|a| {
                a.starts_with("Digest ")
                    && a.contains("username=\"admin\"")
                    && a.contains("nonce=\"cafe01\"")
                    && a.contains(&format!("response=\"{}\"", expected_response(a, password)))
            });
            if ok {
                *n.lock().unwrap() += 1;
                let _ = write!(
                    c,
                    "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    JPEG.len()
                );
                let _ = c.write_all(JPEG);
            } else {
                let _ = write!(
                    c,
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"IP Camera\", qop=\"auth\", nonce=\"cafe01\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        }
    });
    (base, served)
}

/// RFC 2617 MD5 digest with qop=auth, from the fields of the client's answer.
fn expected_response(auth: &str, password: &str) -> String {
    let field = |k: &str| -> String {
        auth.split(&format!("{k}="))
            .nth(1)
            .map(|v| {
                v.trim_start_matches('"')
                    .split(['"', ','])
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let md5 = |s: String| {
        use md5::Digest;
        hex::encode(md5::Md5::digest(s.as_bytes()))
    };
    let ha1 = md5(format!("admin:IP Camera:{password}"));
    let ha2 = md5(format!("GET:{}", field("uri")));
    md5(format!(
        "{ha1}:cafe01:{}:{}:auth:{ha2}",
        field("nc"),
        field("cnonce")
    ))
}
