#[test]
fn scratch() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/broken/several-errors.toml")).unwrap();
    match countersign_policy::parse("countersign.toml", &text) {
        Ok(c) => println!("OK {:?}", c.warnings),
        Err(f) => { println!("{}", countersign_policy::render_diagnostics("countersign.toml", &text, &f.errors, false)); }
    }
}
