//! Diacritic-insensitive folding of Vietnamese text, the key for name search.
//!
//! Citizens type names with or without tone marks, in precomposed (NFC) or decomposed (NFD)
//! form, and in any case; the registry must find "Nguyễn Văn An" from "nguyen van an".
//! [`fold`] maps all of these to one ASCII-ish key in a single pass without regexes or
//! Unicode tables beyond a `match`, because it runs on millions of names.

/// Folds `s` for diacritic-insensitive comparison and search.
///
/// * lowercases (full Unicode lowercase for characters outside the tables below);
/// * strips the tone and shape marks from every precomposed Vietnamese vowel (a ă â e ê i
///   o ô ơ u ư y with grave, acute, hook, tilde and dot below, both cases) and, for foreign
///   names, from other precomposed Latin letters whose canonical decomposition is an ASCII
///   letter plus combining marks (é, ü, ñ, ç …);
/// * maps đ/Đ (and the look-alike Ð/ð) to `d`;
/// * drops combining marks U+0300–U+036F, so decomposed (NFD) input folds the same way;
/// * collapses each run of whitespace to one ASCII space and trims both ends.
///
/// ```
/// assert_eq!(motcua_domain::fold("  ĐẶNG   THỊ Hồng "), "dang thi hong");
/// ```
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_ascii() {
            if c.is_ascii_whitespace() {
                pending_space = !out.is_empty();
                continue;
            }
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c.to_ascii_lowercase());
            continue;
        }
        if is_combining_mark(c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        match base_letter(c) {
            Some(base) => out.push(base),
            None => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Combining Diacritical Marks block, the marks NFD text carries after a base letter.
fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// Lowercase ASCII base of a precomposed Latin letter with diacritics, or `None`.
///
/// Generated from the Unicode canonical decompositions of U+00C0–U+024F and
/// U+1E00–U+1EFF (every character decomposing to an ASCII letter followed only by
/// combining marks), plus đ/Đ/Ð/ð which have no decomposition.
#[rustfmt::skip]
fn base_letter(c: char) -> Option<char> {
    Some(match c {
        'đ' | 'Đ' | 'Ð' | 'ð' => 'd',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'Ā' | 'ā' | 'Ă' | 'ă' | 'Ą' | 'ą' | 'Ǎ' | 'ǎ' | 'Ǟ' | 'ǟ' | 'Ǡ' | 'ǡ' | 'Ǻ' | 'ǻ' | 'Ȁ' | 'ȁ' | 'Ȃ' | 'ȃ' | 'Ȧ' | 'ȧ' | 'Ḁ' | 'ḁ' | 'Ạ' | 'ạ' | 'Ả' | 'ả' | 'Ấ' | 'ấ' | 'Ầ' | 'ầ' | 'Ẩ' | 'ẩ' | 'Ẫ' | 'ẫ' | 'Ậ' | 'ậ' | 'Ắ' | 'ắ' | 'Ằ' | 'ằ' | 'Ẳ' | 'ẳ' | 'Ẵ' | 'ẵ' | 'Ặ' | 'ặ' => 'a',
        'Ḃ' | 'ḃ' | 'Ḅ' | 'ḅ' | 'Ḇ' | 'ḇ' => 'b',
        'Ç' | 'ç' | 'Ć' | 'ć' | 'Ĉ' | 'ĉ' | 'Ċ' | 'ċ' | 'Č' | 'č' | 'Ḉ' | 'ḉ' => 'c',
        'Ď' | 'ď' | 'Ḋ' | 'ḋ' | 'Ḍ' | 'ḍ' | 'Ḏ' | 'ḏ' | 'Ḑ' | 'ḑ' | 'Ḓ' | 'ḓ' => 'd',
        'È' | 'É' | 'Ê' | 'Ë' | 'è' | 'é' | 'ê' | 'ë' | 'Ē' | 'ē' | 'Ĕ' | 'ĕ' | 'Ė' | 'ė' | 'Ę' | 'ę' | 'Ě' | 'ě' | 'Ȅ' | 'ȅ' | 'Ȇ' | 'ȇ' | 'Ȩ' | 'ȩ' | 'Ḕ' | 'ḕ' | 'Ḗ' | 'ḗ' | 'Ḙ' | 'ḙ' | 'Ḛ' | 'ḛ' | 'Ḝ' | 'ḝ' | 'Ẹ' | 'ẹ' | 'Ẻ' | 'ẻ' | 'Ẽ' | 'ẽ' | 'Ế' | 'ế' | 'Ề' | 'ề' | 'Ể' | 'ể' | 'Ễ' | 'ễ' | 'Ệ' | 'ệ' => 'e',
        'Ḟ' | 'ḟ' => 'f',
        'Ĝ' | 'ĝ' | 'Ğ' | 'ğ' | 'Ġ' | 'ġ' | 'Ģ' | 'ģ' | 'Ǧ' | 'ǧ' | 'Ǵ' | 'ǵ' | 'Ḡ' | 'ḡ' => 'g',
        'Ĥ' | 'ĥ' | 'Ȟ' | 'ȟ' | 'Ḣ' | 'ḣ' | 'Ḥ' | 'ḥ' | 'Ḧ' | 'ḧ' | 'Ḩ' | 'ḩ' | 'Ḫ' | 'ḫ' | 'ẖ' => 'h',
        'Ì' | 'Í' | 'Î' | 'Ï' | 'ì' | 'í' | 'î' | 'ï' | 'Ĩ' | 'ĩ' | 'Ī' | 'ī' | 'Ĭ' | 'ĭ' | 'Į' | 'į' | 'İ' | 'Ǐ' | 'ǐ' | 'Ȉ' | 'ȉ' | 'Ȋ' | 'ȋ' | 'Ḭ' | 'ḭ' | 'Ḯ' | 'ḯ' | 'Ỉ' | 'ỉ' | 'Ị' | 'ị' => 'i',
        'Ĵ' | 'ĵ' | 'ǰ' => 'j',
        'Ķ' | 'ķ' | 'Ǩ' | 'ǩ' | 'Ḱ' | 'ḱ' | 'Ḳ' | 'ḳ' | 'Ḵ' | 'ḵ' => 'k',
        'Ĺ' | 'ĺ' | 'Ļ' | 'ļ' | 'Ľ' | 'ľ' | 'Ḷ' | 'ḷ' | 'Ḹ' | 'ḹ' | 'Ḻ' | 'ḻ' | 'Ḽ' | 'ḽ' => 'l',
        'Ḿ' | 'ḿ' | 'Ṁ' | 'ṁ' | 'Ṃ' | 'ṃ' => 'm',
        'Ñ' | 'ñ' | 'Ń' | 'ń' | 'Ņ' | 'ņ' | 'Ň' | 'ň' | 'Ǹ' | 'ǹ' | 'Ṅ' | 'ṅ' | 'Ṇ' | 'ṇ' | 'Ṉ' | 'ṉ' | 'Ṋ' | 'ṋ' => 'n',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ō' | 'ō' | 'Ŏ' | 'ŏ' | 'Ő' | 'ő' | 'Ơ' | 'ơ' | 'Ǒ' | 'ǒ' | 'Ǫ' | 'ǫ' | 'Ǭ' | 'ǭ' | 'Ȍ' | 'ȍ' | 'Ȏ' | 'ȏ' | 'Ȫ' | 'ȫ' | 'Ȭ' | 'ȭ' | 'Ȯ' | 'ȯ' | 'Ȱ' | 'ȱ' | 'Ṍ' | 'ṍ' | 'Ṏ' | 'ṏ' | 'Ṑ' | 'ṑ' | 'Ṓ' | 'ṓ' | 'Ọ' | 'ọ' | 'Ỏ' | 'ỏ' | 'Ố' | 'ố' | 'Ồ' | 'ồ' | 'Ổ' | 'ổ' | 'Ỗ' | 'ỗ' | 'Ộ' | 'ộ' | 'Ớ' | 'ớ' | 'Ờ' | 'ờ' | 'Ở' | 'ở' | 'Ỡ' | 'ỡ' | 'Ợ' | 'ợ' => 'o',
        'Ṕ' | 'ṕ' | 'Ṗ' | 'ṗ' => 'p',
        'Ŕ' | 'ŕ' | 'Ŗ' | 'ŗ' | 'Ř' | 'ř' | 'Ȑ' | 'ȑ' | 'Ȓ' | 'ȓ' | 'Ṙ' | 'ṙ' | 'Ṛ' | 'ṛ' | 'Ṝ' | 'ṝ' | 'Ṟ' | 'ṟ' => 'r',
        'Ś' | 'ś' | 'Ŝ' | 'ŝ' | 'Ş' | 'ş' | 'Š' | 'š' | 'Ș' | 'ș' | 'Ṡ' | 'ṡ' | 'Ṣ' | 'ṣ' | 'Ṥ' | 'ṥ' | 'Ṧ' | 'ṧ' | 'Ṩ' | 'ṩ' => 's',
        'Ţ' | 'ţ' | 'Ť' | 'ť' | 'Ț' | 'ț' | 'Ṫ' | 'ṫ' | 'Ṭ' | 'ṭ' | 'Ṯ' | 'ṯ' | 'Ṱ' | 'ṱ' | 'ẗ' => 't',
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'ù' | 'ú' | 'û' | 'ü' | 'Ũ' | 'ũ' | 'Ū' | 'ū' | 'Ŭ' | 'ŭ' | 'Ů' | 'ů' | 'Ű' | 'ű' | 'Ų' | 'ų' | 'Ư' | 'ư' | 'Ǔ' | 'ǔ' | 'Ǖ' | 'ǖ' | 'Ǘ' | 'ǘ' | 'Ǚ' | 'ǚ' | 'Ǜ' | 'ǜ' | 'Ȕ' | 'ȕ' | 'Ȗ' | 'ȗ' | 'Ṳ' | 'ṳ' | 'Ṵ' | 'ṵ' | 'Ṷ' | 'ṷ' | 'Ṹ' | 'ṹ' | 'Ṻ' | 'ṻ' | 'Ụ' | 'ụ' | 'Ủ' | 'ủ' | 'Ứ' | 'ứ' | 'Ừ' | 'ừ' | 'Ử' | 'ử' | 'Ữ' | 'ữ' | 'Ự' | 'ự' => 'u',
        'Ṽ' | 'ṽ' | 'Ṿ' | 'ṿ' => 'v',
        'Ŵ' | 'ŵ' | 'Ẁ' | 'ẁ' | 'Ẃ' | 'ẃ' | 'Ẅ' | 'ẅ' | 'Ẇ' | 'ẇ' | 'Ẉ' | 'ẉ' | 'ẘ' => 'w',
        'Ẋ' | 'ẋ' | 'Ẍ' | 'ẍ' => 'x',
        'Ý' | 'ý' | 'ÿ' | 'Ŷ' | 'ŷ' | 'Ÿ' | 'Ȳ' | 'ȳ' | 'Ẏ' | 'ẏ' | 'ẙ' | 'Ỳ' | 'ỳ' | 'Ỵ' | 'ỵ' | 'Ỷ' | 'ỷ' | 'Ỹ' | 'ỹ' => 'y',
        'Ź' | 'ź' | 'Ż' | 'ż' | 'Ž' | 'ž' | 'Ẑ' | 'ẑ' | 'Ẓ' | 'ẓ' | 'Ẕ' | 'ẕ' => 'z',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every precomposed Vietnamese vowel, lowercase, grouped by base letter.
    const VIETNAMESE_VOWELS: [(char, &str); 6] = [
        ('a', "aàáảãạăằắẳẵặâầấẩẫậ"),
        ('e', "eèéẻẽẹêềếểễệ"),
        ('i', "iìíỉĩị"),
        ('o', "oòóỏõọôồốổỗộơờớởỡợ"),
        ('u', "uùúủũụưừứửữự"),
        ('y', "yỳýỷỹỵ"),
    ];

    #[test]
    fn examples_from_the_brief() {
        assert_eq!(fold("Nguyễn Văn An"), "nguyen van an");
        assert_eq!(fold("ĐẶNG THỊ Hồng"), "dang thi hong");
    }

    #[test]
    fn every_vietnamese_vowel_in_both_cases_folds_to_its_base() {
        for (base, letters) in VIETNAMESE_VOWELS {
            assert_eq!(
                letters.chars().count() % 6,
                0,
                "table for {base} is incomplete"
            );
            for c in letters.chars() {
                assert_eq!(fold(&c.to_string()), base.to_string(), "lower {c}");
                let upper: String = c.to_uppercase().collect();
                assert_eq!(upper.chars().count(), 1);
                assert_eq!(fold(&upper), base.to_string(), "upper {upper}");
            }
        }
        assert_eq!(fold("đĐ"), "dd");
    }

    #[test]
    fn decomposed_input_folds_like_precomposed() {
        // "Nguyễn" as N g u y e + U+0302 (circumflex) + U+0303 (tilde) n; "Thị" with U+0323.
        let nfd = "Nguye\u{0302}\u{0303}n Thi\u{0323}";
        assert_eq!(fold(nfd), "nguyen thi");
        assert_eq!(fold(nfd), fold("Nguyễn Thị"));
    }

    #[test]
    fn whitespace_is_collapsed_and_trimmed_including_unicode_spaces() {
        assert_eq!(fold("\t Lê \u{00A0}\u{3000} Lợi\n"), "le loi");
        assert_eq!(fold("   "), "");
        assert_eq!(fold(""), "");
    }

    #[test]
    fn other_characters_are_lowercased_and_kept() {
        assert_eq!(fold("Ô-Đu O'Brien 42"), "o-du o'brien 42");
        assert_eq!(fold("José Müller"), "jose muller");
        assert_eq!(fold("ΣΑ"), "σα");
    }
}
