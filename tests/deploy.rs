//! Deployment as a station image or an installer lays it down: the systemd unit checked by systemd's own
//! tools, the installer staged into a root folder, its user and folders created by systemd-sysusers and
//! systemd-tmpfiles, and the default config valid against what was installed.

mod common;

use std::path::Path;
use std::process::Command;

fn bash(script: &str, args: &[&str]) -> std::process::Output {
    Command::new("bash").arg(common::root().join(script)).args(args).output().expect("run bash")
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn unit_passes_systemd_analyze_verify_and_the_exposure_target() {
    let o = bash("scripts/check-systemd.sh", &[env!("CARGO_BIN_EXE_cellgate")]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("systemd-analyze verify: clean"), "{out}");
    assert!(out.contains("exposure"), "{out}");
    // The station page's network drop-in keeps the unit under the exposure target too.
    assert!(out.contains("verify: clean (with the station page drop-in)"), "{out}");
    assert!(out.contains(") (with the station page drop-in)"), "{out}");
}

#[test]
fn a_broken_unit_is_caught_by_the_check() {
    // The check must be able to fail: the same unit with an invalid directive.
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = std::fs::read_to_string(common::root().join("systemd/cellgate.service")).expect("unit");
    let broken = unit.replace("Restart=on-failure", "Restart=sometimes");
    let path = dir.path().join("cellgate.service");
    std::fs::write(&path, broken.replace("/usr/bin/cellgate", env!("CARGO_BIN_EXE_cellgate"))).expect("write");
    let o = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&path).output().expect("verify");
    assert!(text(&o).contains("restart specifier"), "{}", text(&o));
}

fn stage(root: &Path) -> std::process::Output {
    let r = root.to_str().expect("utf-8 path");
    bash("scripts/install.sh", &["--root", r, "--bin", env!("CARGO_BIN_EXE_cellgate")])
}

#[test]
fn installer_stages_everything_keeps_site_config_and_uninstalls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let o = stage(root);
    assert!(o.status.success(), "{}", text(&o));
    for f in [
        "usr/bin/cellgate",
        "usr/lib/cellgate/libonnxruntime.so",
        "usr/lib/systemd/system/cellgate.service",
        "usr/lib/sysusers.d/cellgate.conf",
        "usr/lib/tmpfiles.d/cellgate.conf",
        "usr/lib/udev/rules.d/60-cellgate-gpio.rules",
        "etc/cellgate/station.json",
        "etc/cellgate/models/seal_classifier.onnx",
        "etc/cellgate/models/seal_classifier.encoder.onnx",
        "usr/share/cellgate/samples/seal/manifest.jsonl",
    ] {
        assert!(root.join(f).is_file(), "{f} not installed");
    }

    // The user, its groups and the state folders, as systemd creates them at boot.
    std::fs::write(root.join("etc/passwd"), "").expect("passwd");
    std::fs::write(root.join("etc/group"), "").expect("group");
    let o = Command::new("systemd-sysusers").arg(format!("--root={}", root.display())).output().expect("sysusers");
    assert!(o.status.success(), "{}", text(&o));
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).expect("passwd");
    let group = std::fs::read_to_string(root.join("etc/group")).expect("group");
    assert!(passwd.contains("cellgate:x:") && passwd.contains("/usr/sbin/nologin"), "{passwd}");
    assert!(group.lines().any(|l| l.starts_with("gpio:") && l.ends_with("cellgate")), "{group}");
    assert!(group.lines().any(|l| l.starts_with("video:") && l.ends_with("cellgate")), "{group}");
    let o = Command::new("systemd-tmpfiles")
        .arg(format!("--root={}", root.display()))
        .args(["--create"])
        .output()
        .expect("tmpfiles");
    assert!(o.status.success(), "{}", text(&o));
    assert!(root.join("var/lib/cellgate/model-store").is_dir() && root.join("var/lib/cellgate/ng").is_dir());

    // The default config names only files the installer laid down: valid once re-rooted into the stage.
    let cfg = std::fs::read_to_string(root.join("etc/cellgate/station.json")).expect("config");
    std::fs::create_dir_all(root.join("var/log/cellgate")).expect("logs dir (LogsDirectory=)");
    let rerooted = cfg.replace("\"/", &format!("\"{}/", root.display()));
    let staged_cfg = root.join("staged-station.json");
    std::fs::write(&staged_cfg, rerooted).expect("write");
    let o = Command::new(root.join("usr/bin/cellgate")).arg("check-config").arg(&staged_cfg).output().expect("check");
    assert!(o.status.success(), "{}", text(&o));

    // The camera station example (V4L2 + GPIO chip of a Jetson carrier) is valid once its reference is taken
    // (in the state folder: the service writes a taught one beside it).
    let example =
        std::fs::read_to_string(root.join("usr/share/cellgate/examples/station-camera.json")).expect("example");
    std::fs::create_dir_all(root.join("var/lib/cellgate/references")).expect("references dir (tmpfiles.d)");
    std::fs::copy(
        root.join("usr/share/cellgate/samples/seal/references/recipe-a.png"),
        root.join("var/lib/cellgate/references/recipe-a.png"),
    )
    .expect("reference");
    std::fs::write(&staged_cfg, example.replace("\"/", &format!("\"{}/", root.display()))).expect("write");
    let o = Command::new(root.join("usr/bin/cellgate")).arg("check-config").arg(&staged_cfg).output().expect("check");
    assert!(o.status.success(), "{}", text(&o));

    // A site's config survives a reinstall.
    std::fs::write(root.join("etc/cellgate/station.json"), "{\"site\": true}").expect("site config");
    let o = stage(root);
    assert!(o.status.success() && text(&o).contains("kept the existing"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(root.join("etc/cellgate/station.json")).expect("cfg"), "{\"site\": true}");

    let o = bash("scripts/install.sh", &["--root", root.to_str().expect("utf-8"), "--uninstall"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!root.join("usr/bin/cellgate").exists() && !root.join("usr/lib/systemd/system/cellgate.service").exists());
    assert!(root.join("etc/cellgate/station.json").exists(), "uninstall keeps the site config");
    let o = bash("scripts/install.sh", &["--root", root.to_str().expect("utf-8"), "--uninstall", "--purge"]);
    assert!(o.status.success() && !root.join("etc/cellgate").exists(), "{}", text(&o));
}
