//! Printing a command's answer. A reader that stops early (`motcua jobs list | grep -q ID`) is
//! not an error of the command: once the pipe is closed there is nobody left to print for, so a
//! broken pipe ends the output quietly instead of panicking as `println!` does.

use std::fmt::Display;
use std::io::{ErrorKind, Write};

/// Writes `text` and a newline to standard output.
pub fn line(text: impl Display) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
