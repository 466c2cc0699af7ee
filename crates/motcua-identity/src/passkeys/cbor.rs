//! The subset of CBOR (RFC 8949) that WebAuthn uses: the attestation object and COSE keys
//! (maps, integers, byte and text strings, arrays, simple values). Definite lengths only, as
//! CTAP2's canonical encoding requires; anything else is refused.

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i128),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Simple(u8),
}

impl Value {
    /// The value of `key` in a map.
    pub fn get(&self, key: &Value) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn text_key(&self, key: &str) -> Option<&Value> {
        self.get(&Value::Text(key.to_owned()))
    }

    pub fn int_key(&self, key: i128) -> Option<&Value> {
        self.get(&Value::Int(key))
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

const MAX_DEPTH: usize = 16;
const MAX_ITEMS: u64 = 1024;

/// Decodes one item from the start of `input`; returns it and the bytes that follow.
pub fn decode(input: &[u8]) -> Option<(Value, &[u8])> {
    item(input, 0)
}

fn item(input: &[u8], depth: usize) -> Option<(Value, &[u8])> {
    if depth > MAX_DEPTH {
        return None;
    }
    let (&first, rest) = input.split_first()?;
    let major = first >> 5;
    let (arg, rest) = argument(first & 0x1f, rest)?;
    match major {
        0 => Some((Value::Int(i128::from(arg)), rest)),
        1 => Some((Value::Int(-1 - i128::from(arg)), rest)),
        2 | 3 => {
            let len = usize::try_from(arg).ok()?;
            if rest.len() < len {
                return None;
            }
            let (data, rest) = rest.split_at(len);
            if major == 2 {
                Some((Value::Bytes(data.to_vec()), rest))
            } else {
                Some((Value::Text(String::from_utf8(data.to_vec()).ok()?), rest))
            }
        }
        4 => {
            if arg > MAX_ITEMS {
                return None;
            }
            let mut rest = rest;
            let mut items = Vec::new();
            for _ in 0..arg {
                let (v, r) = item(rest, depth + 1)?;
                items.push(v);
                rest = r;
            }
            Some((Value::Array(items), rest))
        }
        5 => {
            if arg > MAX_ITEMS {
                return None;
            }
            let mut rest = rest;
            let mut entries = Vec::new();
            for _ in 0..arg {
                let (k, r) = item(rest, depth + 1)?;
                let (v, r) = item(r, depth + 1)?;
                entries.push((k, v));
                rest = r;
            }
            Some((Value::Map(entries), rest))
        }
        7 if (first & 0x1f) < 24 => Some((Value::Simple(first & 0x1f), rest)),
        _ => None,
    }
}

fn argument(info: u8, rest: &[u8]) -> Option<(u64, &[u8])> {
    let take = |n: usize| -> Option<(u64, &[u8])> {
        if rest.len() < n {
            return None;
        }
        let (b, r) = rest.split_at(n);
        Some((b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)), r))
    };
    match info {
        0..=23 => Some((u64::from(info), rest)),
        24 => take(1),
        25 => take(2),
        26 => take(4),
        27 => take(8),
        // Indefinite lengths and reserved values.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_shapes_webauthn_uses() {
        // {1: 2, 3: -7, -1: 1, "fmt": "none", "b": h'0102'}
        let bytes = [
            0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x63, b'f', b'm', b't', 0x64, b'n', b'o',
            b'n', b'e', 0x61, b'b', 0x42, 0x01, 0x02,
        ];
        let (v, rest) = decode(&bytes).unwrap();
        assert!(rest.is_empty());
        assert_eq!(v.int_key(1).and_then(Value::as_int), Some(2));
        assert_eq!(v.int_key(3).and_then(Value::as_int), Some(-7));
        assert_eq!(v.int_key(-1).and_then(Value::as_int), Some(1));
        assert_eq!(v.text_key("fmt").and_then(Value::as_text), Some("none"));
        assert_eq!(
            v.text_key("b").and_then(Value::as_bytes),
            Some(&[1u8, 2][..])
        );
        // Truncated, indefinite-length and over-deep inputs are refused.
        assert!(decode(&bytes[..10]).is_none());
        assert!(decode(&[0x5f]).is_none());
        assert!(decode(&[0x81; 40]).is_none());
    }
}
