//! The store and the commands that act on it.

use super::parse::parse_int;
use super::{lock, Session, Shared, DATABASES, NOAUTH, NOT_INT, SYNTAX, WRONGPASS, WRONGTYPE};
use crate::redis::resp::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type Db = HashMap<Vec<u8>, Entry>;

pub(super) struct Store {
    dbs: Vec<Db>,
}

impl Store {
    pub(super) fn new() -> Store {
        Store {
            dbs: (0..DATABASES).map(|_| Db::new()).collect(),
        }
    }
}

struct Entry {
    data: Data,
    expires: Option<Instant>,
}

enum Data {
    Str(Vec<u8>),
    Hash(Hash),
}

/// A hash that keeps insertion order, as small Redis hashes do.
#[derive(Default)]
struct Hash {
    fields: Vec<(Vec<u8>, Vec<u8>)>,
    index: HashMap<Vec<u8>, usize>,
}

impl Hash {
    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.index.get(field).map(|&i| self.fields[i].1.as_slice())
    }

    /// True when the field is new.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.index.get(field) {
            Some(&i) => {
                self.fields[i].1 = value.to_vec();
                false
            }
            None => {
                self.index.insert(field.to_vec(), self.fields.len());
                self.fields.push((field.to_vec(), value.to_vec()));
                true
            }
        }
    }
}

/// The entry under `key`, after removing it if it has expired.
fn live<'a>(db: &'a mut Db, key: &[u8], now: Instant) -> Option<&'a mut Entry> {
    if db
        .get(key)
        .is_some_and(|e| e.expires.is_some_and(|t| t <= now))
    {
        db.remove(key);
        return None;
    }
    db.get_mut(key)
}

// ---------------------------------------------------------------------------
// Commands.

fn err(msg: impl Into<String>) -> Value {
    Value::Error(msg.into())
}

fn ok() -> Value {
    Value::Simple("OK".into())
}

/// Redis's arity: `n` exactly `n` arguments (with the name), `-n` at least `n`.
fn arity(name: &[u8]) -> Option<i64> {
    Some(match name {
        b"ping" | b"quit" | b"flushdb" | b"flushall" => -1,
        b"dbsize" => 1,
        b"echo" | b"select" | b"get" | b"incr" | b"decr" | b"ttl" | b"pttl" | b"hgetall" => 2,
        b"incrby" | b"decrby" | b"hget" => 3,
        b"auth" | b"del" | b"exists" | b"client" => -2,
        b"set" | b"expire" => -3,
        b"hset" => -4,
        _ => return None,
    })
}

fn arity_ok(arity: i64, argc: usize) -> bool {
    let argc = i64::try_from(argc).unwrap_or(i64::MAX);
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

fn wrong_args(name: &str) -> Value {
    err(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

pub(super) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Redis's text: the name and the first arguments, about 128 bytes of each.
pub(super) fn unknown_command(args: &[Vec<u8>]) -> Value {
    let (name, rest) = args
        .split_first()
        .map_or((&[][..], &[][..]), |(n, r)| (n.as_slice(), r));
    let name = &name[..name.len().min(128)];
    let mut shown = String::new();
    for a in rest {
        if shown.len() >= 128 {
            break;
        }
        let room = 128 - shown.len();
        shown.push_str(&format!("'{}' ", lossy(&a[..a.len().min(room)])));
    }
    err(format!(
        "ERR unknown command '{}', with args beginning with: {shown}",
        lossy(name)
    ))
}

/// Answers one request; `true` closes the connection after the reply.
pub(super) fn execute(shared: &Shared, s: &mut Session, args: &[Vec<u8>]) -> (Value, bool) {
    let Some(first) = args.first() else {
        return (err("ERR empty request"), false);
    };
    let name = first.to_ascii_lowercase();
    let Some(arity) = arity(&name) else {
        return (unknown_command(args), false);
    };
    if !arity_ok(arity, args.len()) {
        return (wrong_args(&lossy(&name)), false);
    }
    if name == b"client" {
        let sub = args[1].to_ascii_lowercase();
        let want = match sub.as_slice() {
            b"setname" => 3,
            b"getname" => 2,
            _ => {
                let msg = format!(
                    "ERR unknown subcommand '{}'. Try CLIENT HELP.",
                    lossy(&args[1][..args[1].len().min(128)])
                );
                return (err(msg), false);
            }
        };
        if args.len() != want {
            return (wrong_args(&format!("client|{}", lossy(&sub))), false);
        }
    }
    if !s.authed && name != b"auth" && name != b"quit" {
        return (err(NOAUTH), false);
    }
    let reply = match name.as_slice() {
        b"ping" => match args {
            [_] => Value::Simple("PONG".into()),
            [_, msg] => Value::Bulk(msg.clone()),
            _ => wrong_args("ping"),
        },
        b"echo" => Value::Bulk(args[1].clone()),
        b"quit" => return (ok(), true),
        b"auth" => auth(shared, s, args),
        b"select" => select(s, &args[1]),
        b"client" => client(s, args),
        b"flushall" => flush_mode(args).map_or_else(
            |e| e,
            |()| {
                *lock(&shared.store) = Store::new();
                ok()
            },
        ),
        _ => {
            let mut store = lock(&shared.store);
            let db = &mut store.dbs[s.db];
            data_command(db, &name, args, Instant::now()).unwrap_or_else(|e| e)
        }
    };
    (reply, false)
}

fn auth(shared: &Shared, s: &mut Session, args: &[Vec<u8>]) -> Value {
    let (user, pass) = match args {
        [_, pass] => (None, pass),
        [_, user, pass] => (Some(user.as_slice()), pass),
        _ => return err(SYNTAX),
    };
    let default_user = user.is_none_or(|u| u == b"default");
    match &shared.password {
        None if user.is_none() => err(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        ),
        // Without a password the default user accepts any password.
        None if default_user => ok(),
        Some(p) if default_user && p.as_bytes() == pass.as_slice() => {
            s.authed = true;
            ok()
        }
        _ => err(WRONGPASS),
    }
}

fn select(s: &mut Session, arg: &[u8]) -> Value {
    let Some(n) = parse_int(arg) else {
        return err(NOT_INT);
    };
    if i32::try_from(n).is_err() {
        return err("ERR value is out of range, value must between -2147483648 and 2147483647");
    }
    match usize::try_from(n) {
        Ok(db) if db < DATABASES => {
            s.db = db;
            ok()
        }
        _ => err("ERR DB index is out of range"),
    }
}

fn client(s: &mut Session, args: &[Vec<u8>]) -> Value {
    if args[1].eq_ignore_ascii_case(b"getname") {
        return s.name.clone().map_or(Value::Nil, Value::Bulk);
    }
    let name = &args[2];
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return err("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    s.name = if name.is_empty() {
        None
    } else {
        Some(name.clone())
    };
    ok()
}

/// A reply, or an error reply as `Err` (so that `?` answers early).
type Reply = std::result::Result<Value, Value>;

impl Entry {
    fn string(&self) -> std::result::Result<&[u8], Value> {
        match &self.data {
            Data::Str(v) => Ok(v),
            Data::Hash(_) => Err(err(WRONGTYPE)),
        }
    }

    fn hash(&mut self) -> std::result::Result<&mut Hash, Value> {
        match &mut self.data {
            Data::Hash(h) => Ok(h),
            Data::Str(_) => Err(err(WRONGTYPE)),
        }
    }
}

fn count(n: usize) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The commands that touch the selected database.
fn data_command(db: &mut Db, name: &[u8], args: &[Vec<u8>], now: Instant) -> Reply {
    let key = args.get(1).map_or(&[][..], Vec::as_slice);
    Ok(match name {
        b"get" => match live(db, key, now) {
            None => Value::Nil,
            Some(e) => Value::Bulk(e.string()?.to_vec()),
        },
        b"set" => set(db, args, now)?,
        b"del" => count(
            args[1..]
                .iter()
                .filter(|k| live(db, k, now).is_some() && db.remove(k.as_slice()).is_some())
                .count(),
        ),
        b"exists" => count(
            args[1..]
                .iter()
                .filter(|k| live(db, k, now).is_some())
                .count(),
        ),
        b"incr" => incr_by(db, key, 1, now)?,
        b"decr" => incr_by(db, key, -1, now)?,
        b"incrby" | b"decrby" => {
            let by = parse_int(&args[2]).ok_or_else(|| err(NOT_INT))?;
            if name == b"incrby" {
                incr_by(db, key, by, now)?
            } else {
                let by = by
                    .checked_neg()
                    .ok_or_else(|| err("ERR decrement would overflow"))?;
                incr_by(db, key, by, now)?
            }
        }
        b"expire" => expire(db, args, now)?,
        b"ttl" | b"pttl" => Value::Int(match live(db, key, now).map(|e| e.expires) {
            None => -2,
            Some(None) => -1,
            Some(Some(t)) => {
                let ms = t.saturating_duration_since(now).as_millis();
                let ms = i64::try_from(ms).unwrap_or(i64::MAX);
                if name == b"ttl" {
                    ms.saturating_add(500) / 1000
                } else {
                    ms
                }
            }
        }),
        b"hget" => match live(db, key, now) {
            None => Value::Nil,
            Some(e) => e
                .hash()?
                .get(&args[2])
                .map_or(Value::Nil, |v| Value::Bulk(v.to_vec())),
        },
        b"hset" => {
            if args.len() % 2 != 0 {
                return Err(wrong_args("hset"));
            }
            if live(db, key, now).is_none() {
                let data = Data::Hash(Hash::default());
                db.insert(
                    key.to_vec(),
                    Entry {
                        data,
                        expires: None,
                    },
                );
            }
            let hash = db.get_mut(key).ok_or(Value::Nil)?.hash()?;
            count(
                args[2..]
                    .chunks_exact(2)
                    .filter(|fv| hash.set(&fv[0], &fv[1]))
                    .count(),
            )
        }
        b"hgetall" => match live(db, key, now) {
            None => Value::Array(Vec::new()),
            Some(e) => Value::Array(
                e.hash()?
                    .fields
                    .iter()
                    .flat_map(|(f, v)| [Value::Bulk(f.clone()), Value::Bulk(v.clone())])
                    .collect(),
            ),
        },
        b"dbsize" => {
            db.retain(|_, e| e.expires.is_none_or(|t| t > now));
            count(db.len())
        }
        b"flushdb" => {
            flush_mode(args)?;
            db.clear();
            ok()
        }
        _ => unknown_command(args),
    })
}

/// `FLUSHDB`/`FLUSHALL` take an optional `ASYNC` or `SYNC` (the same here).
fn flush_mode(args: &[Vec<u8>]) -> std::result::Result<(), Value> {
    match args {
        [_] => Ok(()),
        [_, m] if m.eq_ignore_ascii_case(b"async") || m.eq_ignore_ascii_case(b"sync") => Ok(()),
        _ => Err(err(SYNTAX)),
    }
}

/// The deadline `ms` milliseconds from `now` (`None`: already past), checked
/// as Redis does: the absolute Unix time must not overflow.
fn deadline(ms: i64, now: Instant, command: &str) -> std::result::Result<Option<Instant>, Value> {
    let invalid = || err(format!("ERR invalid expire time in '{command}' command"));
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    ms.checked_add(unix_ms).ok_or_else(invalid)?;
    match u64::try_from(ms) {
        Ok(ms) => now
            .checked_add(Duration::from_millis(ms))
            .map(Some)
            .ok_or_else(invalid),
        Err(_) => Ok(None),
    }
}

fn set(db: &mut Db, args: &[Vec<u8>], now: Instant) -> Reply {
    let (mut nx, mut xx, mut keepttl) = (false, false, false);
    let mut expire: Option<(bool, &[u8])> = None; // (in seconds, value)
    let mut i = 3;
    while i < args.len() {
        let opt = args[i].to_ascii_uppercase();
        let (is_ex, is_px) = match expire {
            Some((secs, _)) => (secs, !secs),
            None => (false, false),
        };
        match (opt.as_slice(), args.get(i + 1)) {
            (b"NX", _) if !xx => nx = true,
            (b"XX", _) if !nx => xx = true,
            (b"KEEPTTL", _) if expire.is_none() => keepttl = true,
            (b"EX", Some(v)) if !keepttl && !is_px => {
                expire = Some((true, v));
                i += 1;
            }
            (b"PX", Some(v)) if !keepttl && !is_ex => {
                expire = Some((false, v));
                i += 1;
            }
            _ => return Err(err(SYNTAX)),
        }
        i += 1;
    }
    let mut expires = None;
    if let Some((secs, v)) = expire {
        let n = parse_int(v).ok_or_else(|| err(NOT_INT))?;
        if n <= 0 || (secs && n > i64::MAX / 1000) {
            return Err(err("ERR invalid expire time in 'set' command"));
        }
        let ms = if secs { n * 1000 } else { n };
        // n > 0: never already past.
        expires = deadline(ms, now, "set")?;
    }
    let old = live(db, &args[1], now);
    if (nx && old.is_some()) || (xx && old.is_none()) {
        return Ok(Value::Nil);
    }
    if keepttl {
        expires = old.and_then(|e| e.expires);
    }
    let data = Data::Str(args[2].clone());
    db.insert(args[1].clone(), Entry { data, expires });
    Ok(ok())
}

fn incr_by(db: &mut Db, key: &[u8], by: i64, now: Instant) -> Reply {
    let (n, expires) = match live(db, key, now) {
        None => (0, None),
        Some(e) => (
            parse_int(e.string()?).ok_or_else(|| err(NOT_INT))?,
            e.expires,
        ),
    };
    let n = n
        .checked_add(by)
        .ok_or_else(|| err("ERR increment or decrement would overflow"))?;
    let data = Data::Str(n.to_string().into_bytes());
    db.insert(key.to_vec(), Entry { data, expires });
    Ok(Value::Int(n))
}

fn expire(db: &mut Db, args: &[Vec<u8>], now: Instant) -> Reply {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        match opt.to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => return Err(err(format!("ERR Unsupported option {}", lossy(opt)))),
        }
    }
    if nx && (xx || gt || lt) {
        return Err(err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(err(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let secs = parse_int(&args[2]).ok_or_else(|| err(NOT_INT))?;
    if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&secs) {
        return Err(err("ERR invalid expire time in 'expire' command"));
    }
    // `None` (already past) is "now".
    let new = deadline(secs * 1000, now, "expire")?.unwrap_or(now);
    let Some(entry) = live(db, &args[1], now) else {
        return Ok(Value::Int(0));
    };
    // No expiry counts as later than any deadline.
    let refused = match entry.expires {
        None => xx || gt,
        Some(cur) => nx || (gt && new <= cur) || (lt && new >= cur),
    };
    if refused {
        return Ok(Value::Int(0));
    }
    if new <= now {
        db.remove(args[1].as_slice());
    } else {
        entry.expires = Some(new);
    }
    Ok(Value::Int(1))
}
