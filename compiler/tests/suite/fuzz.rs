//! Property tests: no input makes the parser, checker or emitters panic.

use proptest::prelude::*;
use shopgen::model::SpecSource;

fn source() -> SpecSource {
    SpecSource {
        stem: "fuzz".into(),
        display_path: "fuzz.toml".into(),
    }
}

fn run(src: &str) {
    match shopgen::compile(src, source()) {
        Ok(model) => {
            let _ = shopgen::emit::emit_all(&model);
        }
        Err(diags) => {
            assert!(!diags.is_empty());
            let _ = shopgen::diagnostics::render(&diags, "fuzz.toml", src);
        }
    }
}

const SHOP: &str = include_str!("../../../specs/shop.toml");

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,400}") {
        run(&src);
    }

    #[test]
    fn mutated_reference_spec_never_panics(pos in 0usize..SHOP.len(), len in 0usize..20, insert in "[ -~\\n]{0,12}") {
        let mut s = SHOP.to_string();
        let mut start = pos.min(s.len());
        while !s.is_char_boundary(start) { start -= 1; }
        let mut end = (start + len).min(s.len());
        while !s.is_char_boundary(end) { end -= 1; }
        s.replace_range(start..end, &insert);
        run(&s);
    }

    #[test]
    fn arbitrary_values_in_known_keys_never_panic(
        key in prop::sample::select(vec!["max_length", "min", "max", "precision", "scale", "default", "values", "pattern", "type", "unique", "required"]),
        value in prop::sample::select(vec!["-1", "0", "99999999999999999999", "\"x\"", "[]", "[1, 2]", "{}", "true", "1.5", "\"(\"", "\"enum\"", "\"decimal\"", "\"9e999\"", "-9223372036854775808"]),
    ) {
        let s = SHOP.replace("max_length = 120", &format!("{key} = {value}"));
        run(&s);
        let s = SHOP.replace("min = 1, max = 5", &format!("{key} = {value}"));
        run(&s);
    }
}
