//! A progress bar on standard error, redrawn at most five times a second.

use std::io::Write;
use std::time::Instant;

use motcua_registry::csv_io::Progress;

pub struct Bar {
    label: &'static str,
    total_bytes: Option<u64>,
    started: Instant,
    last_draw: Option<Instant>,
}

impl Bar {
    pub fn new(label: &'static str, total_bytes: Option<u64>) -> Bar {
        Bar {
            label,
            total_bytes: total_bytes.filter(|t| *t > 0),
            started: Instant::now(),
            last_draw: None,
        }
    }

    fn draw(&mut self, rows: u64, bytes: u64, done: bool) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-6);
        let rate = rows as f64 / secs;
        let bar = match self.total_bytes {
            Some(total) => {
                let frac = if done {
                    1.0
                } else {
                    (bytes as f64 / total as f64).min(1.0)
                };
                let filled = (frac * 30.0) as usize;
                format!(
                    "[{}{}] {:>3}% ",
                    "#".repeat(filled),
                    " ".repeat(30 - filled),
                    (frac * 100.0) as u32
                )
            }
            None => String::new(),
        };
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r{} {bar}{rows} rows, {:.0} rows/s, {secs:.1} s",
            self.label, rate
        );
        if done {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }
}

impl Progress for Bar {
    fn update(&mut self, rows: u64, bytes: u64) {
        let now = Instant::now();
        if self
            .last_draw
            .is_some_and(|t| now.duration_since(t).as_millis() < 200)
        {
            return;
        }
        self.last_draw = Some(now);
        self.draw(rows, bytes, false);
    }

    fn finish(&mut self, rows: u64) {
        self.draw(rows, self.total_bytes.unwrap_or(0), true);
    }
}
