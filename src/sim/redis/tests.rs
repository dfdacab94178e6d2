use super::commands::{lossy, unknown_command};
use super::parse::parse_int;
use super::*;

fn parse_all(input: &[u8]) -> std::result::Result<Vec<Vec<Vec<u8>>>, String> {
    let limits = Limits::default().max_bulk(MAX_BULK).max_array(MAX_ARGS);
    let mut p = Parser::default();
    let mut used = 0;
    let mut out = Vec::new();
    loop {
        match p.step(&input[used..], &limits)? {
            Step::More => return Ok(out),
            Step::Used(n) => used += n,
            Step::Request(n, args) => {
                used += n;
                out.push(args);
            }
        }
    }
}

fn words(s: &[&str]) -> Vec<Vec<u8>> {
    s.iter().map(|w| w.as_bytes().to_vec()).collect()
}

#[test]
fn requests() {
    let ok: &[(&[u8], &[&[&str]])] = &[
        (b"*1\r\n$4\r\nPING\r\n", &[&["PING"]]),
        (b"PING\r\n", &[&["PING"]]),
        (b"  SET  a   b \n", &[&["SET", "a", "b"]]),
        (b"\r\n*0\r\n*-1\r\nPING\r\n", &[&["PING"]]),
        (b"ECHO \"a b\" 'c d'\r\n", &[&["ECHO", "a b", "c d"]]),
        (b"ECHO \"\\x41\\n\"\r\n", &[&["ECHO", "A\n"]]),
        (b"ECHO a\"b c\"\r\n", &[&["ECHO", "ab c"]]),
        (
            b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n*1\r\n$4\r\nPING",
            &[&["ECHO", ""]],
        ),
    ];
    for (input, want) in ok {
        let want: Vec<_> = want.iter().map(|w| words(w)).collect();
        assert_eq!(parse_all(input), Ok(want), "{:?}", lossy(input));
    }
    let bad: &[(&[u8], &str)] = &[
        (b"*1\r\n+PING\r\n", "expected '$', got '+'"),
        (b"*x\r\n", "invalid multibulk length"),
        (b"*99999999999\r\n", "invalid multibulk length"),
        (b"*1\r\n$-1\r\n", "invalid bulk length"),
        (b"*1\r\n$600000000\r\n", "invalid bulk length"),
        (b"*1\r\n$4\r\nPINGxx", "bulk string not followed by CRLF"),
        (b"ECHO \"a b\r\n", "unbalanced quotes in request"),
        (b"ECHO \"a\"b\r\n", "unbalanced quotes in request"),
    ];
    for (input, want) in bad {
        assert_eq!(
            parse_all(input),
            Err(want.to_string()),
            "{:?}",
            lossy(input)
        );
    }
    assert_eq!(
        parse_all(&vec![b'a'; MAX_INLINE]),
        Err("too big inline request".into())
    );
}

#[test]
fn byte_by_byte() {
    let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nGET k\r\n";
    let limits = Limits::default();
    let mut p = Parser::default();
    let (mut buf, mut got) = (Vec::new(), Vec::new());
    for &b in input {
        buf.push(b);
        loop {
            match p.step(&buf, &limits).unwrap() {
                Step::More => break,
                Step::Used(n) => drop(buf.drain(..n)),
                Step::Request(n, args) => {
                    buf.drain(..n);
                    got.push(args);
                }
            }
        }
    }
    assert_eq!(
        got,
        vec![words(&["SET", "k", "hello"]), words(&["GET", "k"])]
    );
}

/// Feeds `input` to a fresh connection in pieces of the given sizes
/// (cycled), as reads would deliver it; returns the replies.
fn feed_in_pieces(shared: &Shared, input: &[u8], pieces: &[usize]) -> Vec<u8> {
    let mut conn = Conn::new(shared);
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    let mut rest = input;
    for &k in pieces.iter().cycle() {
        let (piece, tail) = rest.split_at(k.clamp(1, rest.len().max(1)).min(rest.len()));
        rest = tail;
        buf.extend_from_slice(piece);
        let mut flush = |_: &mut Vec<u8>| Ok(());
        let (used, close) = conn
            .feed(shared, &Faults::default(), &buf, &mut out, &mut flush)
            .unwrap();
        buf.drain(..used);
        if close || rest.is_empty() {
            return out;
        }
    }
    unreachable!()
}

/// Random request streams (from a fixed seed), some cut short and
/// corrupted, through the code a connection runs, with and without a
/// password: errors are fine, panics are not, every input is answered
/// quickly, and reads of any size give the same replies.
#[test]
fn random_input_never_panics() {
    let mut words: Vec<&[u8]> = "GET SET DEL INCR INCRBY DECRBY EXPIRE TTL PTTL EXISTS HGET \
         HSET HGETALL SELECT AUTH CLIENT SETNAME GETNAME PING ECHO DBSIZE FLUSHDB FLUSHALL \
         QUIT EX PX NX XX GT LT KEEPTTL k h pw 0 -1 15 16 1.5 9223372036854775807 \
         -9223372036854775808 \" ' * $ *-1 *0 *2 $-1 $0 $3 \\x4"
        .split(' ')
        .map(str::as_bytes)
        .collect();
    words.extend([&b""[..], b"\r\n", b"\n", b"\x00\xff"]);
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usize::try_from(seed % n as u64).unwrap()
    };
    let mut slowest = Duration::ZERO;
    for round in 0..20_000 {
        let mut input = Vec::new();
        for _ in 0..1 + next(4) {
            let argc = next(6);
            let args: Vec<&[u8]> = (0..argc).map(|_| words[next(words.len())]).collect();
            if next(2) == 0 {
                resp::encode_command(&args, &mut input);
            } else {
                input.extend(args.join(&b' '));
                input.extend_from_slice(b"\r\n");
            }
        }
        for _ in 0..next(3) {
            // Corrupt: overwrite, insert or cut a byte.
            let at = next(input.len() + 1);
            let byte = u8::try_from(next(256)).unwrap();
            match next(3) {
                0 if at < input.len() => input[at] = byte,
                1 => input.insert(at, byte),
                _ => input.truncate(at),
            }
        }
        let password = (round % 2 == 1).then(|| "pw".to_owned());
        let t = Instant::now();
        let whole = feed_in_pieces(&Shared::new(password.clone()), &input, &[usize::MAX]);
        slowest = slowest.max(t.elapsed());
        // Replies that depend on the clock may differ between two runs.
        if !input.windows(2).any(|w| w == b"TT" || w == b"PX") {
            let pieces = [1 + next(7), 1 + next(300)];
            let split = feed_in_pieces(&Shared::new(password), &input, &pieces);
            assert_eq!(split, whole, "{:?} in pieces {pieces:?}", lossy(&input));
        }
    }
    assert!(
        slowest < Duration::from_secs(2),
        "{slowest:?} for one input"
    );
}

#[test]
fn integers_like_string2ll() {
    for (s, want) in [
        ("0", Some(0)),
        ("-1", Some(-1)),
        ("9223372036854775807", Some(i64::MAX)),
        ("-9223372036854775808", Some(i64::MIN)),
        ("9223372036854775808", None),
        ("012", None),
        ("+1", None),
        ("-0", None),
        ("1.0", None),
        (" 1", None),
        ("", None),
        ("-", None),
    ] {
        assert_eq!(parse_int(s.as_bytes()), want, "{s:?}");
    }
}

#[test]
fn unknown_command_text_is_truncated_like_redis() {
    let long = "a".repeat(200);
    let v = unknown_command(&words(&["FOO", &"a".repeat(100), &"b".repeat(100), "c"]));
    let want = format!(
        "ERR unknown command 'FOO', with args beginning with: '{}' '{}' ",
        "a".repeat(100),
        "b".repeat(25)
    );
    assert_eq!(v, Value::Error(want));
    let v = unknown_command(&words(&[&long]));
    assert_eq!(
        v,
        Value::Error(format!(
            "ERR unknown command '{}', with args beginning with: ",
            "a".repeat(128)
        ))
    );
}
