use super::*;

#[test]
fn batches_end_after_a_complete_line() {
    assert_eq!(batch_end(b"a\nb", false), Some(2));
    assert_eq!(batch_end(b"a\rb", false), Some(2));
    // A trailing `\r` may be the first half of `\r\n`: wait for more.
    assert_eq!(batch_end(b"a\r", false), None);
    assert_eq!(batch_end(b"abc", false), None);
    assert_eq!(batch_end(b"abc", true), Some(3));
}

#[test]
fn parts_split_after_newlines() {
    let batch = b"aa\nbb\r\ncc\ndd\n";
    let parts = split_parts(batch, 2);
    assert_eq!(parts.len(), 2);
    assert!(batch[..parts[0].end].ends_with(b"\n"));
    assert_eq!(parts[1].end, batch.len());
}

#[test]
fn physical_lines_follow_universal_newlines() {
    let part = check_part(b"\n\r\n\r{}\n   \n", 0..11);
    assert_eq!(part.physical_lines, 5);
    assert_eq!(part.lines.len(), 1);
    assert_eq!(part.lines[0].index, 3);
}

#[test]
fn a_small_buffer_gives_the_same_report() {
    // Lines straddle reads of every size; the report must not change.
    let text = "{}\r\n\r\n[1]\r{\"chain_hash\":\"x\"}\n";
    struct Trickle<'a>(&'a [u8]);
    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(1).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let opts = VerifyOptions::default();
    let whole = verify_reader(text.as_bytes(), &opts).ok();
    let trickled = verify_reader(Trickle(text.as_bytes()), &opts).ok();
    assert_eq!(whole, trickled);
    let lines: Vec<u64> = whole.map(|r| r.broken_lines()).unwrap_or_default();
    assert_eq!(lines, vec![0, 2, 3]);
}
