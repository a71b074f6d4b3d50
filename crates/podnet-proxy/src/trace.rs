//! Simulated packets through a compiled table: a small interpreter of exactly the rule
//! statements this crate generates, following every random choice so that all DNAT
//! candidates are reported. Dynamic sets (session affinity) are taken as empty, as for
//! a client's first connection. Used by tests and by `podnet trace`.

use std::net::{Ipv4Addr, SocketAddrV4};

use podnet_nft::{Hook, Table};

/// A packet as it reaches the node: from a local pod / the network (prerouting) or
/// from a process on the node (output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: Protocol,
    pub dst_port: u16,
    pub origin: Origin,
    /// `dst` is an address of this node (what `fib daddr type local` answers).
    pub dst_is_local: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Network,
    LocalProcess,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No rule of the table changed or stopped the packet.
    NotAService,
    /// The connection is DNATed to one of `candidates` (chosen at random), and
    /// masqueraded on the way out when `masquerade` (for any candidate).
    Dnat {
        candidates: Vec<SocketAddrV4>,
        masquerade: bool,
    },
    Reject,
    Drop,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub outcome: Outcome,
    /// Every rule that matched, as `chain: rule`, in evaluation order.
    pub steps: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TraceError {
    #[error("chain {0} does not exist")]
    UnknownChain(String),
    #[error("set or map {0} does not exist")]
    UnknownSet(String),
    #[error("chain {chain}: cannot interpret {rule:?} at {at:?}")]
    Unsupported {
        chain: String,
        rule: String,
        at: String,
    },
    #[error("chain {0}: jumps nest too deep")]
    TooDeep(String),
}

#[derive(Debug, Clone)]
struct State {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    dport: u16,
    dnat: bool,
    mark: u32,
    masqueraded: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Accept,
    Drop,
    Reject,
    /// Fell off the end of the chain or `return`.
    Continue,
}

enum Flow {
    Next,
    Verdict(Verdict),
    Jump(String),
    Goto(String),
    /// Random choice among chains (all followed).
    Choose(Vec<String>),
}

struct Tracer<'a> {
    table: &'a Table,
    packet: &'a Packet,
    steps: Vec<String>,
    candidates: Vec<SocketAddrV4>,
}

const MAX_DEPTH: usize = 16;

/// Runs the packet through the table's base chains in hook and priority order.
pub fn trace(table: &Table, packet: &Packet) -> Result<Trace, TraceError> {
    let mut tracer = Tracer {
        table,
        packet,
        steps: Vec::new(),
        candidates: Vec::new(),
    };
    let mut state = State {
        src: packet.src,
        dst: packet.dst,
        dport: packet.dst_port,
        dnat: false,
        mark: 0,
        masqueraded: false,
    };
    let first = match packet.origin {
        Origin::Network => Hook::Prerouting,
        Origin::LocalProcess => Hook::Output,
    };
    if let Some(outcome) = tracer.hook(first, &mut state)? {
        return Ok(tracer.finish(outcome));
    }
    let delivered_locally = !state.dnat && packet.dst_is_local;
    let next = match (delivered_locally, packet.origin) {
        (true, _) => Some(Hook::Input),
        (false, Origin::Network) => Some(Hook::Forward),
        (false, Origin::LocalProcess) => None,
    };
    if let Some(hook) = next {
        if let Some(outcome) = tracer.hook(hook, &mut state)? {
            return Ok(tracer.finish(outcome));
        }
    }
    if delivered_locally || !state.dnat {
        return Ok(tracer.finish(Outcome::NotAService));
    }
    // Postrouting per candidate: hairpin masquerading depends on where the packet went.
    let mut masquerade = false;
    for candidate in tracer.candidates.clone() {
        let mut after = state.clone();
        after.dst = *candidate.ip();
        after.dport = candidate.port();
        if let Some(outcome) = tracer.hook(Hook::Postrouting, &mut after)? {
            return Ok(tracer.finish(outcome));
        }
        masquerade |= after.masqueraded;
    }
    let candidates = tracer.candidates.clone();
    Ok(tracer.finish(Outcome::Dnat {
        candidates,
        masquerade,
    }))
}

impl Tracer<'_> {
    fn finish(self, outcome: Outcome) -> Trace {
        Trace {
            outcome,
            steps: self.steps,
        }
    }

    /// Runs the hook's base chains; `Some` when the packet was dropped or rejected.
    fn hook(&mut self, hook: Hook, state: &mut State) -> Result<Option<Outcome>, TraceError> {
        let mut chains: Vec<_> = self
            .table
            .chains
            .values()
            .filter_map(|c| {
                c.base
                    .as_ref()
                    .filter(|b| b.hook == hook)
                    .map(|b| (b.priority, c))
            })
            .collect();
        chains.sort_by_key(|(priority, chain)| (*priority, chain.name.clone()));
        for (_, chain) in chains {
            match self.chain(&chain.name, state, 0)? {
                Verdict::Drop => return Ok(Some(Outcome::Drop)),
                Verdict::Reject => return Ok(Some(Outcome::Reject)),
                Verdict::Accept | Verdict::Continue => {}
            }
        }
        Ok(None)
    }

    fn chain(
        &mut self,
        name: &str,
        state: &mut State,
        depth: usize,
    ) -> Result<Verdict, TraceError> {
        if depth > MAX_DEPTH {
            return Err(TraceError::TooDeep(name.to_string()));
        }
        let chain = self
            .table
            .chains
            .get(name)
            .ok_or_else(|| TraceError::UnknownChain(name.to_string()))?;
        for rule in &chain.rules {
            let flow = self.rule(name, rule, state)?;
            if !matches!(flow, Flow::Next) {
                self.steps.push(format!("{name}: {rule}"));
            }
            match flow {
                Flow::Next => {}
                Flow::Verdict(Verdict::Continue) => return Ok(Verdict::Continue),
                Flow::Verdict(verdict) => return Ok(verdict),
                Flow::Jump(target) => match self.chain(&target, state, depth + 1)? {
                    Verdict::Continue => {}
                    verdict => return Ok(verdict),
                },
                Flow::Goto(target) => return self.chain(&target, state, depth + 1),
                Flow::Choose(targets) => {
                    let mut first = None;
                    for target in targets {
                        let mut branch = state.clone();
                        let verdict = self.chain(&target, &mut branch, depth + 1)?;
                        if first.is_none() {
                            first = Some((verdict, branch));
                        }
                    }
                    let (verdict, branch) = first.expect("a choice has targets");
                    *state = branch;
                    return Ok(verdict);
                }
            }
        }
        Ok(Verdict::Continue)
    }

    /// Evaluates one rule: `Flow::Next` when a match failed or only non-terminal
    /// statements ran.
    fn rule(&mut self, chain: &str, rule: &str, state: &mut State) -> Result<Flow, TraceError> {
        let tokens = tokenize(rule);
        let unsupported = |at: &[String]| TraceError::Unsupported {
            chain: chain.to_string(),
            rule: rule.to_string(),
            at: at.join(" "),
        };
        let mut rest: &[String] = &tokens;
        while let Some(first) = rest.first() {
            let words: Vec<&str> = rest.iter().map(String::as_str).collect();
            match words.as_slice() {
                ["ct", "state", "new", ..] => rest = &rest[3..],
                ["ct", "status", "dnat", ..] => {
                    if !state.dnat {
                        return Ok(Flow::Next);
                    }
                    rest = &rest[3..];
                }
                ["fib", which @ ("daddr" | "saddr"), "type", "local", ..] => {
                    let local = match *which {
                        "daddr" => self.packet.dst_is_local && state.dst == self.packet.dst,
                        _ => self.packet.origin == Origin::LocalProcess,
                    };
                    if !local {
                        return Ok(Flow::Next);
                    }
                    rest = &rest[4..];
                }
                ["meta", "mark", "set", "meta", "mark", op @ ("|" | "^"), value, ..] => {
                    let value = parse_u32(value).ok_or_else(|| unsupported(rest))?;
                    state.mark = if *op == "|" {
                        state.mark | value
                    } else {
                        state.mark ^ value
                    };
                    rest = &rest[7..];
                }
                ["meta", "mark", "&", mask, "==", value, ..] => {
                    let mask = parse_u32(mask).ok_or_else(|| unsupported(rest))?;
                    let value = parse_u32(value).ok_or_else(|| unsupported(rest))?;
                    if state.mark & mask != value {
                        return Ok(Flow::Next);
                    }
                    rest = &rest[6..];
                }
                ["numgen", "random", "mod", n, "vmap", "{", ..] => {
                    let n: usize = n.parse().map_err(|_| unsupported(rest))?;
                    let (entries, after) = braced(&rest[5..]).ok_or_else(|| unsupported(rest))?;
                    let mut targets = Vec::new();
                    for entry in entries {
                        match entry.as_slice() {
                            [_, ":", "goto", target] => targets.push(target.to_string()),
                            _ => return Err(unsupported(rest)),
                        }
                    }
                    if targets.len() != n || !after.is_empty() {
                        return Err(unsupported(rest));
                    }
                    return Ok(Flow::Choose(targets));
                }
                ["update", set, "{", "ip", "saddr", "}", ..] if set.starts_with('@') => {
                    rest = &rest[6..];
                }
                ["dnat", "ip", "to", ..] => {
                    let target = &rest[3..];
                    let words: Vec<&str> = target.iter().map(String::as_str).collect();
                    let endpoint = if let [address] = words.as_slice() {
                        address
                            .parse::<SocketAddrV4>()
                            .map_err(|_| unsupported(rest))?
                    } else {
                        let map_at = words
                            .iter()
                            .position(|w| *w == "map")
                            .ok_or_else(|| unsupported(rest))?;
                        let key = self
                            .selectors(&target[..map_at], state)
                            .ok_or_else(|| unsupported(rest))?;
                        let map_name = words
                            .get(map_at + 1)
                            .and_then(|m| m.strip_prefix('@'))
                            .ok_or_else(|| unsupported(rest))?;
                        let map = self.set(map_name)?;
                        let Some(Some(value)) = map.elements.get(&key) else {
                            // No mapping: the kernel drops the packet (NFT_BREAK in nat).
                            return Ok(Flow::Verdict(Verdict::Drop));
                        };
                        parse_endpoint(value).ok_or_else(|| unsupported(rest))?
                    };
                    state.dnat = true;
                    state.dst = *endpoint.ip();
                    state.dport = endpoint.port();
                    if !self.candidates.contains(&endpoint) {
                        self.candidates.push(endpoint);
                    }
                    return Ok(Flow::Verdict(Verdict::Accept));
                }
                ["masquerade", "fully-random"] => {
                    state.masqueraded = true;
                    return Ok(Flow::Verdict(Verdict::Accept));
                }
                ["reject"] => return Ok(Flow::Verdict(Verdict::Reject)),
                ["drop"] => return Ok(Flow::Verdict(Verdict::Drop)),
                ["accept"] => return Ok(Flow::Verdict(Verdict::Accept)),
                ["return"] => return Ok(Flow::Verdict(Verdict::Continue)),
                ["jump", target] => return Ok(Flow::Jump(target.to_string())),
                ["goto", target] => return Ok(Flow::Goto(target.to_string())),
                ["ip" | "meta" | "th", ..] => {
                    // A selector (or concatenation) and what is done with it.
                    let end = selector_end(&words);
                    let key = self
                        .selectors(&rest[..end], state)
                        .ok_or_else(|| unsupported(rest))?;
                    let after = &rest[end..];
                    let after_words: Vec<&str> = after.iter().map(String::as_str).collect();
                    match after_words.as_slice() {
                        ["vmap", map, ..] => {
                            let map =
                                self.set(map.strip_prefix('@').ok_or_else(|| unsupported(rest))?)?;
                            let Some(Some(verdict)) = map.elements.get(&key) else {
                                return Ok(Flow::Next);
                            };
                            return verdict_flow(verdict).ok_or_else(|| unsupported(rest));
                        }
                        ["!=", ..] => {
                            let (member, used) = self
                                .membership(&key, &after[1..])
                                .ok_or_else(|| unsupported(rest))??;
                            if member {
                                return Ok(Flow::Next);
                            }
                            rest = &after[1 + used..];
                        }
                        [_, ..] => {
                            let (member, used) = self
                                .membership(&key, after)
                                .ok_or_else(|| unsupported(rest))??;
                            if !member {
                                return Ok(Flow::Next);
                            }
                            rest = &after[used..];
                        }
                        [] => return Err(unsupported(rest)),
                    }
                }
                _ => return Err(unsupported(std::slice::from_ref(first))),
            }
        }
        Ok(Flow::Next)
    }

    fn set(&self, name: &str) -> Result<&podnet_nft::Set, TraceError> {
        self.table
            .sets
            .get(name)
            .ok_or_else(|| TraceError::UnknownSet(name.to_string()))
    }

    /// The value of a selector concatenation as element text (`10.0.0.1 . tcp . 80`).
    fn selectors(&self, tokens: &[String], state: &State) -> Option<String> {
        let mut parts = Vec::new();
        for field in tokens.split(|t| t == ".") {
            let words: Vec<&str> = field.iter().map(String::as_str).collect();
            parts.push(match words.as_slice() {
                ["ip", "daddr"] => state.dst.to_string(),
                ["ip", "saddr"] => state.src.to_string(),
                ["meta", "l4proto"] => self.packet.protocol.as_str().to_string(),
                ["th", "dport"] => state.dport.to_string(),
                _ => return None,
            });
        }
        Some(parts.join(" . "))
    }

    /// Whether `key` is in what the tokens name (`@set`, `{ a, b }` or one literal), and
    /// how many tokens that took. `None` for what is not understood.
    fn membership(
        &self,
        key: &str,
        tokens: &[String],
    ) -> Option<Result<(bool, usize), TraceError>> {
        let first = tokens.first()?;
        if let Some(name) = first.strip_prefix('@') {
            return Some(self.set(name).map(|set| {
                let interval = set.flags.contains(&podnet_nft::SetFlag::Interval);
                let member = if interval {
                    set.elements.keys().any(|range| in_range(key, range))
                } else {
                    set.elements.contains_key(key)
                };
                (member, 1)
            }));
        }
        if first == "{" {
            let words: Vec<&str> = tokens.iter().map(String::as_str).collect();
            let close = words.iter().position(|w| *w == "}")?;
            let members = words[1..close].iter().map(|w| w.trim_end_matches(','));
            let member = members.clone().any(|m| in_range(key, m) || m == key);
            return Some(Ok((member, close + 1)));
        }
        Some(Ok((in_range(key, first) || first == key, 1)))
    }
}

fn in_range(key: &str, range: &str) -> bool {
    let Ok(ip) = key.parse::<Ipv4Addr>() else {
        return false;
    };
    match range.parse::<ipnet::Ipv4Net>() {
        Ok(net) => net.contains(&ip),
        Err(_) => range.parse::<Ipv4Addr>() == Ok(ip),
    }
}

fn verdict_flow(verdict: &str) -> Option<Flow> {
    let words: Vec<&str> = verdict.split_whitespace().collect();
    Some(match words.as_slice() {
        ["goto", chain] => Flow::Goto(chain.to_string()),
        ["jump", chain] => Flow::Jump(chain.to_string()),
        ["drop"] => Flow::Verdict(Verdict::Drop),
        ["accept"] => Flow::Verdict(Verdict::Accept),
        ["return"] => Flow::Verdict(Verdict::Continue),
        _ => return None,
    })
}

/// Where a selector concatenation ends: after the last `ip|meta|th FIELD` joined by `.`.
fn selector_end(words: &[&str]) -> usize {
    let mut at = 0;
    while at + 1 < words.len() && matches!(words[at], "ip" | "meta" | "th") {
        at += 2;
        if words.get(at) == Some(&".") {
            at += 1;
        } else {
            break;
        }
    }
    at
}

fn parse_u32(text: &str) -> Option<u32> {
    match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn parse_endpoint(value: &str) -> Option<SocketAddrV4> {
    let (ip, port) = value.split_once(" . ")?;
    Some(SocketAddrV4::new(ip.parse().ok()?, port.parse().ok()?))
}

/// Words, with `{`, `}` and `,` as words of their own (so `{ a, b }` splits cleanly).
fn tokenize(rule: &str) -> Vec<String> {
    rule.replace('{', " { ")
        .replace('}', " } ")
        .replace(',', " , ")
        .split_whitespace()
        .filter(|w| *w != ",")
        .map(str::to_string)
        .collect()
}

/// The entries of a `{ ... }` group as word lists split at commas, and what follows it.
fn braced(tokens: &[String]) -> Option<(Vec<Vec<&str>>, &[String])> {
    if tokens.first().map(String::as_str) != Some("{") {
        return None;
    }
    let close = tokens.iter().position(|t| t == "}")?;
    let inner: Vec<&str> = tokens[1..close].iter().map(String::as_str).collect();
    // Entries are `INDEX : goto CHAIN`, four words each (commas were dropped).
    let entries = inner.chunks(4).map(<[&str]>::to_vec).collect();
    Some((entries, &tokens[close + 1..]))
}
