use super::*;

fn canon(text: &str) -> String {
    parse(text).map_or_else(|e| format!("error: {e}"), |v| v.to_canonical())
}

#[test]
fn numbers_keep_int_and_float_apart() {
    assert_eq!(
        canon("[1, 1.0, -0, -0.0, 0.90, 9e-1, 2025e-2, 1E400, -1e400]"),
        "[1,1.0,0,-0.0,0.9,0.9,20.25,Infinity,-Infinity]"
    );
    assert_eq!(
        canon("123456789012345678901234567890"),
        "123456789012345678901234567890"
    );
    assert_eq!(
        canon("[NaN,Infinity,-Infinity,1e-7,1e16,5e-324,1e-400]"),
        "[NaN,Infinity,-Infinity,1e-07,1e+16,5e-324,0.0]"
    );
}

#[test]
fn python_rejects_what_we_reject() {
    for bad in [
        "",
        "01",
        "1.",
        ".5",
        "1e",
        "-",
        "+1",
        "[1,]",
        "{\"a\":1,}",
        "{'a':1}",
        "\"a\tb\"",
        "\"\\x\"",
        "\"\\u12\"",
        "nan",
        "-NaN",
        "[1] x",
        "{\"a\" 1}",
        "\"abc",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} must be rejected");
    }
    assert!(parse(" \t{\"a\" : [ 1 , 2 ] }\r\n").is_ok());
}

#[test]
fn strings_keep_lone_surrogates_and_combine_pairs() {
    assert_eq!(canon(r#""\ud800""#), r#""\ud800""#);
    assert_eq!(canon(r#""\uD83D\uDE00""#), r#""\ud83d\ude00""#);
    assert_eq!(
        canon("\"😀é\u{7f}/\\/\""),
        r#""\ud83d\ude00\u00e9\u007f//""#
    );
    assert_eq!(canon(r#""\ude00\ud83d""#), r#""\ude00\ud83d""#);
}

#[test]
fn keys_sort_by_code_point_not_utf16_unit() {
    // U+FF21 is one unit above every surrogate; U+1F600 is a pair starting
    // with 0xD83D. By code point the astral key comes last.
    assert_eq!(
        canon(r#"{"😀":1,"Ａ":2,"\ud800":3,"a":4}"#),
        r#"{"a":4,"\ud800":3,"\uff21":2,"\ud83d\ude00":1}"#
    );
}

#[test]
fn duplicate_keys_last_value_first_position() {
    let v = parse(r#"{"b":1,"a":2,"b":3}"#).unwrap_or(JsonValue::Null);
    let JsonValue::Object(map) = v else {
        panic!("object expected")
    };
    let keys: Vec<_> = map
        .keys()
        .filter_map(JsonString::to_string_lossless)
        .collect();
    assert_eq!(keys, ["b", "a"]);
    assert_eq!(
        map.get(&JsonString::from("b")),
        Some(&JsonValue::Int("3".into()))
    );
}

#[test]
fn nesting_is_bounded() {
    let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
    assert!(parse(&deep).is_err());
    let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
    assert!(parse(&ok).is_ok());
}
