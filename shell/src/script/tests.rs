//! The language end to end: whole sessions over the fake IO (see `crate::tests::fakes`).

use std::string::{String, ToString};
use std::vec::Vec;

use crate::Exit;
use crate::tests::fakes::{Rng, script, terminal};

/// The output lines of a script, without prompt and continuation lines.
fn run(input: &str) -> (Exit, Vec<String>) {
    let s = script(input.as_bytes());
    let mut lines: Vec<String> = s
        .output_lines()
        .into_iter()
        .filter(|l| !l.starts_with(super::CONT_PROMPT))
        .collect();
    assert_eq!(lines.pop().as_deref(), Some(""), "{input:?}");
    (s.exit, lines)
}

fn out(input: &str) -> Vec<String> {
    run(input).1
}

#[test]
fn variables_and_expansion() {
    assert_eq!(
        out("x=5\necho $x ${x}y \"[$x]\" '$x' \\$x\n"),
        ["5 5y [5] $x $x"]
    );
    assert_eq!(out("set a=1 b=two\necho $a $b\n"), ["1 two"]);
    assert_eq!(
        out("x='a  b'\necho $x|\n").len(),
        1,
        "one word, no splitting"
    );
    assert_eq!(out("x='a  b'\necho \"$x\"\n"), ["a  b"]);
    assert_eq!(out("e=\"\"\necho x $e y \"$e\" z\n"), ["x y  z"]);
    assert_eq!(out("x=1\nx=2\nvars\n"), ["x=2"]);
    assert_eq!(out("x='it''s'\nvars\n"), ["x=its"]);
    assert_eq!(out("x=\"a b\"\nvars\n"), ["x='a b'"]);
    assert_eq!(
        out("echo $nope\necho $?\n"),
        ["error: 'nope' is not set", "1"]
    );
    assert_eq!(
        out("x=1\nunset x\necho $x\nunset x\necho $?\n"),
        [
            "error: 'x' is not set",
            "error: unset: no variable or function 'x'",
            "1"
        ]
    );
    assert_eq!(
        out("x=1 echo hi\necho $?\n"),
        [
            "error: 'x=...' before a command: put the assignment on a line of its own",
            "2"
        ]
    );
    assert_eq!(out("echo a=b $ 5$ ${?}\n"), ["a=b $ 5$ 0"]);
    assert_eq!(
        out("echo ${x-y}\necho $?\n"),
        ["error: bad substitution '${x-y}'", "2"]
    );
}

#[test]
fn arithmetic() {
    assert_eq!(
        out("x=3\necho $((x*2+1)) $(( (x+1) % 3 )) $(($x-10)) $((0x10))\n"),
        ["7 1 -7 16"]
    );
    assert_eq!(out("i=0\ni=$((i+1))\ni=$((i+1))\necho $i\n"), ["2"]);
    assert_eq!(
        out("echo $((1/0))\necho $?\n"),
        ["error: $((1/0)): division by zero", "1"]
    );
    assert_eq!(
        out("w=abc\necho $((w+1))\n"),
        ["error: $((w+1)): 'w' is not a number ('abc')"]
    );
    assert_eq!(out("echo $((1+\n"), ["error: unterminated '$(('"]);
}

#[test]
fn if_elif_else_over_several_lines() {
    let s = script(b"x=2\nif [ $x -eq 1 ]; then\n  echo one\nelif [ $x -eq 2 ]\nthen\n  echo two\nelse\n  echo other\nfi\necho $?\n");
    let t = s.transcript();
    assert!(
        t.contains("rtos> if [ $x -eq 1 ]; then\r\n>   echo one\r\n> elif"),
        "continuation prompt: {t:?}"
    );
    assert_eq!(
        out(
            "x=2\nif [ $x -eq 1 ]; then echo one; elif [ $x -eq 2 ]; then echo two; else echo other; fi\n"
        ),
        ["two"]
    );
    assert_eq!(out("if false; then echo a; else echo b; fi\n"), ["b"]);
    assert_eq!(out("if false; then echo a; fi\necho $?\n"), ["0"]);
    assert_eq!(out("if true\nthen\necho yes\nfi\n"), ["yes"]);
}

#[test]
fn while_until_and_break() {
    let script_text =
        "i=0\nwhile true; do\n  i=$((i+1))\n  if [ $i -ge 5 ]; then break; fi\ndone\necho $i\n";
    assert_eq!(out(script_text), ["5"]);
    assert_eq!(
        out("i=0\nuntil [ $i -eq 3 ]; do echo $i; i=$((i+1)); done\n"),
        ["0", "1", "2"]
    );
    assert_eq!(out("while false; do echo x; done\necho $?\n"), ["0"]);
}

#[test]
fn for_over_words_and_ranges() {
    assert_eq!(
        out("s=\nfor i in 1..4; do s=$s$i; done\necho $s\n"),
        ["1234"]
    );
    assert_eq!(
        out("s=\nfor i in 3..-1; do s=\"$s $i\"; done\necho $s\n"),
        [" 3 2 1 0 -1"]
    );
    assert_eq!(
        out("for w in a 'b c' d; do echo \"<$w>\"; done\n"),
        ["<a>", "<b c>", "<d>"]
    );
    assert_eq!(
        out("n=3\nfor i in 1..$n x; do echo $i; done\n"),
        ["1", "2", "3", "x"]
    );
    assert_eq!(
        out("for i in '1..3'; do echo $i; done\n"),
        ["1..3"],
        "quoted: a word"
    );
    assert_eq!(
        out("for i in 1..6; do\n  if [ $((i % 2)) -eq 0 ]; then continue; fi\n  echo $i\ndone\n"),
        ["1", "3", "5"]
    );
    assert_eq!(
        out(
            "for i in 1..3; do for j in 1..3; do if [ $j -eq 2 ]; then break 2; fi; echo $i$j; done; done\n"
        ),
        ["11"]
    );
    assert_eq!(
        out(
            "for i in 1..2; do for j in 1..3; do if [ $j -eq 2 ]; then continue 2; fi; echo $i$j; done; done\n"
        ),
        ["11", "21"]
    );
}

#[test]
fn repeat() {
    assert_eq!(
        out("n=0\nrepeat 1000 do n=$((n+1)); done\necho $n\n"),
        ["1000"]
    );
    assert_eq!(
        out("k=2\nrepeat $((k*2)); do echo r; done\n"),
        ["r", "r", "r", "r"]
    );
    assert_eq!(out("repeat 0 do echo never; done\necho $?\n"), ["0"]);
    assert_eq!(
        out("repeat -1 do echo x; done\necho $?\n"),
        ["error: repeat: '-1' is not a count (0 or more)", "1"]
    );
}

#[test]
fn break_and_return_outside_their_construct_are_errors() {
    assert_eq!(
        out("break\necho $?\ncontinue\nreturn\n"),
        [
            "error: break: break outside a loop",
            "1",
            "error: continue: continue outside a loop",
            "error: return: return outside a function"
        ]
    );
    // A loop's `break` does not cross into a function called from it.
    assert_eq!(
        out("f() { break; }\nfor i in 1..2; do f; echo $i; done\n"),
        [
            "error: break: break outside a loop",
            "1",
            "error: break: break outside a loop",
            "2"
        ]
    );
}

#[test]
fn functions() {
    assert_eq!(
        out("f() { echo \"f:$1:$2:$#:$@\"; return 3; }\nf a 'b c'\necho $?\n"),
        ["f:a:b c:2:a b c", "3"]
    );
    assert_eq!(
        out("greet()\n{\n  echo hi $1\n}\ngreet bob\nvars\n"),
        ["hi bob", "greet()"]
    );
    assert_eq!(
        out("r() { r; }\nr\necho $?\n"),
        ["error: r: function calls nested too deep (max 16)", "1"]
    );
    assert_eq!(
        out("ps() { echo mine; }\necho $?\n"),
        ["error: function 'ps': a command has this name", "1"]
    );
    assert_eq!(out("f() { return; }\nfalse\nf\necho $?\n"), ["1"]);
    assert_eq!(
        out("f() { echo $1; }\nf\nunset f\nf\n"),
        ["", "error: unknown command 'f' (try 'help')"]
    );
}

#[test]
fn command_substitution() {
    assert_eq!(out("x=$(echo hi there)\necho \"[$x]\"\n"), ["[hi there]"]);
    assert_eq!(out("echo \"$(echo a; echo b)\"\n"), ["a", "b"]);
    // An error inside still reaches the console; the status is the inner command's.
    assert_eq!(
        out("x=$(bogus)\necho $? \"[$x]\"\n"),
        ["error: unknown command 'bogus' (try 'help')", "2 []"]
    );
    assert_eq!(out("echo $(echo $((6*7)))\n"), ["42"]);
    assert!(out("n=$(uptime --json)\necho ${n}\n")[0].starts_with("{\"uptime_ns\":"));
}

#[test]
fn and_or_not() {
    assert_eq!(
        out(
            "true && echo a || echo b\nfalse && echo c || echo d\n! false && echo e\n! true\necho $?\n"
        ),
        ["a", "d", "e", "1"]
    );
    assert_eq!(out("false ||\n  echo continued\n"), ["continued"]);
}

#[test]
fn test_command() {
    assert_eq!(
        out(
            "[ 3 -lt 5 ] && echo lt\n[ abc = abc ] && echo eq\n[ -z '' ] && echo empty\n[ -n x ] && echo full\ntest 2 -ge 3 || echo no\n[ ! 1 -eq 2 ] && echo not\n[ 1 -eq 1 -a 2 -eq 3 ] || echo and\n[ 1 -eq 2 -o 0x10 -eq 16 ] && echo or\n[ -5 -lt -4 ] && echo neg\n[ ] || echo nothing\n"
        ),
        [
            "lt", "eq", "empty", "full", "no", "not", "and", "or", "neg", "nothing"
        ]
    );
    assert_eq!(
        out("[ 1 -eq x ]\necho $?\n[ 1 -lt 2\necho $?\n[ 2 > 1 ]\n"),
        [
            "error: [: 'x' is not a number",
            "2",
            "error: [: missing ']'",
            "2",
            "error: [: unknown operator '>' (numbers: -lt -le -gt -ge)"
        ]
    );
}

#[test]
fn set_e_follows_posix_exceptions() {
    let (exit, l) = run(
        "set -e\nif false; then echo x; fi\nfalse || echo ok\n! true\nwhile false; do :; done\necho still\nfalse\necho never\n",
    );
    assert_eq!(l, ["ok", "still"]);
    assert_eq!(exit, Exit::Poweroff(1));
    // Inside a loop body it applies.
    let (exit, l) = run("set -e\nfor i in 1..3; do echo $i; [ $i -lt 2 ]; done\necho never\n");
    assert_eq!(l, ["1", "2"]);
    assert_eq!(exit, Exit::Poweroff(1));
}

#[test]
fn ctrl_c_ends_a_runaway_loop_and_what_was_typed_before_it() {
    let (exit, l) = run("x=0\nwhile true; do x=$((x+1)); done\n\x03echo after $?\n");
    assert_eq!(l, ["^C", "after 130"]);
    assert_eq!(exit, Exit::Poweroff(0));
    // An interrupted command inside a loop ends the loop too.
    let s = {
        let sys = crate::tests::fakes::FakeSystem::new();
        let mut io = crate::tests::fakes::FakeIo::new(&sys.clock);
        io.feed(b"repeat 100 do sleep 10ms; done\n");
        io.schedule(35_000_000, b"\x03echo after $?\n");
        crate::tests::fakes::run(io, sys)
    };
    let l = s.output_lines();
    assert_eq!(l[..2], ["^C", "after 130"], "{l:?}");
    let slept: u64 = s.sys.sleeps.iter().sum::<u64>() / 1_000_000;
    assert!(slept < 60, "stopped early: {slept} ms");
}

#[test]
fn ctrl_c_at_the_continuation_prompt_drops_the_construct() {
    assert_eq!(out("while true\n\x03echo after\n"), ["after"]);
    let s = terminal(b"\x1b[24;80R", b"if true\rthen echo no\r\x03echo yes\r");
    let text = s.io.text();
    assert!(text.contains("\x1b[J> t"), "continuation prompt: {text:?}");
    assert!(!text.contains("\rno\r\n"), "{text:?}");
    assert!(text.contains("\ryes\r\n"), "{text:?}");
}

#[test]
fn terminal_mode_runs_multi_line_constructs() {
    let s = terminal(b"\x1b[24;80R", b"for i in 1..3\rdo\recho n$i\rdone\r");
    let text = s.io.text();
    assert!(text.contains("\x1b[J> d"), "continuation prompt: {text:?}");
    assert!(text.contains("n1\r\nn2\r\nn3\r\n"), "{text:?}");
}

#[test]
fn syntax_errors_name_their_line() {
    assert_eq!(out("fi\necho $?\n"), ["error: unexpected 'fi'", "2"]);
    assert_eq!(
        out("echo a\nwhile true\ndo\ndone\n"),
        ["a", "error: line 4: empty loop body"]
    );
    assert_eq!(
        out("if true; then\necho a\nelse\nfi\n"),
        ["error: line 4: empty 'else' part"]
    );
    assert_eq!(
        out("echo a | b\n"),
        ["error: pipes ('|') are not supported; quote a literal '|'"]
    );
    assert_eq!(
        out("sleep 1 &\n"),
        ["error: background jobs ('&') are not supported"]
    );
    assert_eq!(
        out("for 1x in a; do echo; done\n"),
        ["error: 'for' needs a variable name"]
    );
    assert_eq!(out("echo (x)\n"), ["error: expected ')' after '('"]);
    assert_eq!(out("echo a (x)\n"), ["error: unexpected '('"]);
    let (exit, l) = run("if true; then\necho a\n");
    assert_eq!(l, ["error: end of input inside an unfinished construct"]);
    assert_eq!(exit, Exit::Poweroff(2));
}

#[test]
fn line_numbers() {
    assert_eq!(
        out("# one\n\necho $LINENO\nfor i in 1..2; do\n  echo $LINENO\ndone\n"),
        ["3", "5", "5"]
    );
}

#[test]
fn random_is_seeded_and_in_range() {
    assert_eq!(
        out(
            "RANDOM=7\na=$RANDOM\nRANDOM=7\nb=$RANDOM\n[ $a = $b ] && echo same\n[ $a -ge 0 -a $a -le 32767 ] && echo range\n"
        ),
        ["same", "range"]
    );
    assert_eq!(out("RANDOM=x\n"), ["error: RANDOM: 'x' is not a number"]);
}

#[test]
fn bounds_give_errors_not_exhaustion() {
    // Variables.
    let l = out("for i in 1..100; do set v$i=1; done\nvars\n");
    let errors = l
        .iter()
        .filter(|l| l.contains("too many variables (max 64)"))
        .count();
    assert_eq!(errors, 100 - 63, "{l:?}"); // `i` is one of the 64
    assert_eq!(l.iter().filter(|l| l.starts_with('v')).count(), 63);
    // Values.
    assert_eq!(
        out("x=0123456789\nrepeat 8 do x=$x$x; done\necho ${#}\n")[..1],
        ["error: word too long after expansion (max 1024 bytes)"]
    );
    // A construct's lines.
    let mut big = String::from("while true; do\n");
    for _ in 0..200 {
        big.push_str("echo 0123456789012345678901234567890123456789\n");
    }
    big.push_str("done\necho after\n");
    let l = out(&big);
    assert_eq!(l[0], "error: construct too long (max 8192 bytes); dropped");
    assert!(l.iter().any(|l| l == "after"));
    // Nesting.
    let deep = "if true; then ".repeat(17) + "echo x" + &"; fi".repeat(17) + "\n";
    assert_eq!(out(&deep), ["error: nested too deep (max 16)"]);
    let subst = "echo ".to_string() + &"$(echo ".repeat(20) + "x" + &")".repeat(20) + "\n";
    assert_eq!(out(&subst)[0], "error: '$(' nested too deep (max 16)");
    // Functions.
    let mut many = String::new();
    for i in 0..17 {
        many.push_str(&std::format!("f{i}() {{ true; }}\n"));
    }
    assert_eq!(
        out(&many),
        ["error: too many functions (max 16); unset some"]
    );
    // Output captured by $(...).
    assert_eq!(
        out("x=$(help)\necho $?\n"),
        ["error: output of $(...) too long (max 1024 bytes)", "1"]
    );
}

/// Random programs from the language's own words never panic, always end, and leave a shell
/// that answers (Ctrl-C drops whatever they left open). Loops are bounded ones only.
#[test]
fn random_programs() {
    const VOCAB: &[&str] = &[
        "if", "then", "elif", "else", "fi", "for", "i", "in", "1..3", "repeat", "2", "do", "done",
        "{", "}", "(", ")", ";", "\n", "&&", "||", "!", "echo", "x=1", "$x", "$((", "))", "$(",
        ")", "break", "continue", "return", "f()", "f", "'", "\"", "\\", "[", "]", "-eq", "true",
        "false", "$?", "$1", "${", "set", "-e", "unset", "vars", "test", "#", "$RANDOM",
    ];
    for seed in 0..300 {
        let mut rng = Rng::new(seed);
        let mut text = String::new();
        for _ in 0..60 {
            text.push_str(VOCAB[rng.next() as usize % VOCAB.len()]);
            text.push(' ');
        }
        // `set -e` may end the shell early: that is a legal outcome. Otherwise the probe runs.
        text.push_str("\n\x03\nset +e\necho ok-probe\n");
        let s = script(text.as_bytes());
        let t = s.transcript();
        let ended_by_set_e = text.contains("set -e") || text.contains("-e");
        assert!(
            t.contains("\r\nok-probe\r\n") || ended_by_set_e,
            "seed {seed}: {text:?}\n{t}"
        );
    }
}
