//! Base32 (RFC 4648 §6) decoding of TOTP secrets, forgiving in the ways
//! authenticator set-up screens are: any letter case, spaces between groups,
//! and `=` padding at the end are all accepted.
//!
//! Written here rather than pulled in so that every intermediate copy of the
//! secret is under our control and zeroized.

use zeroize::{Zeroize, Zeroizing};

use super::secret::InvalidSecret;

/// The 5-bit value of one base32 symbol, or `None` for anything else.
fn symbol_value(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a'),
        b'2'..=b'7' => Some(byte - b'2' + 26),
        _ => None,
    }
}

/// The RFC 4648 alphabet.
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Encodes `bytes` without padding (as authenticator apps take secrets).
pub(super) fn encode(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(bytes.len().div_ceil(5) * 8));
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    buffer.zeroize();
    out
}

/// Decodes `text`, ignoring ASCII whitespace and trailing `=` padding.
///
/// Errors never quote the text: a position is all they reveal.
pub(super) fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>, InvalidSecret> {
    let symbols = count_symbols(text)?;
    // Encoders emit 2, 4, 5, 7 or 8 symbols for the last group; 1, 3 or 6
    // cannot come from whole bytes, which usually means a truncated paste.
    if matches!(symbols % 8, 1 | 3 | 6) {
        return Err(InvalidSecret::InvalidLength { symbols });
    }
    // Sized once so the vector never reallocates and leaves a stray,
    // un-zeroized copy of the secret behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(symbols * 5 / 8));
    let mut buffer: u16 = 0;
    let mut bits: u32 = 0;
    for value in text.bytes().filter_map(symbol_value) {
        buffer = (buffer << 5) | u16::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            let [_, low] = (buffer >> bits).to_be_bytes();
            bytes.push(low);
            buffer &= (1 << bits) - 1;
        }
    }
    // Left-over bits of the last symbol are ignored, as RFC 4648 §3.5 allows
    // decoders to do; they carry no key material.
    buffer.zeroize();
    Ok(bytes)
}

/// Validates `text` and counts its symbols without copying it.
fn count_symbols(text: &str) -> Result<usize, InvalidSecret> {
    let mut symbols = 0;
    let mut padding_at = None;
    for (index, c) in text.chars().enumerate() {
        let position = index + 1;
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == '=' {
            padding_at.get_or_insert(position);
            continue;
        }
        if padding_at.is_some() {
            return Err(InvalidSecret::DataAfterPadding { position });
        }
        let is_symbol = u8::try_from(c).ok().and_then(symbol_value).is_some();
        if !is_symbol {
            return Err(InvalidSecret::InvalidCharacter { position });
        }
        symbols += 1;
    }
    if symbols == 0 {
        return Err(InvalidSecret::Empty);
    }
    Ok(symbols)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<u8> {
        decode(text).expect("valid base32").to_vec()
    }

    #[test]
    fn encoding_round_trips_the_rfc_vectors() {
        for (bytes, text) in [
            (&b"f"[..], "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(encode(bytes).as_str(), text);
            assert_eq!(ok(text), bytes);
        }
    }

    #[test]
    fn rfc_4648_vectors() {
        // RFC 4648 §10.
        assert_eq!(ok("MY======"), b"f");
        assert_eq!(ok("MZXQ===="), b"fo");
        assert_eq!(ok("MZXW6==="), b"foo");
        assert_eq!(ok("MZXW6YQ="), b"foob");
        assert_eq!(ok("MZXW6YTB"), b"fooba");
        assert_eq!(ok("MZXW6YTBOI======"), b"foobar");
    }

    #[test]
    fn case_spaces_and_missing_padding_are_tolerated() {
        let want = b"12345678901234567890";
        assert_eq!(ok("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), want);
        assert_eq!(ok("gezdgnbvgy3tqojqgezdgnbvgy3tqojq"), want);
        assert_eq!(ok("gezd gnbv gy3t qojq gezd gnbv gy3t qojq\n"), want);
        assert_eq!(ok("MZXW6YQ"), b"foob");
    }

    #[test]
    fn malformed_input_is_refused_by_position_only() {
        assert_eq!(decode(""), Err(InvalidSecret::Empty));
        assert_eq!(decode("  ==  "), Err(InvalidSecret::Empty));
        assert_eq!(
            decode("MZXW1YTB"),
            Err(InvalidSecret::InvalidCharacter { position: 5 })
        );
        assert_eq!(
            decode("MZXWéYTB"),
            Err(InvalidSecret::InvalidCharacter { position: 5 })
        );
        assert_eq!(
            decode("MY==MY=="),
            Err(InvalidSecret::DataAfterPadding { position: 5 })
        );
        for bad in ["M", "MZX", "MZXW6Y"] {
            assert!(
                matches!(decode(bad), Err(InvalidSecret::InvalidLength { .. })),
                "{bad}"
            );
        }
    }
}
