//! `runner image --firmware`: the Raspberry Pi 4 boot files the kernel does not make, taken from
//! Debian's packages so that nobody has to fetch them by hand from another site:
//! - `start4.elf` and `fixup4.dat` (the GPU firmware that reads config.txt and loads the
//!   kernel) from `raspi-firmware`, in Debian's `non-free-firmware` component;
//! - `bcm2711-rpi-4-b.dtb` (the Pi 4's device tree, which the firmware fills in with the RAM
//!   size and passes to the kernel) from the arm64 kernel package `linux-image-arm64` depends
//!   on, the only Debian package that ships it.
//!
//! No overlay: Debian packages none, and `disable-bt` is not needed (the kernel routes UART0 to
//! GPIO 14/15 itself; see config.txt).
//!
//! The packages come through apt with a private state under the cache folder (its own
//! sources.list for bookworm arm64 `main non-free-firmware`, signed by the Debian archive
//! keyring): nothing on the system changes, no root needed. The three files are kept in the
//! cache with the package versions they came from, so later calls are offline.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::StartError;

/// The files, and where each lives in its package.
pub const FILES: [(&str, Package); 3] = [
    ("start4.elf", Package::Firmware),
    ("fixup4.dat", Package::Firmware),
    ("bcm2711-rpi-4-b.dtb", Package::Kernel),
];

/// The Debian package a file comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Package {
    /// `raspi-firmware` (non-free-firmware), files in `/usr/lib/raspi-firmware/`.
    Firmware,
    /// `linux-image-<version>-arm64`, files in `/usr/lib/linux-image-<version>-arm64/broadcom/`.
    Kernel,
}

/// The keyring that signs Debian's archive (package `debian-archive-keyring`).
pub const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// The suite and components the packages come from.
pub const SOURCE: &str = "http://deb.debian.org/debian bookworm main non-free-firmware";
/// The file in the cache naming the package versions the files came from.
const VERSIONS: &str = "VERSIONS";

/// The default cache folder: `<workspace>/target/firmware`.
pub fn default_cache(root: &Path) -> PathBuf {
    crate::build::target_dir(root).join("firmware")
}

/// The three files, fetched once into `cache/files`.
pub struct Fetched {
    /// Their paths in the cache, in [`FILES`] order.
    pub files: Vec<PathBuf>,
    /// `package version` lines, one per package.
    pub versions: String,
    /// Whether they were already in the cache.
    pub cached: bool,
}

fn err(msg: impl Into<String>) -> StartError {
    StartError(msg.into())
}

/// Runs a command, its output captured; on failure the error shows what it printed.
fn run(cmd: &mut Command, what: &str) -> Result<String, StartError> {
    let out = cmd.output().map_err(|e| {
        err(format!(
            "{what}: could not run {:?}: {e} (this needs apt-get and dpkg-deb, as on Debian or \
             Ubuntu; elsewhere copy start4.elf and fixup4.dat from \
             https://github.com/raspberrypi/firmware/tree/master/boot and \
             bcm2711-rpi-4-b.dtb from the same folder by hand)",
            cmd.get_program()
        ))
    })?;
    if !out.status.success() {
        return Err(err(format!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `apt-get` or `apt-cache` with `opts`, reading nothing.
fn apt_command(tool: &str, opts: &[String]) -> Command {
    let mut c = Command::new(tool);
    c.args(opts).stdin(Stdio::null());
    c
}

/// apt's options for a private state under `apt`, arm64 packages only.
fn apt_options(apt: &Path) -> Vec<String> {
    let d = |p: &str| apt.join(p).display().to_string();
    [
        format!("Dir::Etc::SourceList={}", d("sources.list")),
        format!("Dir::Etc::SourceParts={}", d("sources.list.d")),
        format!("Dir::Etc::Preferences={}", d("preferences")),
        format!("Dir::Etc::PreferencesParts={}", d("preferences.d")),
        format!("Dir::State::Lists={}", d("lists")),
        format!("Dir::Cache={}", d("cache")),
        "Dir::State::status=/dev/null".into(),
        "APT::Architecture=arm64".into(),
        "APT::Architectures::=arm64".into(),
        "Debug::NoLocking=1".into(),
    ]
    .into_iter()
    .flat_map(|o| ["-o".to_string(), o])
    .collect()
}

/// The kernel package `linux-image-arm64` depends on (`apt-cache depends` output).
pub fn kernel_package(depends: &str) -> Option<&str> {
    depends
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends:"))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-") && p.ends_with("-arm64"))
}

/// `name version` from a downloaded package's file name (`name_version_arch.deb`, with `:`
/// written `%3a`).
pub fn deb_version(file: &str) -> Option<(String, String)> {
    let stem = file.strip_suffix(".deb")?;
    let mut parts = stem.split('_');
    let (name, version) = (parts.next()?, parts.next()?);
    Some((name.to_string(), version.replace("%3a", ":")))
}

/// Fetches the files into `cache` unless they are there already.
pub fn fetch(cache: &Path) -> Result<Fetched, StartError> {
    let files_dir = cache.join("files");
    let files: Vec<PathBuf> = FILES.iter().map(|(f, _)| files_dir.join(f)).collect();
    if let Ok(versions) = std::fs::read_to_string(files_dir.join(VERSIONS))
        && files.iter().all(|f| f.is_file())
    {
        return Ok(Fetched {
            files,
            versions,
            cached: true,
        });
    }
    if !Path::new(KEYRING).is_file() {
        return Err(err(format!(
            "{KEYRING} is missing: install the package debian-archive-keyring \
             (`apt-get install debian-archive-keyring`), which checks the downloads"
        )));
    }
    let apt = cache.join("apt");
    for d in [
        "lists/partial",
        "cache/archives/partial",
        "sources.list.d",
        "preferences.d",
    ] {
        std::fs::create_dir_all(apt.join(d))
            .map_err(|e| err(format!("cannot create {}: {e}", apt.join(d).display())))?;
    }
    let list = format!("deb [arch=arm64 signed-by={KEYRING}] {SOURCE}\n");
    std::fs::write(apt.join("sources.list"), list)
        .map_err(|e| err(format!("cannot write {}: {e}", apt.display())))?;
    let opts = apt_options(&apt);
    run(
        apt_command("apt-get", &opts).args(["-q", "update"]),
        "apt-get update (Debian bookworm arm64, main non-free-firmware)",
    )?;
    let depends = run(
        apt_command("apt-cache", &opts).args(["depends", "linux-image-arm64"]),
        "apt-cache depends linux-image-arm64",
    )?;
    let kernel = kernel_package(&depends)
        .ok_or_else(|| err(format!("no kernel package in:\n{depends}")))?
        .to_string();
    let debs = cache.join("debs");
    let _ = std::fs::remove_dir_all(&debs);
    std::fs::create_dir_all(&debs)
        .map_err(|e| err(format!("cannot create {}: {e}", debs.display())))?;
    run(
        apt_command("apt-get", &opts)
            .args(["-q", "download", "raspi-firmware", &kernel])
            .current_dir(&debs),
        &format!("apt-get download raspi-firmware {kernel}"),
    )?;
    let mut versions = String::new();
    let extracted = cache.join("extracted");
    let _ = std::fs::remove_dir_all(&extracted);
    std::fs::create_dir_all(&extracted)
        .map_err(|e| err(format!("cannot create {}: {e}", extracted.display())))?;
    let entries = std::fs::read_dir(&debs)
        .map_err(|e| err(format!("cannot read {}: {e}", debs.display())))?;
    for deb in entries.flatten().map(|e| e.path()) {
        let name = deb.file_name().unwrap_or_default().to_string_lossy();
        let Some((package, version)) = deb_version(&name) else {
            continue;
        };
        versions.push_str(&format!("{package} {version}\n"));
        let member = if package == "raspi-firmware" {
            "./usr/lib/raspi-firmware/*4.*".to_string()
        } else {
            format!("./usr/lib/{package}/broadcom/bcm2711-rpi-4-b.dtb")
        };
        extract(&deb, &member, &extracted)?;
    }
    std::fs::create_dir_all(&files_dir)
        .map_err(|e| err(format!("cannot create {}: {e}", files_dir.display())))?;
    for ((file, package), dst) in FILES.iter().zip(&files) {
        let src = match package {
            Package::Firmware => extracted.join("usr/lib/raspi-firmware").join(file),
            Package::Kernel => extracted
                .join("usr/lib")
                .join(&kernel)
                .join("broadcom")
                .join(file),
        };
        std::fs::copy(&src, dst).map_err(|e| {
            err(format!(
                "{} is not in the package: {e}",
                src.strip_prefix(&extracted).unwrap_or(&src).display()
            ))
        })?;
    }
    std::fs::write(files_dir.join(VERSIONS), &versions)
        .map_err(|e| err(format!("cannot write {}: {e}", files_dir.display())))?;
    // The packages and apt's lists are not needed again (about 75 MB).
    let _ = std::fs::remove_dir_all(&debs);
    let _ = std::fs::remove_dir_all(&extracted);
    let _ = std::fs::remove_dir_all(&apt);
    Ok(Fetched {
        files,
        versions,
        cached: false,
    })
}

/// `dpkg-deb --fsys-tarfile DEB | tar -x MEMBER` into `dir`.
fn extract(deb: &Path, member: &str, dir: &Path) -> Result<(), StartError> {
    let mut dpkg = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("could not run dpkg-deb: {e}")))?;
    let tar_in = dpkg.stdout.take().map(Stdio::from).unwrap_or(Stdio::null());
    let r = run(
        Command::new("tar")
            .args(["-x", "--wildcards", "-C"])
            .arg(dir)
            .arg(member)
            .stdin(tar_in),
        &format!("extracting {member} from {}", deb.display()),
    );
    let _ = dpkg.wait();
    r.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_package_is_read_from_apt_cache_depends() {
        let out = "linux-image-arm64\n  Depends: linux-image-6.1.0-50-arm64\n";
        assert_eq!(kernel_package(out), Some("linux-image-6.1.0-50-arm64"));
        assert_eq!(kernel_package("linux-image-arm64\n"), None);
    }

    #[test]
    fn package_versions_come_from_file_names() {
        assert_eq!(
            deb_version("raspi-firmware_1.20220830+ds-1_all.deb"),
            Some(("raspi-firmware".into(), "1.20220830+ds-1".into()))
        );
        assert_eq!(
            deb_version("linux-image-6.1.0-50-arm64_6.1.176-1_arm64.deb"),
            Some(("linux-image-6.1.0-50-arm64".into(), "6.1.176-1".into()))
        );
        assert_eq!(
            deb_version("x_1%3a2.0_all.deb"),
            Some(("x".into(), "1:2.0".into()))
        );
        assert_eq!(deb_version("notes.txt"), None);
    }

    #[test]
    fn apt_gets_a_private_arm64_state() {
        let o = apt_options(Path::new("/c/apt"));
        assert!(o.contains(&"Dir::State::Lists=/c/apt/lists".to_string()));
        assert!(o.contains(&"APT::Architecture=arm64".to_string()));
        assert!(o.contains(&"Dir::State::status=/dev/null".to_string()));
        assert!(o.chunks(2).all(|p| p[0] == "-o"));
    }
}
