//! Text that is safe to open in a spreadsheet. A CSV cell whose text starts with `=`, `+`, `-`,
//! `@`, a tab or a carriage return is taken as a formula by Excel, LibreOffice and Google
//! Sheets (CSV injection): an address such as `=HYPERLINK("http://…","…")` would become a live
//! link in an officer's spreadsheet. Such a cell is written with a leading apostrophe, which
//! spreadsheets show as text. Telephone numbers (`+84…`) and plain numbers are left as they
//! are: a spreadsheet reads them as numbers, never as formulas.

use std::borrow::Cow;

/// `cell` as it may be written to a CSV export.
pub fn safe_cell(cell: &str) -> Cow<'_, str> {
    let starts_formula = cell
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if starts_formula && !is_plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A sign followed by digits only (a telephone number in international form, a negative
/// count): nothing a spreadsheet evaluates.
fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix(['+', '-']).unwrap_or("");
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::safe_cell;

    #[test]
    fn formulas_become_text() {
        for cell in [
            "=HYPERLINK(\"http://x.example\",\"bấm\")",
            "+1+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1:A2)",
            "\t=1",
            "\r=1",
            "=",
        ] {
            assert_eq!(safe_cell(cell), format!("'{cell}"), "{cell:?}");
        }
    }

    #[test]
    fn ordinary_text_and_numbers_are_unchanged() {
        for cell in [
            "+84912345678",
            "-15",
            "0912345678",
            "Số 1 phố Tràng Tiền, Hoàn Kiếm",
            "an@example.vn",
            "",
            "'=already text",
        ] {
            assert_eq!(safe_cell(cell), cell, "{cell:?}");
        }
    }
}
