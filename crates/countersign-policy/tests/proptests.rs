//! `parse` never panics, whatever it is given.

mod common;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
        let _ = countersign_policy::parse("p.toml", &text);
    }

    #[test]
    fn parse_never_panics_on_tomlish_text(text in "(\\[[a-z.\\-]{1,12}\\]\n|[a-z\\-]{1,12} = (\"[^\"\n]{0,12}\"|[0-9]{1,3}|true|\\[\"@?[a-z]{1,5}\"\\]|2026-0[1-9]-1[0-9]|\\{ [a-z\\-]{1,8} = \"[^\"\n]{0,8}\" \\})\n){0,20}") {
        let _ = countersign_policy::parse("p.toml", &text);
    }

    #[test]
    fn parse_never_panics_on_mutated_examples(example in 0usize..5, cuts in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), "[\\PC\n]{0,6}"), 1..4)) {
        let mut text = common::example_text(common::EXAMPLES[example]);
        for (a, b, insert) in cuts {
            let len = text.len();
            let (mut start, mut end) = (a.index(len.max(1)), b.index(len.max(1)));
            if start > end { std::mem::swap(&mut start, &mut end); }
            end = end.min(start + 40);
            while !text.is_char_boundary(start) { start -= 1; }
            while !text.is_char_boundary(end) { end -= 1; }
            text.replace_range(start..end.max(start), &insert);
        }
        let result = countersign_policy::parse("p.toml", &text);
        if let Err(failed) = &result {
            // Rendering must not panic either.
            let _ = countersign_policy::render_diagnostics("p.toml", &text, &failed.errors, false);
            prop_assert!(!failed.errors.is_empty());
        }
        if let Ok(checked) = &result {
            let _ = countersign_policy::render::markdown(&checked.policy);
            let _ = countersign_policy::render::explain(&checked.policy);
        }
    }
}
