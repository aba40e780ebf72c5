//! Lower-case hexadecimal, the one implementation every part of relic prints bytes with (links,
//! digests, key IDs). Decoding is strict: an even number of `0-9a-f` digits.

/// `bytes` as lower-case hex, two digits a byte.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The bytes `text` spells in lower-case hex; `None` if it is not exactly that.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let t = text.as_bytes();
    if t.len() % 2 != 0 {
        return None;
    }
    t.chunks(2).map(|p| Some(digit(p[0])? << 4 | digit(p[1])?)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_and_refuses_what_is_not_lower_case_hex() {
        assert_eq!(super::encode(&[0x00, 0x7f, 0xab, 0xff]), "007fabff");
        assert_eq!(super::decode("007fabff"), Some(vec![0x00, 0x7f, 0xab, 0xff]));
        for bad in ["0", "0g", "AB", " 00"] {
            assert_eq!(super::decode(bad), None, "{bad:?}");
        }
    }
}
