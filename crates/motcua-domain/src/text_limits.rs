//! Length and character limits the registry enforces on free-text fields.
//!
//! The limits are this platform's choices (no legal maximum is known; UNCONFIRMED for the
//! national database), sized so that real Vietnamese names and addresses fit and storage
//! and display stay bounded. Lengths count Unicode scalar values (`char`s), not bytes.

/// Full name (họ, chữ đệm và tên).
pub const MAX_NAME_CHARS: usize = 100;
/// Address line (địa chỉ).
pub const MAX_ADDRESS_CHARS: usize = 300;
/// Place of birth, hometown and similar place descriptions.
pub const MAX_PLACE_CHARS: usize = 200;
/// E-mail address (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Telephone number as typed, including a leading `+`.
pub const MAX_PHONE_CHARS: usize = 15;
/// Religion (tôn giáo).
pub const MAX_RELIGION_CHARS: usize = 60;

/// Why a text field was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty or only whitespace.
    #[error("The value must not be empty.")]
    Empty,
    /// More characters than allowed.
    #[error("The value is {len} characters long; at most {max} are allowed.")]
    TooLong {
        /// Characters given.
        len: usize,
        /// Characters allowed.
        max: usize,
    },
    /// A control character (tab, newline, NUL …).
    #[error("The value must not contain control characters such as tabs or line breaks.")]
    ControlChar,
    /// A name character that is not a letter, space, apostrophe or hyphen.
    #[error(
        "A name may contain only letters, spaces, apostrophes and hyphens; '{ch}' is not allowed."
    )]
    InvalidNameChar {
        /// The offending character.
        ch: char,
    },
    /// Not a Vietnamese telephone number.
    #[error(
        "The phone number must start with 0 or +84 and have 9 to 11 digits in total, with no spaces."
    )]
    InvalidPhone,
    /// Not a plausible e-mail address.
    #[error("The e-mail address must look like name@example.vn, with one @ and no spaces.")]
    InvalidEmail,
}

impl TextError {
    /// Stable machine code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            TextError::Empty => "text.empty",
            TextError::TooLong { .. } => "text.too_long",
            TextError::ControlChar => "text.control_char",
            TextError::InvalidNameChar { .. } => "text.invalid_name_char",
            TextError::InvalidPhone => "text.invalid_phone",
            TextError::InvalidEmail => "text.invalid_email",
        }
    }
}

/// Checks a free-text field: no control characters and at most `max` characters.
/// Empty text is allowed here; use [`check_name`] where a value is required.
pub fn check_text(s: &str, max: usize) -> Result<(), TextError> {
    let mut len = 0;
    for c in s.chars() {
        if c.is_control() {
            return Err(TextError::ControlChar);
        }
        len += 1;
    }
    if len > max {
        return Err(TextError::TooLong { len, max });
    }
    Ok(())
}

/// Checks a person's full name: not blank, at most [`MAX_NAME_CHARS`], and only letters
/// (any script, so Vietnamese and ethnic-minority names such as "H'Hen Niê" pass),
/// combining marks (decomposed input), spaces, apostrophes and hyphens. Digits are
/// rejected.
pub fn check_name(s: &str) -> Result<(), TextError> {
    check_text(s, MAX_NAME_CHARS)?;
    if s.trim().is_empty() {
        return Err(TextError::Empty);
    }
    let allowed = |c: char| {
        is_letter(c)
            || c == ' '
            || matches!(c, '\'' | '’' | '-')
            || ('\u{0300}'..='\u{036F}').contains(&c)
    };
    match s.chars().find(|&c| !allowed(c)) {
        Some(ch) => Err(TextError::InvalidNameChar { ch }),
        None => Ok(()),
    }
}

/// `char::is_alphabetic`, answered without its table lookup for ASCII and for the Latin blocks
/// Vietnamese letters come from (Latin-1 letters, Latin Extended-A and -B, Latin Extended
/// Additional), where every code point is a letter except `×` and `÷`. Names are checked on
/// every imported row, and the table lookup was most of the check.
fn is_letter(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' => true,
        '\u{00D7}' | '\u{00F7}' => false,
        '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}' => true,
        _ => c.is_alphabetic(),
    }
}

/// Checks a Vietnamese telephone number as stored: `0` or `+84` followed by digits, 9–11
/// digits in total (counting the `84` of the prefix), e.g. `0912345678`, `+84912345678`,
/// `02438123456`. Spaces and separators are rejected; normalise before calling.
pub fn check_phone(s: &str) -> Result<(), TextError> {
    if s.chars().count() > MAX_PHONE_CHARS {
        return Err(TextError::InvalidPhone);
    }
    let (digits, national) = match s.strip_prefix('+') {
        Some(rest) => (
            rest,
            rest.strip_prefix("84").ok_or(TextError::InvalidPhone)?,
        ),
        None => (s, s.strip_prefix('0').ok_or(TextError::InvalidPhone)?),
    };
    let all_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if !all_digits || !(9..=11).contains(&digits.len()) || national.starts_with('0') {
        return Err(TextError::InvalidPhone);
    }
    Ok(())
}

/// Checks an e-mail address loosely: at most [`MAX_EMAIL_CHARS`], exactly one `@` with
/// text on both sides, a dot inside the domain (not at its ends), no spaces or control
/// characters. Deliverability is the mail system's job.
pub fn check_email(s: &str) -> Result<(), TextError> {
    if s.chars().count() > MAX_EMAIL_CHARS {
        return Err(TextError::TooLong {
            len: s.chars().count(),
            max: MAX_EMAIL_CHARS,
        });
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(TextError::InvalidEmail);
    }
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(TextError::InvalidEmail);
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || !domain_ok {
        return Err(TextError::InvalidEmail);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_letter_shortcut_agrees_with_is_alphabetic() {
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            assert_eq!(
                is_letter(c),
                c.is_alphabetic(),
                "{c:?} (U+{:04X})",
                c as u32
            );
        }
    }

    #[test]
    fn names() {
        for ok in [
            "Nguyễn Văn An",
            "H'Hen Niê",
            "Lê Thị Thu-Hà",
            "Nguye\u{0302}\u{0303}n",
            "A",
        ] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_name("   "), Err(TextError::Empty));
        assert_eq!(check_name(""), Err(TextError::Empty));
        assert_eq!(
            check_name("Nguyễn Văn 2"),
            Err(TextError::InvalidNameChar { ch: '2' })
        );
        assert_eq!(
            check_name("An."),
            Err(TextError::InvalidNameChar { ch: '.' })
        );
        assert_eq!(check_name("An\tBình"), Err(TextError::ControlChar));
        let long = "Ă".repeat(MAX_NAME_CHARS);
        assert_eq!(check_name(&long), Ok(()), "limit counts chars, not bytes");
        let too_long = "Ă".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(
            check_name(&too_long),
            Err(TextError::TooLong { len: 101, max: 100 })
        );
    }

    #[test]
    fn free_text() {
        assert_eq!(check_text("Số 1, phố Huế", MAX_ADDRESS_CHARS), Ok(()));
        assert_eq!(check_text("", MAX_ADDRESS_CHARS), Ok(()));
        assert_eq!(
            check_text("a\nb", MAX_ADDRESS_CHARS),
            Err(TextError::ControlChar)
        );
        assert_eq!(check_text("a\u{0}", 10), Err(TextError::ControlChar));
        assert_eq!(
            check_text("abcd", 3),
            Err(TextError::TooLong { len: 4, max: 3 })
        );
    }

    #[test]
    fn phones() {
        for ok in ["0912345678", "+84912345678", "02438123456", "091234567"] {
            assert_eq!(check_phone(ok), Ok(()), "{ok}");
        }
        for bad in [
            "912345678",
            "091 234 5678",
            "+840912345678",
            "+85912345678",
            "09123456",
            "091234567890",
            "0912-345-678",
            "",
            "+",
            "0",
            "+84",
            "０912345678",
        ] {
            assert_eq!(check_phone(bad), Err(TextError::InvalidPhone), "{bad}");
        }
    }

    #[test]
    fn emails() {
        for ok in ["an.nguyen@example.vn", "a@b.co", "x+tag@mail.gov.vn"] {
            assert_eq!(check_email(ok), Ok(()), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "@b.vn", "a@@b.vn", "a@b@c.vn", "a b@c.vn", "a@.vn", "a@b.", "a@b..vn",
        ] {
            assert_eq!(check_email(bad), Err(TextError::InvalidEmail), "{bad}");
        }
        let long = format!("{}@example.vn", "a".repeat(250));
        assert!(matches!(check_email(&long), Err(TextError::TooLong { .. })));
    }

    #[test]
    fn messages_are_sentences_and_codes_distinct() {
        let errors = [
            TextError::Empty,
            TextError::TooLong { len: 2, max: 1 },
            TextError::ControlChar,
            TextError::InvalidNameChar { ch: '2' },
            TextError::InvalidPhone,
            TextError::InvalidEmail,
        ];
        let codes: std::collections::HashSet<_> = errors.iter().map(TextError::code).collect();
        assert_eq!(codes.len(), errors.len());
        assert!(errors.iter().all(|e| e.to_string().ends_with('.')));
    }
}
