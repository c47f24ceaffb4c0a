//! CODEOWNERS path matching against hmarr/codeowners' test data (145 cases).

use countersign_policy::paths::PathPattern;

fn run(json: &str) -> usize {
    let cases: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in cases.as_array().expect("array") {
        let pattern = case["pattern"].as_str().expect("pattern");
        let compiled = PathPattern::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        for (path, expected) in case["paths"].as_object().expect("paths") {
            let expected = expected.as_bool().expect("bool");
            if compiled.matches(path) != expected {
                failures.push(format!("{} ({pattern}) on {path}: expected {expected}", case["name"]));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    checked
}

#[test]
fn codeowners_patterns_json_copy_all_145_cases() {
    let json = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/patterns.json"))
        .expect("copy present");
    assert_eq!(run(&json), 145);
}

#[test]
fn codeowners_patterns_json_shared_fixture() {
    // The shared fixture is present in the project checkout; the copy above keeps the
    // test meaningful where it is not.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/codeowners/patterns.json");
    if let Ok(json) = std::fs::read_to_string(path) {
        assert_eq!(run(&json), 145);
    }
}
