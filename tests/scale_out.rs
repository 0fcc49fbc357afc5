//! Running on more photos than one machine holds: `--adapter` pins a worker to one device,
//! `--files-from` (with `-0`) takes the inputs from a list, and `--shard I/N` takes a fixed share
//! of them, the same on every machine, so that N workers cover every input exactly once.

mod common;

use common::{file_report, fixture_copy, kmquant, REQUIRE_GPU};

fn adapters() -> Vec<serde_json::Value> {
    let out = kmquant().args(["adapters", "--json"]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON");
    v["adapters"].as_array().expect("an adapters array").clone()
}

#[test]
fn adapter_pins_the_run_to_one_device_and_a_missing_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "chelsea.png");
    let all = adapters();
    let past = all.len().to_string();
    let out = kmquant()
        .args([
            input.as_str(),
            "-k",
            "8",
            "-o",
            "x.png",
            "--adapter",
            past.as_str(),
        ])
        .current_dir(dir.path())
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains(&format!("no adapter {past}")), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!dir.path().join("x.png").exists(), "nothing written");

    let usable: Vec<(usize, &serde_json::Value)> = all
        .iter()
        .enumerate()
        .filter(|(_, a)| a["usable"] == true)
        .collect();
    if usable.is_empty() {
        assert!(
            std::env::var(REQUIRE_GPU).map_or(true, |v| v != "1"),
            "{REQUIRE_GPU}=1 but no usable adapter"
        );
        eprintln!("SKIPPED the pinned runs: no usable adapter");
        return;
    }
    kmquant()
        .args([input.as_str(), "-k", "8", "-o", "cpu.png", "--backend", "cpu"])
        .current_dir(dir.path())
        .assert()
        .success();
    let want = std::fs::read(dir.path().join("cpu.png")).unwrap();
    for (i, a) in usable {
        let name = a["name"].as_str().unwrap();
        let word = name.split_whitespace().next().unwrap();
        let full = format!(
            "{name} ({}, {})",
            a["backend"].as_str().unwrap(),
            a["device_type"].as_str().unwrap()
        );
        for pin in [i.to_string(), word.to_uppercase()] {
            let out_name = format!("pinned-{i}.png");
            let out = kmquant()
                .args([
                    input.as_str(),
                    "-k",
                    "8",
                    "-o",
                    out_name.as_str(),
                    "--force",
                    "--json",
                ])
                .args(["--adapter", pin.as_str()])
                .current_dir(dir.path())
                .assert()
                .success();
            let r = file_report(&out.get_output().stdout);
            assert_eq!(r["backend"], "gpu", "--adapter {pin}: {r}");
            if pin == i.to_string() {
                assert_eq!(r["adapter"], full.as_str(), "--adapter {pin} opens entry {i}");
            }
            let got = std::fs::read(dir.path().join(&out_name)).unwrap();
            assert!(
                got == want,
                "--adapter {pin} wrote other bytes than --backend cpu"
            );
        }
    }
}
