//! `runner`: see `runner --help` and the `runner` library docs.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use runner::cli::{self, Cmd, Source};
use runner::{Board, STATUS_START_FAILED, STATUS_USAGE, build, image, script};

fn code(status: i32) -> ExitCode {
    ExitCode::from(u8::try_from(status).unwrap_or(STATUS_START_FAILED as u8))
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("runner: {msg}");
    code(STATUS_START_FAILED)
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let cmd = match cli::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("runner: {e}\n\n{}", cli::USAGE);
            return code(STATUS_USAGE);
        }
    };
    let root = build::workspace_root();
    match cmd {
        Cmd::Help => {
            print!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Cmd::Build { boards } => {
            for b in boards {
                match build::build(&root, b, false) {
                    Ok(p) => println!("{b}: {}", p.display()),
                    Err(e) => return fail(e),
                }
            }
            ExitCode::SUCCESS
        }
        Cmd::Image {
            out,
            kernel,
            firmware,
        } => {
            let img = match kernel {
                Some(k) => k,
                None => match build::build(&root, Board::Rpi4, false) {
                    Ok(p) => p,
                    Err(e) => return fail(e),
                },
            };
            let out = out.unwrap_or_else(|| image::default_out(&root));
            let fetched = if firmware {
                let cache = runner::firmware::default_cache(&root);
                eprintln!(
                    "runner: firmware and device tree from Debian ({}), cached in {}",
                    runner::firmware::SOURCE,
                    cache.display()
                );
                match runner::firmware::fetch(&cache) {
                    Ok(f) => Some(f),
                    Err(e) => return fail(e),
                }
            } else {
                None
            };
            let extra = fetched.as_ref().map_or(&[][..], |f| &f.files[..]);
            let listed = image::write_sd_folder(&img, &out, extra)
                .and_then(|files| image::list(&files, &out));
            match listed {
                Ok(listed) => {
                    let versions = fetched.as_ref().map(|f| f.versions.as_str());
                    println!("{}", image::instructions(&out, &listed, versions));
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Cmd::Bench { board, opts, out } => code(runner::bench::run_bench(board, &opts, out)),
        Cmd::Profile {
            board,
            opts,
            profile,
        } => code(runner::profile::run_profile(board, &opts, &profile)),
        Cmd::Check { opts } => code(runner::check::run_check(&opts)),
        Cmd::BenchCheck { check } => code(runner::bench::run_check(&check)),
        Cmd::Trace {
            source,
            board,
            opts,
            out,
        } => {
            let Source::File(path) = source else {
                return code(STATUS_USAGE);
            };
            let text = match std::fs::read(&path) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("runner: cannot read script {}: {e}", path.display());
                    return code(STATUS_USAGE);
                }
            };
            let o = script::run_script(board, &text, &opts);
            if let Some(m) = &o.message {
                eprintln!("\n{m}");
            }
            let dir = out.unwrap_or_else(|| root.join("target").join("trace"));
            let stem = path
                .file_stem()
                .map_or_else(|| "trace".into(), |s| s.to_string_lossy().into_owned());
            let log = dir.join(format!("{stem}.log"));
            if let Err(e) =
                std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&log, &o.bytes))
            {
                return fail(format!("{}: {e}", log.display()));
            }
            match runner::export::export(&o.transcript, &dir, &stem) {
                Ok(w) => {
                    eprintln!(
                        "runner: {} events: transcript {}, Perfetto/Chrome JSON {} ({}), CTF {}",
                        w.events,
                        log.display(),
                        w.json.display(),
                        counts(&w.checked),
                        w.ctf.display()
                    );
                    code(o.status)
                }
                Err(e) => {
                    eprintln!("runner: no trace exported from {}: {e}", log.display());
                    code(1)
                }
            }
        }
        Cmd::TraceExport { file, out } => {
            let text = match std::fs::read(&file) {
                Ok(v) => String::from_utf8_lossy(&v).into_owned(),
                Err(e) => return fail(format!("cannot read {}: {e}", file.display())),
            };
            let dir = out.unwrap_or_else(|| {
                file.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map_or_else(|| ".".into(), Path::to_path_buf)
            });
            let stem = file
                .file_stem()
                .map_or_else(|| "trace".into(), |s| s.to_string_lossy().into_owned());
            match runner::export::export(&text, &dir, &stem) {
                Ok(w) => {
                    eprintln!(
                        "runner: {} events: {} ({}) and {}",
                        w.events,
                        w.json.display(),
                        counts(&w.checked),
                        w.ctf.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("runner: {e}");
                    code(1)
                }
            }
        }
        Cmd::Soak { board, opts } => {
            let o = runner::soak::run_soak(board, &opts);
            let log = opts.log.clone().unwrap_or_else(|| {
                root.join("target")
                    .join("soak")
                    .join(format!("{board}-{}.log", opts.seed))
            });
            let written = log
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&log, &o.transcript));
            if let Err(e) = written {
                eprintln!("runner: {}: {e}", log.display());
            }
            println!("{}", o.summary);
            if o.status != 0 {
                eprintln!(
                    "runner: soak failed; transcript in {}; rerun with --seed {}",
                    log.display(),
                    opts.seed
                );
            }
            code(o.status)
        }
        Cmd::Push { board, tty, opts } => {
            let o = match &tty {
                Some(dev) => runner::push::push_tty(board, dev, &opts),
                None => runner::push::push_qemu(board, &opts),
            };
            if let Some(m) = &o.message {
                eprintln!("\n{m}");
            }
            code(o.status)
        }
        Cmd::Run { board, opts } => match script::run_interactive(board, &opts) {
            Ok(st) => code(st),
            Err(e) => fail(e),
        },
        Cmd::Script {
            source,
            board,
            opts,
        } => {
            let text = match &source {
                Source::Stdin => {
                    let mut v = Vec::new();
                    if let Err(e) = std::io::stdin().read_to_end(&mut v) {
                        return fail(format!("reading the script from stdin: {e}"));
                    }
                    v
                }
                Source::File(p) => match std::fs::read(p) {
                    Ok(v) => v,
                    Err(e) => {
                        eprintln!("runner: cannot read script {}: {e}", p.display());
                        return code(STATUS_USAGE);
                    }
                },
            };
            let o = script::run_script(board, &text, &opts);
            if let Some(s) = &o.symbols {
                // After the transcript, on stdout with it: where the reported addresses are.
                let nl = if o.bytes.last().is_some_and(|&b| b != b'\n') {
                    "\n"
                } else {
                    ""
                };
                print!("{nl}{s}");
            }
            if let Some(m) = &o.message {
                // Start the message on its own line even if the transcript ended mid-line.
                let nl = if o.bytes.last().is_some_and(|&b| b != b'\n') {
                    "\n"
                } else {
                    ""
                };
                eprintln!("{nl}{m}");
            }
            if o.watchdog > 0 && !opts.fail_on_watchdog {
                eprintln!(
                    "runner: the kernel's watchdog reported {} time(s)",
                    o.watchdog
                );
            }
            code(o.status)
        }
    }
}

/// What an exported JSON holds, for the runner's last line.
fn counts(c: &runner::export::perfetto::Checked) -> String {
    format!(
        "{} tracks, {} slices, {} flows",
        c.tracks, c.slices, c.flows
    )
}
