//! Vietnamese and English messages, kept in `messages/vi.txt` and `messages/en.txt`
//! (`key = value` lines). Vietnamese is the default; `?lang=en` or the `lang` cookie switches.

use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }

    /// The language a request asked for in its query string (`?lang=en`), if any.
    pub fn from_query(uri: &axum::http::Uri) -> Option<Lang> {
        uri.query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "lang")
                .and_then(|(_, v)| Lang::parse(v))
        })
    }

    /// The language of a page: `?lang=` first, then the `lang` cookie, then Vietnamese.
    pub fn of_request(uri: &axum::http::Uri, headers: &axum::http::HeaderMap) -> Lang {
        Lang::from_query(uri)
            .or_else(|| crate::auth::cookie(headers, "lang").and_then(Lang::parse))
            .unwrap_or(Lang::Vi)
    }

    pub fn messages(self) -> &'static Messages {
        match self {
            Lang::Vi => &VI,
            Lang::En => &EN,
        }
    }
}

pub struct Messages {
    map: HashMap<&'static str, &'static str>,
}

impl Messages {
    fn parse(text: &'static str) -> Messages {
        let map = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        Messages { map }
    }

    /// The message for `key`, or the key itself so a missing translation is visible.
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.map.get(key).copied().unwrap_or(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &&'static str> {
        self.map.keys()
    }
}

static VI: LazyLock<Messages> =
    LazyLock::new(|| Messages::parse(include_str!("../messages/vi.txt")));
static EN: LazyLock<Messages> =
    LazyLock::new(|| Messages::parse(include_str!("../messages/en.txt")));

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_query_wins_over_the_cookie() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("cookie", "a=1; lang=en".parse().unwrap());
        let plain: axum::http::Uri = "/staff".parse().unwrap();
        let asked: axum::http::Uri = "/staff?x=1&lang=vi".parse().unwrap();
        assert_eq!(Lang::of_request(&plain, &headers), Lang::En);
        assert_eq!(Lang::of_request(&asked, &headers), Lang::Vi);
        assert_eq!(
            Lang::of_request(&plain, &axum::http::HeaderMap::new()),
            Lang::Vi
        );
        let odd: axum::http::Uri = "/staff?lang=fr".parse().unwrap();
        assert_eq!(Lang::from_query(&odd), None);
    }

    #[test]
    fn both_languages_have_the_same_keys() {
        let mut vi: Vec<_> = Lang::Vi.messages().keys().collect();
        let mut en: Vec<_> = Lang::En.messages().keys().collect();
        vi.sort();
        en.sort();
        assert_eq!(vi, en);
        assert!(vi.len() > 20);
    }
}
