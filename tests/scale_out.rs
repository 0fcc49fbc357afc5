//! Running on more photos than one machine holds: `--adapter` pins a worker to one device,
//! `--files-from` (with `-0`) takes the inputs from a list, and `--shard I/N` takes a fixed share
//! of them, the same on every machine, so that N workers cover every input exactly once.

mod common;

use common::{file_report, fixture_copy, json_lines, kmquant, REQUIRE_GPU};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    // `chelsea.png` at K=8 into `out`, with `extra` flags.
    let run = |out: &str, extra: &[&str]| {
        kmquant()
            .args([input.as_str(), "-k", "8", "-o", out, "--force"])
            .args(extra)
            .current_dir(dir.path())
            .assert()
    };
    let out = run("x.png", &["--adapter", past.as_str()]).code(1);
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
    run("cpu.png", &["--backend", "cpu"]).success();
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
            let out = run(&out_name, &["--json", "--adapter", pin.as_str()]).success();
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

/// A folder of `n` small synthetic photos in two subfolders (names with spaces among them).
fn photo_folder(dir: &Path, n: usize, side: u32) -> Vec<PathBuf> {
    let mut rng = common::Rng(n as u64 + side as u64);
    (0..n)
        .map(|i| {
            let sub = dir.join(if i % 2 == 0 { "a" } else { "b b" });
            std::fs::create_dir_all(&sub).unwrap();
            let px = common::synthetic(side, side, rng.next());
            let raw: Vec<u8> = px.iter().flat_map(|p| [p[0], p[1], p[2]]).collect();
            let path = sub.join(format!("photo {i:03}.png"));
            image::save_buffer(&path, &raw, side, side, image::ExtendedColorType::Rgb8).unwrap();
            path
        })
        .collect()
}

/// Every file under `dir` (relative path, bytes), hidden temporaries apart.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if !p.file_name().unwrap().to_string_lossy().starts_with(".kmquant-") {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

fn written_inputs(stdout: &[u8]) -> Vec<String> {
    json_lines(stdout)
        .into_iter()
        .filter(|o| o["kind"] == "file")
        .map(|o| o["input"].as_str().unwrap().to_string())
        .collect()
}

const OPTS: [&str; 6] = ["-k", "8", "--backend", "cpu", "--json", "--quiet"];

#[test]
fn files_from_reads_lines_nul_separated_names_and_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let photos = photo_folder(dir.path(), 4, 48);
    let names: Vec<String> = photos.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    std::fs::write(
        dir.path().join("list.txt"),
        format!("{}\r\n\n{}\n", names[0], names[1]),
    )
    .unwrap();
    std::fs::write(dir.path().join("list0"), format!("{}\0{}\0", names[2], names[3])).unwrap();
    let out_dir = dir.path().join("out");
    let o = out_dir.to_str().unwrap();
    let run = |args: &[&str], stdin: Option<String>| {
        let mut c = kmquant();
        c.args(args).args(OPTS).args(["--out-dir", o, "--force"]);
        if let Some(s) = stdin {
            c.write_stdin(s);
        }
        written_inputs(&c.assert().success().get_output().stdout)
    };
    let list = dir.path().join("list.txt");
    let list0 = dir.path().join("list0");
    assert_eq!(run(&["--files-from", list.to_str().unwrap()], None), names[..2]);
    assert_eq!(
        run(&["--files-from", list0.to_str().unwrap(), "-0"], None),
        names[2..]
    );
    // Given inputs come first, then the list's; `-` reads the list from standard input.
    let got = run(
        &[names[3].as_str(), "--files-from", "-"],
        Some(format!("{}\n{}\n", names[0], names[2])),
    );
    assert_eq!(got, [names[3].clone(), names[0].clone(), names[2].clone()]);
    // A missing list is one line and exit 1; `-0` without a list is a usage error.
    let out = kmquant()
        .args(["--files-from", "nope.txt"])
        .current_dir(dir.path())
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("cannot read the --files-from list nope.txt"),
        "{err}"
    );
    kmquant().args([names[0].as_str(), "-0"]).assert().code(2);
    // An empty list is a usage error; a list naming `-` fails that entry, the others run.
    std::fs::write(dir.path().join("empty"), "\n").unwrap();
    kmquant()
        .args(["--files-from", "empty"])
        .current_dir(dir.path())
        .assert()
        .code(2);
    let out = kmquant()
        .args(["--files-from", "-"])
        .args(OPTS)
        .args(["--out-dir", o, "--force"])
        .write_stdin(format!("-\n{}\n", names[1]))
        .assert()
        .code(1);
    assert_eq!(written_inputs(&out.get_output().stdout), names[1..2]);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("cannot name standard input"), "{err}");
    let out = kmquant()
        .args(["-", "--files-from", "-"])
        .write_stdin("x")
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("cannot both read standard input"), "{err}");
}

#[test]
fn shards_run_as_separate_processes_cover_every_input_once_and_equal_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in");
    let photos = photo_folder(&src, 23, 40);
    let s = src.to_str().unwrap();
    let whole = dir.path().join("whole");
    let out = kmquant()
        .args(["-r", s, "--out-dir", whole.to_str().unwrap()])
        .args(OPTS)
        .assert()
        .success();
    assert_eq!(written_inputs(&out.get_output().stdout).len(), photos.len());
    let want = tree(&whole);
    assert_eq!(want.len(), photos.len());

    // Three workers at once, as three processes writing into one folder.
    let sharded = dir.path().join("sharded");
    let n = 3;
    let children: Vec<_> = (0..n)
        .map(|i| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("kmquant"))
                .args([
                    "-r",
                    s,
                    "--out-dir",
                    sharded.to_str().unwrap(),
                    "--shard",
                    &format!("{i}/{n}"),
                ])
                .args(OPTS)
                .env("XDG_RUNTIME_DIR", std::env::temp_dir())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let children: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut seen: Vec<String> = Vec::new();
    for (i, c) in children.iter().enumerate() {
        assert!(
            c.status.success(),
            "shard {i}: {}",
            String::from_utf8_lossy(&c.stderr)
        );
        let mine = written_inputs(&c.stdout);
        assert!(
            !mine.is_empty(),
            "shard {i} of {n} got nothing from {} photos",
            photos.len()
        );
        seen.extend(mine);
    }
    seen.sort();
    let mut all: Vec<String> = photos.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    all.sort();
    assert_eq!(seen, all, "every input exactly once");
    assert!(
        tree(&sharded) == want,
        "the shards' outputs differ from one batch run's"
    );
}

#[test]
fn a_shard_killed_halfway_and_run_again_finishes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in");
    let photos = photo_folder(&src, 40, 160);
    let s = src.to_str().unwrap();
    let args = |out: &Path| -> Vec<String> {
        [
            "-r",
            s,
            "--out-dir",
            out.to_str().unwrap(),
            "--shard",
            "1/2",
            "-j",
            "1",
            "-k",
            "64",
            "--backend",
            "cpu",
            "--json",
            "--quiet",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let whole = dir.path().join("whole");
    let out = kmquant().args(args(&whole)).assert().success();
    let total = written_inputs(&out.get_output().stdout).len();
    assert!(
        total > 5 && total < photos.len(),
        "shard 1/2 holds {total} of {}",
        photos.len()
    );
    let want = tree(&whole);

    let out_dir = dir.path().join("killed");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kmquant"))
        .args(args(&out_dir))
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once a few outputs exist, before it is done.
    let t0 = std::time::Instant::now();
    while tree(&out_dir).len() < 3 && t0.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = tree(&out_dir);
    assert!(
        partial.len() >= 3 && partial.len() < total,
        "killed with {} of {total} written",
        partial.len()
    );
    for (name, bytes) in &partial {
        assert!(want.get(name) == Some(bytes), "{name} is torn or differs");
    }
    // Run again: the finished files are skipped, the rest written.
    let mut again = args(&out_dir);
    again.push("--skip-existing".into());
    let out = kmquant().args(&again).assert().success();
    let redone = written_inputs(&out.get_output().stdout);
    assert_eq!(
        redone.len(),
        total - partial.len(),
        "only the unfinished inputs are redone"
    );
    assert!(
        tree(&out_dir) == want,
        "after the rerun the shard's outputs equal an uninterrupted run's"
    );
}
