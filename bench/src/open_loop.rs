//! An open-loop load generator: requests are sent at a fixed rate whether or not earlier ones
//! have been answered, and each latency is counted from the moment its request was due, so a
//! stalled server is charged for every request it delayed (no coordinated omission, as in
//! wrk2). `wrk` measures a closed loop instead: its connections wait for answers, so its
//! latencies at saturation are mostly queueing behind the other connections.
//!
//! `open-loop URL --rate N --seconds S [--warmup S] [--connections C] --bodies FILE
//!  [--auth BASE64] [--timeline FILE]`: POSTs the JSON bodies of FILE (one per line, in turn) to URL over C
//! keep-alive HTTP/1.1 connections, each on its own thread with blocking sockets (thread
//! sleeps are precise to tens of microseconds; an async timer wheel rounds to a millisecond).
//! Request k is due at start + k / N and goes out on connection k mod C. Prints
//! `RESULT rate=… rps=… p50_ms=… p90_ms=… p99_ms=… p999_ms=… max_ms=… requests=… errors=…`
//! for the requests due after the warm-up. `--timeline` also writes, per 100 ms of the run,
//! the requests due in it and their worst latency (CSV), to place stalls in time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

struct Options {
    host: String,
    path: String,
    rate: f64,
    seconds: f64,
    warmup: f64,
    connections: usize,
    bodies: String,
    auth: Option<String>,
    timeline: Option<String>,
}

fn usage() -> String {
    "usage: open-loop http://HOST:PORT/PATH --rate N --seconds S [--warmup S] \
     [--connections C] --bodies FILE [--auth BASE64] [--timeline FILE]"
        .to_owned()
}

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or_else(usage)?;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs are supported, not {url:?}"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (rest[..i].to_owned(), rest[i..].to_owned()),
        None => (rest.to_owned(), "/".to_owned()),
    };
    let mut o = Options {
        host,
        path,
        rate: 0.0,
        seconds: 20.0,
        warmup: 3.0,
        connections: 64,
        bodies: String::new(),
        auth: None,
        timeline: None,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<f64>()
                .map_err(|_| format!("{flag}: {value:?} is not a number"))
        };
        match flag.as_str() {
            "--rate" => o.rate = number()?,
            "--seconds" => o.seconds = number()?,
            "--warmup" => o.warmup = number()?,
            "--connections" => {
                o.connections = value
                    .parse()
                    .map_err(|_| format!("--connections: {value:?} is not a count"))?
            }
            "--bodies" => o.bodies = value,
            "--auth" => o.auth = Some(value),
            "--timeline" => o.timeline = Some(value),
            _ => return Err(format!("unknown option {flag}\n{}", usage())),
        }
    }
    if o.rate <= 0.0 || o.seconds <= 0.0 || o.warmup < 0.0 || o.connections == 0 {
        return Err(format!(
            "--rate and --seconds must be positive, --warmup at least zero, --connections at least one\n{}",
            usage()
        ));
    }
    if o.bodies.is_empty() {
        return Err(format!("--bodies is required\n{}", usage()));
    }
    Ok(o)
}

/// Every request, ready to write.
fn requests(o: &Options) -> Result<Vec<Vec<u8>>, String> {
    let file = std::fs::File::open(&o.bodies).map_err(|e| format!("{}: {e}", o.bodies))?;
    let mut out = Vec::new();
    for line in BufReader::new(file).lines() {
        let body = line.map_err(|e| format!("{}: {e}", o.bodies))?;
        if body.trim().is_empty() {
            continue;
        }
        let auth = o
            .auth
            .as_deref()
            .map(|a| format!("Authorization: Basic {a}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n",
            o.path,
            o.host,
            body.len()
        );
        out.push([head.as_bytes(), body.as_bytes()].concat());
    }
    if out.is_empty() {
        return Err(format!("{}: no request bodies", o.bodies));
    }
    Ok(out)
}

/// Reads one response; `Ok(status)`.
fn read_response(conn: &mut BufReader<TcpStream>) -> std::io::Result<u16> {
    let mut line = String::new();
    if conn.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut length = 0usize;
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value
                .trim()
                .parse()
                .map_err(|_| std::io::Error::other("bad content-length"))?;
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body)?;
    Ok(status)
}

struct Tally {
    /// Microseconds from due to answered, for requests due after the warm-up.
    latencies: Vec<u32>,
    /// (milliseconds from the start to when it was due, latency in microseconds), same requests.
    timeline: Vec<(u32, u32)>,
    errors: u64,
    /// When the last answer arrived.
    last: Instant,
}

/// One connection's share: requests `first`, `first + step`, … until the end.
fn connection(o: &Options, reqs: &[Vec<u8>], start: Instant, first: usize, step: usize) -> Tally {
    let interval = 1.0 / o.rate;
    let total = ((o.warmup + o.seconds) * o.rate) as usize;
    let measured_from = (o.warmup * o.rate) as usize;
    let mut tally = Tally {
        latencies: Vec::with_capacity(total / step + 1),
        timeline: Vec::new(),
        errors: 0,
        last: start,
    };
    let mut conn: Option<BufReader<TcpStream>> = None;
    let mut k = first;
    while k < total {
        let due = start + Duration::from_secs_f64(k as f64 * interval);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let outcome = (|| -> std::io::Result<u16> {
            if conn.is_none() {
                let stream = TcpStream::connect(&o.host)?;
                stream.set_nodelay(true)?;
                conn = Some(BufReader::new(stream));
            }
            let c = conn.as_mut().ok_or(std::io::ErrorKind::NotConnected)?;
            c.get_mut().write_all(&reqs[k % reqs.len()])?;
            read_response(c)
        })();
        let now = Instant::now();
        tally.last = now;
        let took = now.saturating_duration_since(due);
        match outcome {
            Ok(200) => {
                if k >= measured_from {
                    let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
                    tally.latencies.push(micros);
                    if o.timeline.is_some() {
                        let due_ms = (k as f64 * interval * 1000.0) as u32;
                        tally.timeline.push((due_ms, micros));
                    }
                }
            }
            Ok(_) => tally.errors += 1,
            Err(_) => {
                tally.errors += 1;
                conn = None;
            }
        }
        k += step;
    }
    tally
}

/// Per 100 ms by when requests were due: how many, and the worst latency in milliseconds.
fn write_timeline(path: &str, points: impl Iterator<Item = (u32, u32)>) -> std::io::Result<()> {
    let mut buckets: std::collections::BTreeMap<u32, (u32, u32)> = Default::default();
    for (due_ms, micros) in points {
        let b = buckets.entry(due_ms / 100 * 100).or_default();
        b.0 += 1;
        b.1 = b.1.max(micros);
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "due_ms,requests,max_ms")?;
    for (at, (n, max)) in buckets {
        writeln!(out, "{at},{n},{:.3}", f64::from(max) / 1000.0)?;
    }
    out.flush()
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

fn main() -> std::process::ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let reqs = match requests(&o) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Connections start a little later than now so that every thread is waiting when the
    // first request is due.
    let start = Instant::now() + Duration::from_millis(200);
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..o.connections)
            .map(|c| {
                let (o, reqs) = (&o, &reqs);
                s.spawn(move || connection(o, reqs, start, c, o.connections))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or(Tally {
                    latencies: Vec::new(),
                    timeline: Vec::new(),
                    errors: 1,
                    last: start,
                })
            })
            .collect()
    });
    let errors: u64 = tallies.iter().map(|t| t.errors).sum();
    // Throughput over the measured span: from the first request due after the warm-up to the
    // last answer (longer than --seconds when the server fell behind).
    let measured_start = start + Duration::from_secs_f64(o.warmup);
    let span = tallies
        .iter()
        .map(|t| t.last)
        .max()
        .unwrap_or(measured_start)
        .saturating_duration_since(measured_start)
        .as_secs_f64()
        .max(f64::EPSILON);
    if let Some(path) = &o.timeline {
        let points = tallies.iter().flat_map(|t| t.timeline.iter().copied());
        if let Err(e) = write_timeline(path, points) {
            eprintln!("{path}: {e}");
        }
    }
    let mut all: Vec<u32> = tallies.into_iter().flat_map(|t| t.latencies).collect();
    all.sort_unstable();
    println!(
        "RESULT rate={:.0} rps={:.0} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3} requests={} errors={}",
        o.rate,
        all.len() as f64 / span,
        percentile(&all, 50.0),
        percentile(&all, 90.0),
        percentile(&all, 99.0),
        percentile(&all, 99.9),
        f64::from(all.last().copied().unwrap_or(0)) / 1000.0,
        all.len(),
        errors
    );
    if errors > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
