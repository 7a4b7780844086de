# Tasks for the ARM64 RTOS. `just` lists them; `just setup` installs what is missing.
#
# The kernel is always built with an explicit `--target aarch64-unknown-none-softfloat` (there is
# no global build target, so plain `cargo test` keeps working for the host crates).

set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments

kernel_target := "aarch64-unknown-none-softfloat"
kernel_pkgs := "-p bsp -p app -p qemu-virt -p rpi4 -p jump-label"
manifest := justfile_directory() / "Cargo.toml"
# The host-side runner (tests/src/main.rs); `runner --help` explains every command.
runner := "cargo run -q --manifest-path '" + manifest + "' -p tests --bin runner --"

# List the recipes.
default:
    @just --list --unsorted

# babeltrace2 reads the CTF traces `just trace` writes (a test runs it). Quiet when all is there.
[doc("Install what is missing: the pinned Rust toolchain, QEMU >= 9.0 with raspi4b, babeltrace2, junitparser.")]
setup:
    #!/usr/bin/env bash
    set -euo pipefail
    cd "{{ justfile_directory() }}"
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

    # Rust toolchain, targets and components from rust-toolchain.toml.
    if ! command -v rustup >/dev/null 2>&1; then
        echo "setup: rustup is missing; install it from https://rustup.rs and run \`just setup\` again" >&2
        exit 1
    fi
    tc=rust-toolchain.toml
    chan=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$tc")
    targets=$(sed -n 's/^targets *= *\[\(.*\)\]/\1/p' "$tc" | grep -o '"[^"]*"' | tr -d '"' | paste -sd, -)
    comps=$(sed -n 's/^components *= *\[\(.*\)\]/\1/p' "$tc" | grep -o '"[^"]*"' | tr -d '"' | paste -sd, -)
    have_t=$(rustup target list --installed --toolchain "$chan" 2>/dev/null || true)
    have_c=$(rustup component list --installed --toolchain "$chan" 2>/dev/null || true)
    missing=""
    [ -n "$have_c" ] || missing="toolchain $chan"
    for t in ${targets//,/ }; do grep -qx "$t" <<<"$have_t" || missing="$missing target $t"; done
    for c in ${comps//,/ }; do grep -q "^$c-" <<<"$have_c" || missing="$missing component $c"; done
    if [ -n "$missing" ]; then
        echo "setup: installing Rust $chan (missing:$missing)"
        rustup toolchain install "$chan" --profile minimal ${targets:+--target "$targets"} ${comps:+--component "$comps"}
    fi

    id=""; codename=""; like=""
    if [ -r /etc/os-release ]; then
        id=$(. /etc/os-release; echo "${ID:-}")
        like=$(. /etc/os-release; echo "${ID_LIKE:-}")
        codename=$(. /etc/os-release; echo "${VERSION_CODENAME:-}")
    fi
    apt_install() {
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
    }

    # babeltrace2 (a Debian package) reads the CTF traces; the export test runs it.
    if ! command -v babeltrace2 >/dev/null 2>&1; then
        if command -v apt-get >/dev/null 2>&1 && [[ "$id $like" == *debian* || "$id $like" == *ubuntu* ]]; then
            echo "setup: installing babeltrace2"
            apt_install babeltrace2
        else
            echo "setup: please install babeltrace2 (it reads the CTF traces of \`just trace\`), then run \`just setup\` again" >&2
            exit 1
        fi
    fi

    # junitparser (a Python package) reads the JUnit XML of `just check` in a test.
    if command -v python3 >/dev/null 2>&1 && ! python3 -c "import junitparser" 2>/dev/null; then
        echo "setup: installing the junitparser Python package (pip --user)"
        python3 -m pip install --quiet --user junitparser 2>/dev/null \
            || python3 -m pip install --quiet --user --break-system-packages junitparser \
            || echo "setup: could not install junitparser; the JUnit check will be skipped" >&2
    fi

    # QEMU with the raspi4b machine (QEMU >= 9.0).
    has_qemu() { command -v qemu-system-aarch64 >/dev/null 2>&1 && qemu-system-aarch64 -machine help 2>/dev/null | grep -q raspi4b; }
    if has_qemu; then exit 0; fi
    if [ "$id" = debian ] && [ "$codename" = bookworm ]; then
        # bookworm has QEMU 7.2 (no raspi4b); bookworm-backports has 10.x.
        if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
            uri=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n1 || true)
            [ -n "$uri" ] || uri=$(sed -n 's/^deb \+\(\[[^]]*\] \+\)\?\([^ ]*\) \+bookworm .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n1 || true)
            [ -n "$uri" ] || uri=http://deb.debian.org/debian
            echo "setup: adding bookworm-backports ($uri) for QEMU >= 9"
            printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
                | $sudo tee /etc/apt/sources.list.d/backports.sources >/dev/null
        fi
        apt_install -t bookworm-backports qemu-system-arm
    elif command -v apt-get >/dev/null 2>&1 && [[ "$id $like" == *debian* || "$id $like" == *ubuntu* ]]; then
        apt_install qemu-system-arm
    else
        echo "setup: please install QEMU >= 9.0 with qemu-system-aarch64 and its raspi4b machine" >&2
        echo "       (Fedora: dnf install qemu-system-aarch64; Arch: pacman -S qemu-system-aarch64;" >&2
        echo "        macOS: brew install qemu), then run \`just setup\` again" >&2
        exit 1
    fi
    if ! has_qemu; then
        echo "setup: the installed qemu-system-aarch64 has no raspi4b machine (needs QEMU >= 9.0):" >&2
        qemu-system-aarch64 --version >&2 || true
        exit 1
    fi

# Build both kernel images (virt ELF, rpi4 kernel8.img) into target/aarch64-unknown-none-softfloat/release.
build:
    @{{ runner }} build all

# Boot a board in QEMU on this terminal (Ctrl-] X quits; Ctrl-A is the line editor's). Extra args: --smp N, --kernel PATH, -- QEMU args.
[no-exit-message]
run board="virt" *args: setup
    @{{ runner }} run "$@"

# Run a shell script (a file, or - for stdin) in QEMU; exits with the guest's status (README: Running a script).
[no-cd]
[no-exit-message]
script file board="virt" *args: setup
    @{{ runner }} script "$@"

# The script traces (`trace start` ... `trace dump`); NAME.json opens in ui.perfetto.dev,
# NAME.ctf/ in babeltrace2.
[doc("Run a tracing script and export its dump: target/trace/NAME.{log,json,ctf/}.")]
[no-cd]
[no-exit-message]
trace file board="virt" *args: setup
    @{{ runner }} trace "$@"

# Front matter (`# check: boards= status= timeout= smp= skip=`) and `expect`: README, Test suites.
[doc("Run .rsh scripts as a suite (default tests/scripts): PASS/FAIL lines, --junit FILE, --jobs N.")]
[no-cd]
[no-exit-message]
check *args: setup
    @{{ runner }} check "$@"

# README: Raspberry Pi 4. Extra args: --out DIR (default target/rpi4-sd), --kernel PATH.
[doc("Write the Pi 4 SD-card folder: kernel8.img, config.txt; --firmware adds start4.elf, fixup4.dat, the dtb.")]
[no-cd]
image board="rpi4" *args:
    @{{ runner }} image "$@"

# README: Reloading the kernel over the serial line. Extra args: --tty DEV, --image PATH,
# --tag TEXT, --check, --timeout SECS, --kernel PATH (QEMU boots it first; default the fresh build).
[doc("Send a fresh kernel to the shell's `reload` (QEMU, or a real Pi 4 with --tty /dev/ttyUSB0).")]
[no-cd]
[no-exit-message]
push board="rpi4" *args: setup
    @{{ runner }} push "$@"

# A soak ends with one summary line; the transcript is in target/soak/BOARD-SEED.log.
[doc("Soak: a seeded random workload over every mechanism, checked from the kernel's counters: just soak rpi4 --minutes 60 --seed 7.")]
[no-exit-message]
soak board="virt" *args: setup
    @{{ runner }} soak "$@"

# The benchmarks are deterministic under -icount: a row >5% slower than bench/baseline.json fails.
[doc("Everything CI checks: host tests, lints, images, QEMU tests, the script suite and a 1-minute soak on both boards, loom, benchmarks.")]
test: setup
    cargo test
    {{ just_executable() }} lint
    {{ just_executable() }} clippy
    {{ runner }} build all
    cargo test -p tests --features qemu --test qemu
    {{ runner }} check tests/scripts --board all --junit target/junit.xml
    {{ runner }} soak virt --minutes 1 --seed 1
    {{ runner }} soak rpi4 --minutes 1 --seed 2
    python3 -c "import junitparser; x = junitparser.JUnitXml.fromfile('target/junit.xml'); print('junit: read back', sum(1 for s in x for c in s), 'test cases')"
    {{ just_executable() }} loom
    {{ just_executable() }} bench
    {{ just_executable() }} bench-check
    {{ just_executable() }} bench-trace-cost

# Benchmark suite under QEMU -icount (deterministic): table, image sizes, target/bench/<board>.json.
bench board="virt" *args:
    @{{ runner }} bench "$@"

# Where one iteration of a bench row spends its instructions, by function: two runs (--iters
# A,B, default 200,400) with every instruction logged, the difference per iteration.
[doc("Profile a bench row by function: just profile yield [--iters A,B] [--top N] [--inlined] [--annotate FN].")]
profile bench *args:
    @{{ runner }} profile {{ bench }} {{ args }}

# What the trace points cost while tracing is off: the suite on this image against the same
# kernel with every trace point compiled out (feature trace-off), three runs of each, taken in
# turns; fails if a row's best median is more than 2% above the other build's (the trace/ rows,
# which measure tracing itself, are left out). The best of three: the rows that are not exact vary
# by a few percent with the moment the suite's command arrives. delayed/ moves by up to 3.5% run
# to run (the timer trie's shape at that absolute time), more than the 2% checked: it is held to 5%.
[doc("Trace points' cost with tracing off: the suite with and without them compiled in, each row within 2% (delayed/ 5%).")]
bench-trace-cost:
    cargo build -q --release --target aarch64-unknown-none-softfloat -p qemu-virt --features trace-off
    mkdir -p target/trace-off target/bench
    cp target/aarch64-unknown-none-softfloat/release/qemu-virt target/trace-off/qemu-virt
    {{ runner }} build virt
    cp target/aarch64-unknown-none-softfloat/release/qemu-virt target/trace-off/qemu-virt-in
    for i in 1 2 3; do \
        {{ runner }} bench --kernel target/trace-off/qemu-virt --out target/bench/virt-trace-off-$i.json > /dev/null || exit 1; \
        {{ runner }} bench --kernel target/trace-off/qemu-virt-in --out target/bench/virt-trace-in-$i.json > /dev/null || exit 1; \
    done
    {{ runner }} bench-check --tolerance 2 --ignore trace/ --ignore delayed/ \
        --baseline target/bench/virt-trace-off-1.json --baseline target/bench/virt-trace-off-2.json --baseline target/bench/virt-trace-off-3.json \
        --current target/bench/virt-trace-in-1.json --current target/bench/virt-trace-in-2.json --current target/bench/virt-trace-in-3.json
    {{ runner }} bench-check --tolerance 5 --ignore trace/ \
        --baseline target/bench/virt-trace-off-1.json --baseline target/bench/virt-trace-off-2.json --baseline target/bench/virt-trace-off-3.json \
        --current target/bench/virt-trace-in-1.json --current target/bench/virt-trace-in-2.json --current target/bench/virt-trace-in-3.json

# Fail if any row's median in target/bench/virt.json is >5% above bench/baseline.json.
bench-check *args:
    @{{ runner }} bench-check "$@"

# Make the current virt result (run `just bench` first) the committed baseline, on purpose.
bench-baseline:
    mkdir -p bench
    cp target/bench/virt.json bench/baseline.json
    @echo "bench/baseline.json updated from target/bench/virt.json"

# README: Fuzzing. New random cases every round until the time is up; proptest keeps a failing
# case in its regressions folder under shell/ (replayed first by every later run, `just test` too).
# Targets: corpus (the test scripts mutated), plain, terminal (bytes as a serial line brings them),
# or all. --coverage runs under cargo-llvm-cov (installed if missing; about 3x slower) and prints
# the line and region coverage of the shell's input path at the end.
[doc("Fuzz the shell's input path (proptest): just fuzz [corpus|plain|terminal|all] [--minutes N] [--coverage].")]
fuzz *args:
    #!/usr/bin/env bash
    set -euo pipefail
    target=all; minutes=1; coverage=
    set -- {{ args }}
    while [ $# -gt 0 ]; do
        case "$1" in
            corpus|plain|terminal|all) target=$1 ;;
            --minutes) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] \
                || { echo "fuzz: --minutes needs a whole number of minutes (1 or more)" >&2; exit 2; }
                minutes=$2; shift ;;
            [1-9]*) [[ "$1" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: not a number of minutes: $1" >&2; exit 2; }
                minutes=$1 ;;
            --coverage) coverage=1 ;;
            *) echo "fuzz: unknown argument '$1' (targets: corpus plain terminal all; --minutes N, --coverage)" >&2; exit 2 ;;
        esac
        shift
    done
    case "$target" in
        corpus) filter=tests::fuzz::the_corpus_mutated_is_taken_in_plain_mode; n=1 ;;
        plain) filter=tests::fuzz::plain_mode_takes_any_bytes; n=1 ;;
        terminal) filter=tests::fuzz::terminal_mode_takes_any_bytes; n=1 ;;
        all) filter=tests::fuzz::; n=3 ;;
    esac
    cases=20000
    if [ -n "$coverage" ]; then
        command -v cargo-llvm-cov >/dev/null || cargo install --locked cargo-llvm-cov
        cargo llvm-cov clean --workspace
        run() { cargo llvm-cov --no-report -q -p shell -- "$filter"; }
    else
        cargo test -q -p shell --no-run
        run() { cargo test -q -p shell -- "$filter"; }
    fi
    end=$((SECONDS + minutes * 60)); rounds=0; log=$(mktemp)
    while [ "$SECONDS" -lt "$end" ]; do
        if ! PROPTEST_CASES=$cases run >"$log" 2>&1; then
            cat "$log"; echo "fuzz: failed after $((rounds * cases * n)) inputs (the case is kept under shell/)"; exit 1
        fi
        rounds=$((rounds + 1))
    done
    echo "fuzz: $((rounds * cases * n)) inputs in $minutes min ($target: $n target(s) x $cases a round, $rounds rounds), none failed"
    if [ -n "$coverage" ]; then
        # The input path: line reader, terminal detection and filter, tokenizer, arguments, language.
        cargo llvm-cov report -p shell --summary-only \
            | grep -E '^((reader|term|detect|parse|args|session)\.rs|script/)' \
            | awk 'BEGIN { print "input path file          regions  lines" } { printf "%-24s %7s %7s\n", $1, $4, $10 }'
    fi

# Scope and settings in .cargo/mutants.toml; the equivalent mutants are argued in
# MUTANTS.md. A hung fake kernel fails its test after RTOS_FAKE_RUN_LIMIT seconds.
# Extra arguments go to cargo mutants (e.g. --iterate to retest only what was not caught, -f FILE).
[doc("Mutation testing of the seed mechanisms (cargo-mutants, installed if missing): just mutants --iterate.")]
mutants *args:
    #!/usr/bin/env bash
    set -euo pipefail
    command -v cargo-mutants >/dev/null || cargo install --locked cargo-mutants@27.1.0
    # Resume from what earlier runs caught (kept in the repository) unless a run left its own.
    mkdir -p mutants.out
    [ -e mutants.out/caught.txt ] || [ -e mutants.out/previously_caught.txt ] \
        || cp rtos/mutants-caught.txt mutants.out/previously_caught.txt
    RTOS_FAKE_RUN_LIMIT=10 cargo mutants -j2 {{ args }}

# The models: UART ring, irq_work claim, lists and free, task_work add/cancel/run vs exit, work
# pool cancel/mod vs timer vs run.
[doc("Run the loom models (in their own target dir).")]
loom:
    RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="{{ justfile_directory() }}/target/loom" cargo test -p rtos --release --lib loom

# Import layering (tools/layers): no circle between the modules of rtos, shell, app, bsp; no shell in bsp.
lint:
    #!/usr/bin/env bash
    set -uo pipefail
    cd "{{ justfile_directory() }}"
    status=0
    cargo run -q -p layers -- rtos/src/lib.rs shell/src/lib.rs app/src/lib.rs || status=1
    cargo run -q -p layers -- bsp/src/lib.rs --forbid-crate shell || status=1
    # Not even through another crate: bsp's normal dependencies for the kernel target.
    if ! deps=$(cargo tree -q -p bsp --target {{ kernel_target }} -e normal --prefix none); then
        status=1
    elif grep -q '^shell v' <<<"$deps"; then
        echo "error: bsp depends on the shell crate (cargo tree -p bsp -e normal -i shell shows how)" >&2
        status=1
    fi
    exit "$status"

# Lints: host crates and tests, then the kernel crates for the kernel target; warnings are errors.
clippy:
    cargo clippy --all-targets -- -D warnings
    cargo clippy -p tests --all-targets --features qemu -- -D warnings
    cargo clippy --target {{ kernel_target }} {{ kernel_pkgs }} -- -D warnings

# Format everything (`just fmt --check` only checks).
fmt *args:
    cargo fmt --all "$@"

# API docs: host crates, then the kernel crates for the kernel target.
doc:
    cargo doc --no-deps
    cargo doc --no-deps --target {{ kernel_target }} {{ kernel_pkgs }}
