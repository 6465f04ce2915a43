//! Against the real kernel, each test in its own throwaway network namespace: loads, updates,
//! refusals, adoption and the fail-safe, read back with `nft list`.
//!
//! Skipped (with a note) without root or nft; `PALISADE_REQUIRE_KERNEL_TESTS=1` makes that fail.

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use palisade_dataplane::netns::ScratchNetns;
use palisade_dataplane::{
    Adoption, Dataplane, Error, FailSafe, FailurePolicy, STATE_CHAIN, ScriptKind, TableState,
    digest,
};

/// A full script the way the compiler writes it: it replaces the table itself.
fn ruleset(addresses: &[&str]) -> String {
    format!(
        "table inet palisade {{}}\n\
         delete table inet palisade\n\
         table inet palisade {{\n\
         \tset pods4 {{\n\
         \t\ttype ipv4_addr\n\
         \t\telements = {{ {} }}\n\
         \t}}\n\
         \tchain forward {{\n\
         \t\ttype filter hook forward priority filter; policy accept;\n\
         \t\tct state established,related accept\n\
         \t\tip daddr @pods4 drop\n\
         \t}}\n\
         }}\n",
        addresses.join(", ")
    )
}

fn listing(dp: &Dataplane) -> String {
    dp.current_table()
        .expect("nft list works")
        .expect("table exists")
}

/// `# handle N` of the table: a full load creates a new table with a new handle, so an
/// unchanged handle proves nothing was reloaded.
fn table_handle() -> String {
    let out = Command::new("nft")
        .args(["-a", "list", "table", "inet", "palisade"])
        .output()
        .expect("nft runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .next()
        .and_then(|l| l.split("# handle ").nth(1))
        .expect("table line carries a handle")
        .trim()
        .to_string()
}

fn in_netns(body: impl FnOnce(&Dataplane) + Send) {
    let Some(netns) = ScratchNetns::for_test("pl-test-dp") else {
        return;
    };
    netns
        .run(|| body(&Dataplane::new()))
        .expect("enter the scratch namespace");
}

#[test]
fn full_load_replaces_the_table_and_records_its_digest() {
    in_netns(|dp| {
        assert_eq!(dp.current_table().expect("list"), None, "fresh namespace");
        let first = ruleset(&["10.0.0.1"]);
        dp.apply_full(&first).expect("first load");
        let text = listing(dp);
        assert!(text.contains("10.0.0.1"), "{text}");
        assert!(text.contains(STATE_CHAIN), "{text}");
        assert_eq!(
            dp.state().expect("state"),
            Some(TableState::Full {
                digest: digest(&first)
            })
        );

        let second = ruleset(&["10.0.0.2", "10.0.0.3"]);
        dp.apply_full(&second).expect("second load");
        let text = listing(dp);
        assert!(!text.contains("10.0.0.1"), "old element gone: {text}");
        assert!(
            text.contains("10.0.0.2") && text.contains("10.0.0.3"),
            "{text}"
        );
    });
}

#[test]
fn a_script_without_its_own_preamble_also_replaces() {
    in_netns(|dp| {
        dp.apply_full(&ruleset(&["10.0.0.1"])).expect("load");
        // No `delete table` of its own: the dataplane's preamble must still clear the old set.
        dp.apply_full("table inet palisade {\n\tchain other {\n\t}\n}\n")
            .expect("bare load");
        let text = listing(dp);
        assert!(!text.contains("pods4"), "{text}");
        assert!(text.contains("chain other"), "{text}");
    });
}

#[test]
fn a_refused_script_leaves_the_previous_table_in_force() {
    in_netns(|dp| {
        dp.apply_full(&ruleset(&["10.0.0.1"])).expect("good load");
        let before = listing(dp);
        let good = ruleset(&["10.0.0.9"]);
        let cases: Vec<(&str, String, usize, &str)> = vec![
            (
                "syntax error",
                good.replace("ip daddr @pods4 drop", "ip dadr @pods4 drop"),
                11,
                "ip dadr",
            ),
            (
                "unknown set (evaluation)",
                good.replace("@pods4 drop", "@nosuch drop"),
                11,
                "@nosuch",
            ),
            (
                "bad element (kernel side of the parser)",
                good.replace("10.0.0.9", "10.0.0.300"),
                6,
                "10.0.0.300",
            ),
        ];
        for (label, script, line, quoted) in cases {
            let err = dp.apply_full(&script).expect_err(label);
            match &err {
                Error::Rejected {
                    kind: ScriptKind::Full,
                    line: Some(l),
                    text: Some(text),
                    ..
                } => {
                    assert_eq!(*l, line, "{label}: {err}");
                    assert!(text.contains(quoted), "{label}: {err}");
                }
                other => panic!("{label}: unexpected {other:?}"),
            }
            assert!(err.to_string().contains(&format!("line {line}")), "{err}");
            assert_eq!(listing(dp), before, "{label}: table changed");
        }
    });
}

#[test]
fn a_refused_update_changes_nothing_not_even_its_valid_part() {
    in_netns(|dp| {
        dp.apply_full(&ruleset(&["10.0.0.1"])).expect("load");
        let before = listing(dp);
        // Line 1 alone would succeed; line 2 fails in the kernel (EEXIST), so neither applies.
        let diff = "add element inet palisade pods4 { 10.0.0.2 }\n\
                    create element inet palisade pods4 { 10.0.0.1 }\n";
        let err = dp
            .apply_diff(diff)
            .expect_err("create of an existing element");
        assert!(
            matches!(
                err,
                Error::Rejected {
                    kind: ScriptKind::Diff,
                    line: Some(2),
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(listing(dp), before);
    });
}

#[test]
fn an_update_applies_and_marks_the_table_modified() {
    in_netns(|dp| {
        let script = ruleset(&["10.0.0.1"]);
        dp.apply_full(&script).expect("load");
        dp.apply_diff(
            "delete element inet palisade pods4 { 10.0.0.1 }\n\
             add element inet palisade pods4 { 10.0.0.7 }",
        )
        .expect("diff");
        let text = listing(dp);
        assert!(
            text.contains("10.0.0.7") && !text.contains("10.0.0.1"),
            "{text}"
        );
        assert_eq!(dp.state().expect("state"), Some(TableState::Modified));
        // The marker no longer vouches for the content, so a restart reloads.
        assert_eq!(dp.adopt(&script).expect("adopt"), Adoption::Replaced);
        assert!(listing(dp).contains("10.0.0.1"));
    });
}

#[test]
fn adoption_keeps_an_identical_table_and_replaces_anything_else() {
    in_netns(|dp| {
        let script = ruleset(&["10.0.0.1"]);
        assert_eq!(dp.adopt(&script).expect("adopt"), Adoption::Created);
        let handle = table_handle();
        assert_eq!(dp.adopt(&script).expect("adopt"), Adoption::Kept);
        assert_eq!(table_handle(), handle, "kept means not reloaded");

        let other = ruleset(&["10.0.0.2"]);
        assert_eq!(dp.adopt(&other).expect("adopt"), Adoption::Replaced);
        assert_ne!(table_handle(), handle, "replaced means a new table");
        assert!(listing(dp).contains("10.0.0.2"));

        // A table without palisade's marker (another tool, an older version) is replaced.
        dp.apply_script(
            "table inet palisade\ndelete table inet palisade\ntable inet palisade {\n}\n",
        )
        .expect("raw load");
        assert_eq!(dp.state().expect("state"), Some(TableState::Unknown));
        assert_eq!(dp.adopt(&other).expect("adopt"), Adoption::Replaced);
    });
}

#[test]
fn only_palisade_table_is_touched() {
    in_netns(|dp| {
        dp.apply_script("table inet someone_else {\n\tchain c {\n\t}\n}\n")
            .expect("foreign table");
        dp.apply_full(&ruleset(&["10.0.0.1"])).expect("load");
        dp.remove_table().expect("remove");
        dp.remove_table().expect("remove twice is fine");
        assert_eq!(dp.current_table().expect("list"), None);
        let out = Command::new("nft")
            .args(["list", "tables"])
            .output()
            .expect("nft runs");
        let tables = String::from_utf8_lossy(&out.stdout);
        assert!(tables.contains("table inet someone_else"), "{tables}");
    });
}

#[test]
fn fail_safe_follows_the_policy_only_when_nothing_is_in_force() {
    in_netns(|dp| {
        assert_eq!(
            dp.fail_safe(FailurePolicy::Open).expect("open"),
            FailSafe::Open
        );
        assert!(!dp.table_exists().expect("exists"));

        assert_eq!(
            dp.fail_safe(FailurePolicy::Closed).expect("closed"),
            FailSafe::Lockdown
        );
        let text = listing(dp);
        assert!(
            text.contains("hook forward") && text.contains("policy drop"),
            "{text}"
        );
        assert_eq!(dp.state().expect("state"), Some(TableState::Lockdown));

        dp.apply_full(&ruleset(&["10.0.0.1"]))
            .expect("real load replaces lockdown");
        for policy in [FailurePolicy::Open, FailurePolicy::Closed] {
            assert_eq!(
                dp.fail_safe(policy).expect("fail safe"),
                FailSafe::KeptPrevious,
                "{policy:?}"
            );
        }
        assert!(listing(dp).contains("10.0.0.1"), "last good table stays");
    });
}

#[test]
fn check_reports_without_loading() {
    in_netns(|dp| {
        dp.check_full(&ruleset(&["10.0.0.1"]))
            .expect("valid script");
        assert!(!dp.table_exists().expect("exists"), "check loads nothing");
        let err = dp
            .check_full(&ruleset(&["10.0.0.1"]).replace("@pods4", "@nope"))
            .expect_err("invalid script");
        assert!(
            matches!(err, Error::Rejected { line: Some(11), .. }),
            "{err:?}"
        );
    });
}

#[test]
fn the_table_never_disappears_while_it_is_replaced() {
    in_netns(|dp| {
        dp.apply_full(&ruleset(&["10.0.0.1"])).expect("load");
        let stop = AtomicBool::new(false);
        let (polls, missing) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|scope| {
            // Threads started here share the namespace the test thread entered.
            scope.spawn(|| {
                let poller = Dataplane::new();
                while !stop.load(Ordering::Relaxed) {
                    polls.fetch_add(1, Ordering::Relaxed);
                    if !poller.table_exists().expect("poll") {
                        missing.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            for round in 0..40 {
                let address = format!("10.0.1.{round}");
                dp.apply_full(&ruleset(&[&address])).expect("reload");
                if round % 4 == 0 {
                    let _ = dp.apply_full("table inet palisade { this is broken }");
                }
            }
            stop.store(true, Ordering::Relaxed);
        });
        let polls = polls.load(Ordering::Relaxed);
        assert!(polls > 10, "poller ran only {polls} times");
        assert_eq!(
            missing.load(Ordering::Relaxed),
            0,
            "table absent in some of {polls} polls"
        );
    });
}

/// libnftables in process (what `Dataplane::new` uses where the library is installed, as it is
/// with Debian's `nftables`) and the `nft` program load the same scripts and name the same line
/// of a refused one.
#[test]
fn in_process_and_the_program_agree() {
    in_netns(|dp| {
        if std::env::var_os("PALISADE_REQUIRE_KERNEL_TESTS").is_some() {
            assert!(
                dp.in_process(),
                "libnftables.so.1 comes with the nftables package"
            );
        }
        let program = Dataplane::with_nft("nft");
        assert!(!program.in_process());
        let bad = "table inet palisade {\n\tchain c {\n\t\tip daddr @nosuch drop\n\t}\n}\n";
        for d in [dp, &program] {
            match d.apply_full(bad) {
                Err(Error::Rejected { line, text, .. }) => {
                    assert_eq!(line, Some(3), "in process: {}", d.in_process());
                    assert_eq!(text.as_deref(), Some("ip daddr @nosuch drop"));
                }
                other => panic!("in process {}: {other:?}", d.in_process()),
            }
        }
        for (n, d) in [dp, &program].into_iter().enumerate() {
            let address = format!("10.0.0.{}", n + 20);
            d.apply_full(&ruleset(&[&address])).expect("load");
            assert!(listing(d).contains(&address));
            assert!(
                listing(&program).contains(&address),
                "the other reads it too"
            );
        }
    });
}
