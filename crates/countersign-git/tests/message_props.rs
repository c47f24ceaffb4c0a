//! The message parser never panics, whatever the input.

use countersign_git::message::{decode_message, escape_lossy, parse_identity, parse_message};
use proptest::prelude::*;

proptest! {
    #[test]
    fn parse_message_never_panics(s in "\\PC*") {
        let p = parse_message(&s);
        prop_assert!(!p.subject.contains('\n'));
    }

    #[test]
    fn parse_message_never_panics_on_trailer_like_input(
        lines in proptest::collection::vec("([A-Za-z-]{0,12}: ?[^\n]{0,20}|[ \t]?[^\n]{0,30}|Merge (pull request )?#[0-9]{0,25}.*|Auto merge of #[0-9]{0,22} - [a-z:]*, r=[a-z, ]*|auto merge of #[0-9]{0,22} : [a-z/+]*, r=[^\n]{0,20}|.*\\(#[0-9]{0,22}\\)|See merge request [a-z/]*![0-9]{0,22}|Reviewed-on: https://x/c/p/\\+/[0-9]{0,22}/?)", 0..12)
    ) {
        let _ = parse_message(&lines.join("\n"));
    }

    #[test]
    fn bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let s = escape_lossy(&bytes);
        let _ = parse_message(&s);
        let _ = decode_message(&bytes, Some(b"ISO-8859-1"));
        let _ = parse_identity(&s);
    }
}
