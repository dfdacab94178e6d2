//! The sans-IO side of a request: [`Exchange`], which the community
//! (v1/v2c) session here and the SNMPv3 session
//! ([`Session`](super::session::Session)) implement, so that the client's
//! socket loop only sends, receives and keeps time, the same for every
//! version.

use super::community::{self, NotOurs, RequestCache};
use super::{Body, Message, Oid, Pdu, PduKind, SnmpError, Value, VarBind, Version};
use crate::{Error, Phase};
use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// What a received datagram means to the request waiting for it.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// The response.
    Reply(Pdu),
    /// Not for us, late, forged or broken: drop it and keep waiting.
    Drop(Cow<'static, str>),
    /// Discovery done, or the clock resynchronised: send the request again
    /// now (with a fresh msgID), without counting a retry.
    Again,
    /// A report that ends the request.
    Fail(SnmpError),
}

/// What a request carries: OIDs with NULL values (GET, GETNEXT, GETBULK)
/// or whole variable bindings (SET).
#[derive(Clone, Copy)]
pub(crate) enum Req<'a> {
    Oids(&'a [Oid]),
    Binds(&'a [VarBind]),
}

impl Req<'_> {
    /// The OID at position `i`.
    pub(crate) fn oid(&self, i: usize) -> Option<&Oid> {
        match self {
            Req::Oids(o) => o.get(i),
            Req::Binds(b) => b.get(i).map(|vb| &vb.oid),
        }
    }

    fn varbinds(&self) -> Vec<VarBind> {
        match self {
            Req::Oids(o) => o
                .iter()
                .map(|o| VarBind::new(o.clone(), Value::Null))
                .collect(),
            Req::Binds(b) => b.to_vec(),
        }
    }
}

/// One request, whatever its attempts' request-ids.
#[derive(Clone, Copy)]
pub(crate) struct Request<'a> {
    pub(crate) kind: PduKind,
    pub(crate) req: Req<'a>,
    /// GETBULK: non-repeaters.
    pub(crate) error_status: i32,
    /// GETBULK: max-repetitions.
    pub(crate) error_index: i32,
}

impl Request<'_> {
    /// The PDU of the attempt with request-id `id`.
    pub(crate) fn pdu(&self, id: i32) -> Pdu {
        Pdu {
            kind: self.kind,
            request_id: id,
            error_status: self.error_status,
            error_index: self.error_index,
            varbinds: self.req.varbinds(),
        }
    }

    /// The OIDs sent (NULL values), whose equals in the reply are reused.
    fn sent(&self) -> &[Oid] {
        match self.req {
            Req::Oids(o) => o,
            Req::Binds(_) => &[],
        }
    }
}

/// How a request's attempts went, for the error after the last one.
pub(crate) struct Tries {
    pub(crate) peer: SocketAddr,
    pub(crate) attempts: u64,
    pub(crate) timeout: Duration,
}

/// One version's protocol logic for a client: encodes each attempt of a
/// request and says what each datagram received means to it.
pub(crate) trait Exchange {
    /// A new request begins.
    fn begin(&mut self) {}

    /// The datagram of the attempt with request-id `id` (written into `out`,
    /// or kept by the session).
    fn encode<'s>(&'s mut self, request: &Request<'_>, id: i32, out: &'s mut Vec<u8>) -> &'s [u8];

    /// What `datagram` means to the attempt with request-id `id`.
    fn decode(&mut self, datagram: &[u8], request: &Request<'_>, id: i32) -> Incoming;

    /// After a timeout: true when further attempts cannot help.
    fn hopeless(&self) -> bool {
        false
    }

    /// Every attempt timed out: the error that says what that most likely
    /// means.
    fn timed_out(&mut self, tries: &Tries) -> Error;
}

/// A v1/v2c session: the version and community, the last short request
/// (re-sent with a new request-id only), and whether the agent ever answered.
pub(crate) struct Community {
    version: Version,
    community: Box<[u8]>,
    cache: Box<RequestCache>,
    /// The last request sent is the cache's (replies are first checked
    /// against it).
    mirror: bool,
    /// The agent answered at least once (so a timeout is not a wrong
    /// community).
    answered: bool,
}

impl Community {
    pub(crate) fn new(version: Version, community: &[u8]) -> Community {
        Community {
            version,
            community: community.into(),
            cache: Box::new(RequestCache::new()),
            mirror: false,
            answered: false,
        }
    }

    /// A SET: its whole message, built from the bindings.
    #[inline(never)]
    fn encode_binds(&mut self, request: &Request<'_>, id: i32, out: &mut Vec<u8>) {
        self.mirror = false;
        Message {
            version: self.version,
            community: self.community.to_vec(),
            body: Body::Pdu(request.pdu(id)),
        }
        .encode(out)
    }

    /// A reply not checked against the cached request (or that check
    /// failed): the general decoder.
    #[inline(never)]
    fn decode_other(&mut self, datagram: &[u8], request: &Request<'_>, id: i32) -> Incoming {
        match community::decode_reply(datagram, self.version, &self.community, id, request.sent()) {
            Ok(p) => {
                self.answered = true;
                Incoming::Reply(p)
            }
            Err(NotOurs::Other(why)) => Incoming::Drop(Cow::Borrowed(why)),
            Err(NotOurs::Malformed(e)) => Incoming::Drop(Cow::Owned(format!("malformed ({e})"))),
        }
    }
}

// `encode` and `decode` are inlined into the client's socket loop for the
// common case (a cached request, a reply that mirrors it: as cheap as when
// the loop did it itself); SET and the general decoder are calls.
impl Exchange for Community {
    #[inline]
    fn encode<'s>(&'s mut self, request: &Request<'_>, id: i32, out: &'s mut Vec<u8>) -> &'s [u8] {
        out.clear();
        let Req::Oids(oids) = request.req else {
            self.encode_binds(request, id, out);
            return out;
        };
        let (version, community) = (self.version, &self.community[..]);
        let ids = [id, request.error_status, request.error_index];
        self.mirror = self
            .cache
            .encode(version, community, request.kind, ids, oids);
        if self.mirror {
            return self.cache.bytes();
        }
        community::encode_request(out, version, community, request.kind, ids, oids);
        out
    }

    #[inline]
    fn decode(&mut self, datagram: &[u8], request: &Request<'_>, id: i32) -> Incoming {
        if self.mirror {
            if let Some(p) =
                community::decode_reply_mirror(datagram, &self.cache, id, request.sent())
            {
                self.answered = true;
                return Incoming::Reply(p);
            }
        }
        self.decode_other(datagram, request, id)
    }

    fn timed_out(&mut self, tries: &Tries) -> Error {
        if self.answered {
            return Error::Timeout(Phase::Read);
        }
        // v1/v2c agents drop requests with an unknown community without a
        // word: from here that looks like an agent that is not there.
        Error::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "no reply from {} in {} tries of {:?}: the agent is down \
                 or unreachable, or the community is wrong (agents silently drop \
                 requests with a community they do not know)",
                tries.peer, tries.attempts, tries.timeout
            ),
        ))
    }
}
