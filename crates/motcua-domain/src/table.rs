//! Tiny reader for the tab-separated reference tables under `data/`.
//!
//! The tables are compiled in with `include_str!`, so their text lives for `'static` and
//! the parsed rows can borrow names from it without copying.

/// Yields the data lines of a table: skips blank lines and `#` comments, splits on TAB.
pub(crate) fn rows(text: &'static str) -> impl Iterator<Item = (usize, Vec<&'static str>)> {
    text.lines().enumerate().filter_map(|(index, line)| {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            None
        } else {
            Some((index + 1, line.split('\t').collect()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_comments_and_blank_lines_and_keeps_empty_trailing_fields() {
        let parsed: Vec<_> = rows("# header\n\n01\tKinh\t\n02\tTày\tx\r\n").collect();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0], (3, vec!["01", "Kinh", ""]));
        assert_eq!(parsed[1], (4, vec!["02", "Tày", "x"]));
    }
}
