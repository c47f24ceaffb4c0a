//! Policy files that used to hang or crash the checker (issue 7). Each is now an error
//! with a stable code, pointing at its line with a `help:` line, or a valid policy that
//! renders on a small stack. See "Limits" in docs/policy-language.md.
//!
//! Nothing here is timed. A crash (stack overflow) aborts the test binary; a hang is
//! caught by a generous watchdog on work the old code could never have finished (2^40
//! paths through a rule diamond).

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;
use countersign_policy::model::{ApprovalRule, Condition};
use countersign_policy::{Diagnostic, diagnostics_json, limits, render, render_diagnostics};

const HEAD: &str = "[policy]\norganization = \"Acme\"\neffective = 2026-01-01\n\n[people.ada]\nemails = \"ada@acme.test\"\n\n[people.bo]\nemails = \"bo@acme.test\"\n";

/// The stack a test thread gets by default, set explicitly so that `RUST_MIN_STACK` cannot
/// hide an overflow.
const TEST_STACK: usize = 2 * 1024 * 1024;

/// Runs `f` on a thread with the default test-thread stack, and fails the test if it has
/// not finished within the watchdog. Not a timing assertion: the watchdog only turns "the
/// old code never finishes" into a failure instead of a hung test run.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(TEST_STACK)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn");
    rx.recv_timeout(Duration::from_secs(120)).expect("finished within the 120 s watchdog, without crashing")
}

/// The errors of a policy that must not validate, checked on a small stack.
fn errors_of(text: String) -> Vec<Diagnostic> {
    bounded(move || match parse_on(&text, today()) {
        Ok(_) => panic!("the policy should not validate"),
        Err(failed) => failed.errors,
    })
}

/// The 1-based line of the first line of `text` that starts with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines().position(|l| l.starts_with(prefix)).expect("line") + 1
}

/// Every error renders with its code, its position and a help line, on a small stack.
fn assert_rendered(text: String, errors: Vec<Diagnostic>) {
    bounded(move || {
        let rendered = render_diagnostics("countersign.toml", &text, &errors, false);
        for e in &errors {
            assert!(rendered.contains(&format!("[{}]", e.code)), "{rendered}");
            assert!(e.help.is_some(), "{e:?}");
        }
        assert!(rendered.contains("countersign.toml:"), "{rendered}");
        assert!(rendered.contains("help:"), "{rendered}");
    });
}

/// `layers` layers of two rules; each rule of a layer refers to both rules of the next,
/// alternating `all` and `any`. The number of paths doubles with each layer.
fn diamond(layers: usize) -> String {
    let mut text = HEAD.to_string();
    for layer in 0..layers {
        for side in ["a", "b"] {
            if layer + 1 == layers {
                text.push_str(&format!("[rules.l{layer}{side}]\napprovals = 1\n\n"));
            } else {
                let kind = if layer % 2 == 0 { "all" } else { "any" };
                let next = layer + 1;
                text.push_str(&format!("[rules.l{layer}{side}]\n{kind} = [\"l{next}a\", \"l{next}b\"]\n\n"));
            }
        }
    }
    text.push_str("[[categories]]\nid = \"standard\"\ndefault = true\nrequire = \"l0a\"\n");
    text
}

#[test]
fn x01_a_deep_rule_diamond_is_checked_without_exploring_every_path() {
    // 80 rules, 2^40 paths from the top: the old cycle check followed every one.
    let text = diamond(40);
    let errors = errors_of(text.clone());
    assert!(!codes(&errors).contains(&"CS-E016"), "a diamond has no cycle: {:?}", codes(&errors));
    assert!(!errors.is_empty() && errors.iter().all(|e| e.code == "CS-E027"), "{:?}", codes(&errors));
    // Reported where a rule first grows past the limit, not at every rule above it.
    assert!(errors.len() <= 2, "{errors:#?}");
    assert!(errors[0].message.contains(&limits::MAX_RULE_PARTS.to_string()), "{}", errors[0].message);
    assert_rendered(text, errors);
}

#[test]
fn x01_a_rule_diamond_within_the_limits_is_valid_and_renders() {
    // Seven layers write out to 253 parts: just within the limit of 256.
    let text = diamond(7);
    let (markdown, explain) = bounded(move || {
        let policy = checked(&text).policy;
        (render::markdown(&policy), render::explain(&policy))
    });
    assert!(markdown.contains("`l0a`") && explain.contains("[rule l0a]"), "{explain}");
    // One layer more is 509 parts: too many.
    let errors = errors_of(diamond(8));
    assert!(errors.iter().all(|e| e.code == "CS-E027" && e.message.contains("`l0")), "{errors:#?}");
}

#[test]
fn x01_rules_in_one_cycle_are_reported_once_however_many_cycles_they_form() {
    // A 40-layer diamond whose last layer refers back to the first: one knot of 80 rules
    // holding 2^40 different cycles.
    let mut text = diamond(40).replace("[rules.l39a]\napprovals = 1\n", "[rules.l39a]\nany = [\"l0a\", \"l0b\"]\n");
    text = text.replace("[rules.l39b]\napprovals = 1\n", "[rules.l39b]\nall = [\"l0b\"]\n");
    let errors = errors_of(text.clone());
    let cycles: Vec<_> = errors.iter().filter(|e| e.code == "CS-E016").collect();
    assert_eq!(cycles.len(), 1, "{errors:#?}");
    let message = &cycles[0].message;
    assert!(message.starts_with("approval rules refer to each other: l0a → "), "{message}");
    assert!(message.ends_with("→ l0a"), "names the rules on the cycle, back to the first: {message}");
    assert_rendered(text, errors);
}

#[test]
fn x01_a_chain_of_20000_groups_is_an_error_not_a_stack_overflow() {
    let mut text = format!("{HEAD}\n[groups]\n");
    for i in 0..20_000 {
        text.push_str(&format!("g{i} = [\"@g{}\"]\n", i + 1));
    }
    text.push_str("g20000 = [\"ada\"]\n");
    let errors = errors_of(text.clone());
    assert_eq!(codes(&errors), vec!["CS-E026"], "{errors:#?}");
    // g19935 is the first group with more than 64 levels of groups below it.
    let json = diagnostics_json("countersign.toml", &text, &errors);
    assert_eq!(json[0].line, line_of(&text, "g19935 = "), "{:?}", json[0]);
    assert!(json[0].message.contains("@g19935"), "{}", json[0].message);
    assert_rendered(text, errors);
}

#[test]
fn x01_a_cycle_through_20000_groups_is_reported_once() {
    let mut text = format!("{HEAD}\n[groups]\n");
    for i in 0..20_000 {
        text.push_str(&format!("g{i:05} = [\"ada\", \"@g{:05}\"]\n", (i + 1) % 20_000));
    }
    let errors = errors_of(text.clone());
    assert_eq!(codes(&errors), vec!["CS-E015"], "{errors:#?}");
    let message = &errors[0].message;
    assert!(message.starts_with("groups contain each other: @g00000 → @g00001 → "), "{message}");
    assert!(message.contains("more)") && message.ends_with("@g19999 → @g00000"), "{message}");
    assert_rendered(text, errors);
}

#[test]
fn x01_a_chain_of_20000_rules_is_an_error_not_a_stack_overflow() {
    for (form, last) in [("all = [\"r{next}\"]", "approvals = 1"), ("ref = \"r{next}\"", "owner-ack = true")] {
        let mut text = HEAD.to_string();
        for i in 0..20_000 {
            text.push_str(&format!("[rules.r{i}]\n{}\n", form.replace("{next}", &(i + 1).to_string())));
        }
        text.push_str(&format!("[rules.r20000]\n{last}\n"));
        let errors = errors_of(text.clone());
        // One error where the chain first nests too deep, and one for the number of rules.
        let deep: Vec<_> = errors.iter().filter(|e| e.code == "CS-E026").collect();
        assert_eq!(deep.len(), 1, "{form}: {errors:#?}");
        assert!(deep[0].message.contains("more than 64 levels"), "{}", deep[0].message);
        assert_eq!(codes(&errors).iter().filter(|c| **c == "CS-E027").count(), 1, "{form}: {errors:#?}");
        assert!(errors.iter().any(|e| e.message.contains("20001 rules")), "{errors:#?}");
        assert_rendered(text, errors);
    }
}

#[test]
fn x01_a_cycle_through_20000_rules_is_reported_once() {
    let mut text = HEAD.to_string();
    for i in 0..20_000 {
        text.push_str(&format!("[rules.r{i:05}]\nall = [\"r{:05}\"]\n", (i + 1) % 20_000));
    }
    let errors = errors_of(text.clone());
    let cycles: Vec<_> = errors.iter().filter(|e| e.code == "CS-E016").collect();
    assert_eq!(cycles.len(), 1, "{errors:#?}");
    assert!(cycles[0].message.starts_with("approval rules refer to each other: r00000 → r00001 → "));
    // Points at the reference that closes the cycle, in the last rule.
    let json = diagnostics_json("countersign.toml", &text, std::slice::from_ref(cycles[0]));
    assert_eq!(json[0].line, line_of(&text, "[rules.r19999]") + 1);
    // Apart from the cycle, only the number of rules is over a limit.
    assert_eq!(codes(&errors).iter().filter(|c| **c != "CS-E016").collect::<Vec<_>>(), vec![&"CS-E027"]);
    assert_rendered(text, errors);
}

#[test]
fn x01_toml_nested_100000_deep_is_an_error_not_a_crash() {
    let deep = [
        format!("{HEAD}a = {}", "[".repeat(100_000)),
        format!("{HEAD}a = {}1{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("{HEAD}a = {}", "{ b = ".repeat(100_000)),
        format!("{HEAD}{} = 1\n", vec!["a"; 100_000].join(".")),
        format!("{HEAD}[{}]\n", vec!["a"; 100_000].join(".")),
    ];
    for text in deep {
        let errors = errors_of(text.clone());
        assert!(codes(&errors).contains(&"CS-E026"), "{:?}", codes(&errors));
        assert_rendered(text, errors);
    }
}

/// A category whose condition is `depth` levels deep: `not` inside `not` around a label.
fn nested_condition(depth: usize) -> String {
    let nots = depth - 1;
    format!(
        "{HEAD}\n[[categories]]\nid = \"standard\"\ndefault = true\n\n[[categories]]\nid = \"odd\"\nprecedence = 1\nwhen = {}{{ label = \"x\" }}{}\n",
        "{ not = ".repeat(nots),
        " }".repeat(nots)
    )
}

#[test]
fn x01_conditions_nested_deeper_than_64_levels_are_an_error() {
    let text = nested_condition(limits::MAX_NESTING + 1);
    let errors = errors_of(text.clone());
    assert_eq!(codes(&errors), vec!["CS-E026"], "{errors:#?}");
    let json = diagnostics_json("countersign.toml", &text, &errors);
    assert_eq!(json[0].line, line_of(&text, "when = "));
    assert!(json[0].message.starts_with("condition nested more than 64 levels deep"), "{}", json[0].message);
    assert_rendered(text, errors);
}

#[test]
fn x01_a_policy_over_1_mib_is_an_error_pointing_at_the_limit() {
    let mut text = HEAD.to_string();
    let comment = format!("# {}\n", "x".repeat(98));
    while text.len() <= limits::MAX_POLICY_BYTES {
        text.push_str(&comment);
    }
    let errors = errors_of(text.clone());
    assert_eq!(codes(&errors), vec!["CS-E025"], "{errors:#?}");
    let json = diagnostics_json("countersign.toml", &text, &errors);
    let expected_line = text[..limits::MAX_POLICY_BYTES].matches('\n').count() + 1;
    assert_eq!(json[0].line, expected_line);
    assert!(json[0].message.contains("1 MiB"), "{}", json[0].message);
    assert_rendered(text.clone(), errors);
    // At the limit exactly, the same policy is valid.
    text.truncate(limits::MAX_POLICY_BYTES);
    let cut = text.rfind('\n').expect("a line") + 1;
    text.truncate(cut);
    while text.len() < limits::MAX_POLICY_BYTES {
        text.push('\n');
    }
    assert_eq!(text.len(), limits::MAX_POLICY_BYTES);
    bounded(move || checked(&text));
}

#[test]
fn x01_too_many_categories_rules_or_group_members_are_an_error() {
    let mut text = HEAD.to_string();
    for i in 0..=limits::MAX_CLASSES {
        text.push_str(&format!("[[categories]]\nid = \"c{i}\"\nwhen = {{ label = \"c{i}\" }}\n"));
    }
    text.push_str("[[categories]]\nid = \"standard\"\ndefault = true\n");
    let errors = errors_of(text.clone());
    assert_eq!(codes(&errors), vec!["CS-E027"], "{errors:#?}");
    let json = diagnostics_json("countersign.toml", &text, &errors);
    let id_line = line_of(&text, "id = \"c256\"");
    assert!((id_line - 1..=id_line).contains(&json[0].line), "points at the 257th category: {:?}", json[0]);
    assert_rendered(text, errors);

    let mut text = HEAD.to_string();
    for i in 0..=limits::MAX_RULES {
        text.push_str(&format!("[rules.r{i}]\napprovals = 1\n"));
    }
    assert_eq!(codes(&errors_of(text)), vec!["CS-E027"]);

    // 1,001 people in one group that 101 other groups include: 102,102 members in all.
    let mut text = HEAD.to_string();
    for i in 0..1001 {
        text.push_str(&format!("[people.p{i}]\n"));
    }
    text.push_str("[groups]\nbig = [");
    text.push_str(&(0..1001).map(|i| format!("\"p{i}\"")).collect::<Vec<_>>().join(", "));
    text.push_str("]\n");
    for i in 0..101 {
        text.push_str(&format!("g{i} = [\"@big\"]\n"));
    }
    let errors = errors_of(text.clone());
    assert_eq!(codes(&errors), vec!["CS-E027"], "{errors:#?}");
    assert!(errors[0].message.contains("100000 members"), "{}", errors[0].message);
    assert_rendered(text, errors);
}

#[test]
fn x02_a_policy_at_every_limit_validates_and_renders_on_a_small_stack() {
    let mut text = nested_condition(limits::MAX_NESTING);
    // Groups 64 levels deep.
    text.push_str("\n[groups]\n");
    for i in 0..limits::MAX_NESTING {
        text.push_str(&format!("g{i} = [\"@g{}\"]\n", i + 1));
    }
    text.push_str(&format!("g{} = [\"ada\"]\n", limits::MAX_NESTING));
    // A chain of references 64 levels deep, ending in approvals by the deepest group.
    for i in 0..limits::MAX_NESTING - 1 {
        text.push_str(&format!("[rules.r{i}]\nref = \"r{}\"\n", i + 1));
    }
    text.push_str(&format!("[rules.r{}]\napprovals = 1\nfrom = \"@g0\"\n", limits::MAX_NESTING - 1));
    text.push_str("[[areas]]\nname = \"app\"\npaths = [\"/app/\"]\nrequire = \"r0\"\n");
    let (markdown, html, explain) = bounded(move || {
        let policy = checked(&text).policy;
        assert_eq!(policy.groups["g0"].members, vec!["ada".to_string()]);
        (render::markdown(&policy), render::html(&policy), render::explain(&policy))
    });
    assert!(markdown.contains("not (not (not ("), "{markdown}");
    assert!(html.contains("@g0 (ada)"), "the rule is written out to its approvers");
    assert!(explain.contains("app: /app/ -> anyone [+rule r0]"), "{explain}");
}

#[test]
fn x02_rules_and_conditions_built_by_hand_past_the_limits_render_on_a_small_stack() {
    // Validation never returns such a policy; the renderers stop at the limits anyway.
    let (markdown, explain) = bounded(|| {
        let text = format!(
            "{HEAD}\n[rules.r0]\napprovals = 1\n\n[[categories]]\nid = \"standard\"\ndefault = true\nrequire = \"r0\"\n"
        );
        let mut policy = checked(&text).policy;
        let approvals = ApprovalRule::Approvals {
            count: 1,
            from: vec![],
            exclude_author: true,
            exclude_committers: false,
            current_head_only: true,
        };
        // A chain of 20,000 references.
        for i in 0..20_000 {
            policy.rules.insert(format!("r{i}"), ApprovalRule::Ref(format!("r{}", i + 1)));
        }
        policy.rules.insert("r20000".into(), approvals.clone());
        // A diamond of 64 layers: 2^64 paths.
        for layer in 0..64 {
            for side in ["a", "b"] {
                let rule = if layer == 63 {
                    approvals.clone()
                } else {
                    ApprovalRule::All(vec![
                        ApprovalRule::Ref(format!("d{}a", layer + 1)),
                        ApprovalRule::Ref(format!("d{}b", layer + 1)),
                    ])
                };
                policy.rules.insert(format!("d{layer}{side}"), rule);
            }
        }
        // A condition 20,000 levels deep.
        let mut when = Condition::Label("x".into());
        for _ in 0..20_000 {
            when = Condition::Not(Box::new(when));
        }
        let mut odd = policy.categories[0].clone();
        odd.id = "odd".into();
        odd.precedence = 1;
        odd.when = when;
        odd.require = Some("d0a".into());
        policy.categories.push(odd);
        let rendered = (render::markdown(&policy), render::explain(&policy));
        // Dropping the condition would nest as deep as it does; leave it to the process.
        std::mem::forget(policy);
        rendered
    });
    assert!(markdown.contains("not (not (") && markdown.contains('…'), "deep parts are elided");
    assert!(explain.contains("[rule d0a]"), "the category's rule is written out, within the limits");
}

#[test]
fn x01_limits_are_documented() {
    let doc = std::fs::read_to_string(format!("{}/../../docs/policy-language.md", env!("CARGO_MANIFEST_DIR")))
        .expect("docs/policy-language.md");
    let limits_section = doc.split("## Limits").nth(1).expect("a Limits section").split("\n## ").next().unwrap_or("");
    for value in ["1 MiB", "80 levels", "64 levels", "| 256 |", "| 1,024 |", "256 each", "| 100,000 |"] {
        assert!(limits_section.contains(value), "{value} is missing from the Limits section");
    }
    assert_eq!(
        (
            limits::MAX_POLICY_BYTES,
            limits::MAX_TOML_NESTING,
            limits::MAX_NESTING,
            limits::MAX_RULE_PARTS,
            limits::MAX_RULES,
            limits::MAX_CLASSES,
            limits::MAX_GROUP_MEMBERSHIPS
        ),
        (1 << 20, 80, 64, 256, 1024, 256, 100_000),
        "the documented values"
    );
}
