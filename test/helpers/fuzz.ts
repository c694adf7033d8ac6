/**
 * Input generators for the fuzz tests (test/integration/fuzz.test.ts): SDP mutations, malformed
 * STUN/RTP/RTCP/DTLS datagrams, malformed images, malformed control messages. Everything is driven by
 * a seeded PRNG so a failing case can be replayed with FUZZ_SEED=<seed>.
 */
import { deflateSync } from 'node:zlib';
import { Prng } from '../../engines/motion/prng.ts';

/** The engines' seeded PRNG plus the helpers the fuzzers need. */
export class Rng extends Prng {
  constructor(readonly seed: number) {
    super(seed);
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.next() * 256);
    return b;
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

// ------------------------------------------------------------------ SDP

/** One fuzzed POST /v1/sessions request. */
export interface SdpCase {
  name: string;
  body: Buffer;
  contentType: string | null;
}

const LOOPBACK_CANDIDATE = /^a=candidate:\S+ \d+ udp \d+ 127\.0\.0\.1 \d+ typ host/i;

/**
 * Keep only loopback ICE candidates of a real offer: a fuzzed offer that is still valid makes the server
 * run connectivity checks against its candidates, and those must stay on 127.0.0.1.
 */
export function loopbackOnlyOffer(sdp: string): string {
  const lines = sdp.split('\r\n').filter((l) => !/candidate/i.test(l) || LOOPBACK_CANDIDATE.test(l));
  if (!lines.some((l) => LOOPBACK_CANDIDATE.test(l))) throw new Error('offer has no 127.0.0.1 host candidate');
  return lines.join('\r\n');
}

/**
 * Drops every candidate-like line (any line mentioning "candidate") that is not byte-identical to one
 * of the base offer's loopback candidates, so no mutation can point the server's ICE agent anywhere
 * but 127.0.0.1. Works on the latin1 view so non-UTF-8 bodies survive unchanged otherwise.
 */
function confineCandidates(body: Buffer, allowed: ReadonlySet<string>): Buffer {
  const text = body.toString('latin1');
  if (!/candidate/i.test(text)) return body;
  const kept = text.split(/(\r?\n|\r)/).filter((part, i, parts) => {
    if (!/candidate/i.test(part)) return true;
    if (allowed.has(part)) return true;
    // Drop the line; its separator goes with it (the next part), handled by blanking it.
    if (i + 1 < parts.length) parts[i + 1] = '';
    return false;
  });
  return Buffer.from(kept.join(''), 'latin1');
}

const WEIRD_M_LINES = [
  'm=audio 0 RTP/AVP',
  'm=audio 9 UDP/TLS/RTP/SAVPF',
  'm=video -1 UDP/TLS/RTP/SAVPF 999999',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 96 96 96',
  'm=video 65536 UDP/TLS/RTP/SAVPF 128 255 -1 NaN',
  'm=application 9 UDP/DTLS/SCTP',
  'm=application 9 DTLS/SCTP 5000',
  'm=text 9 RTP/AVP 0',
  'm=',
  'm= ',
  'm=audio',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 ' + '111 '.repeat(500),
  'm=video 9 ' + 'X'.repeat(2000) + ' 96',
  'm=audio 9999999999999999999999 UDP/TLS/RTP/SAVPF 111',
  'm=\u0000audio 9 UDP/TLS/RTP/SAVPF 111',
];

const WEIRD_ATTRIBUTES = [
  'a=rtpmap:111 opus/48000/2/9/9',
  'a=rtpmap:abc opus/xyz',
  'a=rtpmap:111',
  'a=rtpmap:-5 H264/90000',
  'a=fmtp:96 profile-level-id=zzzzzz;packetization-mode=1',
  'a=fmtp:96 ' + ';'.repeat(3000),
  'a=setup:bogus',
  'a=setup:',
  'a=fingerprint:sha-256 00',
  'a=fingerprint:md5 ' + 'AB:'.repeat(40),
  'a=fingerprint:',
  'a=ice-ufrag:',
  'a=ice-pwd:',
  'a=mid:',
  'a=mid:' + 'm'.repeat(5000),
  'a=group:BUNDLE ' + 'x '.repeat(1000),
  'a=group:BUNDLE',
  'a=ssrc:4294967296 cname:x',
  'a=ssrc:-1 msid:a b',
  'a=ssrc-group:FID 1',
  'a=extmap:99999 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=extmap:0 ',
  'a=rtcp-fb:* nack',
  'a=rtcp-fb:111 ' + 'nack '.repeat(500),
  'a=sctp-port:-1',
  'a=sctp-port:99999999999',
  'a=max-message-size:-1',
  'a=max-message-size:1e400',
  'a=msid:' + '\u00ff'.repeat(100),
  'a=sendrecv:extra',
  'a=rtcp:0 IN IP4 127.0.0.1',
  'a=rid:h send',
  'a=simulcast:send h;m;l',
  'c=IN IP6 ::1',
  'c=IN IP4',
  'b=AS:-1',
  'b=AS:99999999999999999999',
  't=0',
  'o=- 0',
  's=',
  'v=1',
];

/** Line-level and byte-level mutations of a real offer, plus bodies from scratch. ~`count` cases. */
export function sdpCases(baseOffer: string, rng: Rng, count: number): SdpCase[] {
  const base = loopbackOnlyOffer(baseOffer);
  const allowed = new Set(base.split('\r\n').filter((l) => /candidate/i.test(l)));
  const lines = base.split('\r\n');
  if (lines.at(-1) === '') lines.pop();
  const join = (ls: string[]) => ls.join('\r\n') + '\r\n';
  const sdp = 'application/sdp';

  const generators: Array<(i: number) => { name: string; body: string | Buffer; contentType?: string | null }> = [
    () => {
      const ls = [...lines];
      const n = rng.int(1, 4);
      for (let k = 0; k < n && ls.length > 1; k++) ls.splice(rng.int(0, ls.length - 1), 1);
      return { name: `delete ${n} line(s)`, body: join(ls) };
    },
    () => {
      const ls = [...lines];
      const i = rng.int(0, ls.length - 1);
      const times = rng.pick([1, 2, 50, 400]);
      ls.splice(i, 0, ...Array<string>(times).fill(ls[i]!));
      return { name: `duplicate line ${i} x${times}`, body: join(ls) };
    },
    () => ({ name: 'shuffle all lines', body: join(rng.shuffle([...lines])) }),
    () => {
      const ls = [...lines];
      const a = rng.int(1, ls.length - 1);
      const b = rng.int(1, ls.length - 1);
      [ls[a], ls[b]] = [ls[b]!, ls[a]!];
      return { name: `swap lines ${a},${b}`, body: join(ls) };
    },
    () => {
      const full = join(lines);
      const at = rng.int(0, full.length - 1);
      return { name: `truncate at ${at}`, body: full.slice(0, at) };
    },
    () => ({ name: 'random bytes', body: rng.bytes(rng.pick([1, 16, 300, 4000, 60000])) }),
    () => ({ name: 'random bytes after v=0', body: Buffer.concat([Buffer.from('v=0\r\n'), rng.bytes(rng.int(10, 3000))]) }),
    () => {
      const ls = [...lines];
      const i = rng.int(1, ls.length - 1);
      const size = rng.pick([1000, 30000, 60000, 70000]);
      ls.splice(i, 0, `a=${rng.pick(['x', 'fmtp:111', 'ice-ufrag', 'msid', 'extmap:1'])}:${'A'.repeat(size)}`);
      return { name: `huge attribute (${size} bytes) at ${i}`, body: join(ls) };
    },
    () => {
      const ls = [...lines];
      const i = rng.int(1, ls.length);
      const m = rng.pick(WEIRD_M_LINES);
      ls.splice(i, 0, m);
      return { name: `weird m= line "${m.slice(0, 40)}" at ${i}`, body: join(ls) };
    },
    () => {
      const ls = [...lines];
      const idx = ls.map((l, i) => (l.startsWith('m=') ? i : -1)).filter((i) => i >= 0);
      const i = rng.pick(idx);
      const m = rng.pick(WEIRD_M_LINES);
      ls[i] = m;
      return { name: `replace ${lines[i]!.slice(0, 12)} by "${m.slice(0, 40)}"`, body: join(ls) };
    },
    () => {
      const ls = [...lines];
      const n = rng.int(1, 3);
      for (let k = 0; k < n; k++) ls.splice(rng.int(1, ls.length), 0, rng.pick(WEIRD_ATTRIBUTES));
      return { name: `${n} weird attribute(s)`, body: join(ls) };
    },
    () => {
      const ls = [...lines];
      const idx = ls.map((l, i) => (/^a=(rtpmap|fmtp|fingerprint|setup|mid|group|ice-|sctp|max-message|extmap|ssrc|rtcp)/.test(l) ? i : -1)).filter((i) => i >= 0);
      const i = rng.pick(idx);
      const w = rng.pick(WEIRD_ATTRIBUTES);
      ls[i] = w;
      return { name: `replace "${lines[i]!.slice(0, 30)}" by "${w.slice(0, 40)}"`, body: join(ls) };
    },
    () => {
      // Non-UTF-8: invalid sequences inside a value, or a whole line of them.
      const buf = Buffer.from(join(lines), 'latin1');
      const at = rng.int(5, buf.length - 1);
      const bad = Buffer.from(rng.pick([[0xff, 0xfe], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]]));
      return { name: `non-UTF-8 bytes at ${at}`, body: Buffer.concat([buf.subarray(0, at), bad, buf.subarray(at)]) };
    },
    () => ({ name: 'UTF-16LE encoded offer', body: Buffer.from(join(lines), 'utf16le') }),
    () => ({ name: 'BOM + offer', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(join(lines))]) }),
    () => {
      const buf = Buffer.from(join(lines), 'latin1');
      const n = rng.int(1, 20);
      for (let k = 0; k < n; k++) buf[rng.int(0, buf.length - 1)] = rng.int(0, 255);
      return { name: `${n} random byte flip(s)`, body: buf };
    },
    () => {
      const body = join(lines);
      const ct = rng.pick(['text/plain', 'application/json', 'application/sdp; charset=utf-16', 'APPLICATION/SDP', 'application/sdp;;;', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', null, 'application/sdp\t']);
      return { name: `content type ${JSON.stringify(ct)}`, body, contentType: ct };
    },
    () => {
      const body = join(lines);
      const sep = rng.pick(['\n', '\r', '\r\r\n', '\n\r', '\u2028', '\u0000']);
      return { name: `line separator ${JSON.stringify(sep)}`, body: body.split('\r\n').join(sep) };
    },
    () => {
      // Numbers out of range everywhere.
      const v = rng.pick(['-1', '0', '4294967296', '99999999999999999999999', 'NaN', '1e308', '0x10']);
      return { name: `numbers -> ${v}`, body: join(lines.map((l) => (l.startsWith('a=candidate') ? l : l.replace(/\b\d+\b/g, () => (rng.bool(0.3) ? v : '$&'))))) };
    },
    () => {
      const ls = [...lines];
      const media = ls.findIndex((l) => l.startsWith('m='));
      const n = rng.pick([20, 200]);
      const section = ls.slice(media);
      const copies: string[] = [];
      for (let k = 0; k < n; k++) copies.push(...section.map((l) => (l.startsWith('a=mid:') ? `a=mid:x${k}${l.slice(6)}` : l)));
      return { name: `${n} copies of the media sections`, body: join([...ls, ...copies]) };
    },
    () => {
      const ls = [...lines];
      const field = rng.pick(['a=ice-ufrag:', 'a=ice-pwd:', 'a=fingerprint:', 'a=setup:', 'a=mid:']);
      return { name: `remove all ${field}`, body: join(ls.filter((l) => !l.startsWith(field))) };
    },
    () => {
      const depth = rng.pick([2, 10]);
      let s = join(lines);
      for (let k = 0; k < depth; k++) s = s + s.slice(s.indexOf('m='));
      return { name: `sections doubled x${depth}`, body: s };
    },
  ];

  const cases: SdpCase[] = [{ name: 'unmutated offer', body: Buffer.from(join(lines)), contentType: sdp }];
  for (let i = 1; i < count; i++) {
    const gen = generators[(i - 1) % generators.length]!;
    const c = gen(i);
    const raw = typeof c.body === 'string' ? Buffer.from(c.body, 'utf8') : c.body;
    cases.push({ name: c.name, body: confineCandidates(raw, allowed), contentType: c.contentType === undefined ? sdp : c.contentType });
  }
  return cases;
}

// ------------------------------------------------------------------ UDP datagrams

/** One fuzzed datagram to a server media port. */
export interface Datagram {
  kind: string;
  data: Buffer;
}

const STUN_MAGIC = 0x2112a442;

function stunHeader(rng: Rng, type: number, declaredLength: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(type & 0xffff, 0);
  h.writeUInt16BE(declaredLength & 0xffff, 2);
  h.writeUInt32BE(STUN_MAGIC, 4);
  rng.bytes(12).copy(h, 8);
  return h;
}

function stunAttr(type: number, value: Buffer, declaredLength = value.length): Buffer {
  const pad = (4 - (value.length % 4)) % 4;
  const a = Buffer.alloc(4 + value.length + pad);
  a.writeUInt16BE(type & 0xffff, 0);
  a.writeUInt16BE(declaredLength & 0xffff, 2);
  value.copy(a, 4);
  return a;
}

/** Truncated / malformed STUN: bad lengths, attributes running past the end, bogus integrity. */
export function malformedStun(rng: Rng, ufragHint: string): Datagram {
  const type = rng.pick([0x0001, 0x0101, 0x0111, 0x0011, 0x3fff, 0x0001 | 0xc000]);
  const variant = rng.int(0, 7);
  switch (variant) {
    case 0: {
      const body = rng.bytes(rng.int(0, 64));
      return { kind: 'stun random body, wrong length', data: Buffer.concat([stunHeader(rng, type, body.length + rng.pick([4, 8, 1000, -4])), body]) };
    }
    case 1:
      return { kind: 'stun header only, truncated', data: stunHeader(rng, type, 0).subarray(0, rng.int(1, 19)) };
    case 2: {
      // Attribute declares more bytes than the message has.
      const attr = stunAttr(0x0006, Buffer.from('abc:def'), rng.pick([200, 0xffff, 3]));
      return { kind: 'stun attribute longer than message', data: Buffer.concat([stunHeader(rng, type, attr.length), attr]) };
    }
    case 3: {
      // Binding request with a plausible USERNAME (server ufrag) but garbage MESSAGE-INTEGRITY and FINGERPRINT.
      const user = stunAttr(0x0006, Buffer.from(`${ufragHint}:fuzz`));
      const prio = stunAttr(0x0024, rng.bytes(4));
      const ctl = stunAttr(rng.pick([0x8029, 0x802a]), rng.bytes(8));
      const use = stunAttr(0x0025, Buffer.alloc(0));
      const mi = stunAttr(0x0008, rng.bytes(rng.pick([20, 19, 0, 32])));
      const fp = stunAttr(0x8028, rng.bytes(4));
      const attrs = Buffer.concat([user, prio, ctl, use, mi, fp]);
      return { kind: 'stun binding request with bad integrity', data: Buffer.concat([stunHeader(rng, 0x0001, attrs.length), attrs]) };
    }
    case 4: {
      // Many tiny/unknown attributes, comprehension-required ones included.
      const parts: Buffer[] = [];
      for (let i = 0; i < rng.int(1, 200); i++) parts.push(stunAttr(rng.int(0, 0xffff), rng.bytes(rng.int(0, 12))));
      const attrs = Buffer.concat(parts);
      return { kind: 'stun many unknown attributes', data: Buffer.concat([stunHeader(rng, type, attrs.length), attrs]) };
    }
    case 5: {
      // XOR-MAPPED-ADDRESS / ERROR-CODE with bad families and short values (responses to nothing).
      const a = stunAttr(rng.pick([0x0020, 0x0001, 0x0009]), Buffer.from([0, rng.pick([0, 3, 0xff]), 1]));
      return { kind: 'stun response with bad address attribute', data: Buffer.concat([stunHeader(rng, rng.pick([0x0101, 0x0111]), a.length), a]) };
    }
    case 6: {
      // Length not a multiple of 4.
      const body = rng.bytes(rng.pick([1, 2, 3, 5]));
      return { kind: 'stun unaligned length', data: Buffer.concat([stunHeader(rng, type, body.length), body]) };
    }
    default: {
      const big = rng.bytes(rng.pick([1200, 1500, 8000]));
      return { kind: 'stun oversized', data: Buffer.concat([stunHeader(rng, type, big.length), big]) };
    }
  }
}

/** Malformed RTP: version 2, bad lengths, CSRC counts past the end, extension lengths past the end. */
export function malformedRtp(rng: Rng): Datagram {
  const pt = rng.pick([96, 97, 102, 111, 127, 0, 35, 72]);
  const b0 = (cc: number, x: boolean, p: boolean) => 0x80 | (p ? 0x20 : 0) | (x ? 0x10 : 0) | (cc & 0x0f);
  const header = (cc: number, x: boolean, p: boolean) => {
    const h = Buffer.alloc(12);
    h[0] = b0(cc, x, p);
    h[1] = (rng.bool(0.5) ? 0x80 : 0) | (pt & 0x7f);
    h.writeUInt16BE(rng.int(0, 0xffff), 2);
    h.writeUInt32BE(rng.int(0, 0xffffffff), 4);
    h.writeUInt32BE(rng.int(0, 0xffffffff), 8);
    return h;
  };
  switch (rng.int(0, 5)) {
    case 0:
      return { kind: 'rtp truncated header', data: header(0, false, false).subarray(0, rng.int(1, 11)) };
    case 1:
      return { kind: 'rtp csrc count past the end', data: Buffer.concat([header(15, false, false), rng.bytes(rng.int(0, 20))]) };
    case 2: {
      const ext = Buffer.alloc(4);
      ext.writeUInt16BE(rng.pick([0xbede, 0x1000, 0x0000]), 0);
      ext.writeUInt16BE(rng.pick([0xffff, 200, 1]), 2);
      return { kind: 'rtp extension length past the end', data: Buffer.concat([header(0, true, false), ext, rng.bytes(rng.int(0, 8))]) };
    }
    case 3: {
      const body = rng.bytes(rng.int(0, 30));
      const pad = Buffer.from([rng.pick([0, 255, 200])]);
      return { kind: 'rtp padding count past the end', data: Buffer.concat([header(0, false, true), body, pad]) };
    }
    case 4:
      return { kind: 'rtp oversized', data: Buffer.concat([header(rng.int(0, 15), rng.bool(), rng.bool()), rng.bytes(rng.pick([1400, 4000, 9000]))]) };
    default:
      return { kind: 'rtp header only', data: header(rng.int(0, 15), rng.bool(), rng.bool()) };
  }
}

/** Malformed RTCP: PT 200-206 with garbage, wrong length words, compound packets with a bad tail. */
export function malformedRtcp(rng: Rng): Datagram {
  const pt = rng.int(200, 206);
  const packet = (declaredWords: number, body: Buffer, count = rng.int(0, 31)) => {
    const h = Buffer.alloc(4);
    h[0] = 0x80 | (rng.bool(0.2) ? 0x20 : 0) | (count & 0x1f);
    h[1] = pt;
    h.writeUInt16BE(declaredWords & 0xffff, 2);
    return Buffer.concat([h, body]);
  };
  switch (rng.int(0, 4)) {
    case 0: {
      const body = rng.bytes(rng.int(0, 60));
      return { kind: `rtcp pt ${pt} wrong length`, data: packet(rng.pick([0xffff, 0, 100, Math.floor(body.length / 4) + 3]), body) };
    }
    case 1:
      return { kind: `rtcp pt ${pt} truncated`, data: packet(1, rng.bytes(4)).subarray(0, rng.int(1, 7)) };
    case 2: {
      const body = rng.bytes(4 * rng.int(1, 12));
      return { kind: `rtcp pt ${pt} garbage with right length`, data: packet(body.length / 4, body) };
    }
    case 3: {
      const first = rng.bytes(24);
      const good = packet(6, first, 0);
      return { kind: `rtcp compound with bad tail`, data: Buffer.concat([good, rng.bytes(rng.int(1, 40))]) };
    }
    default: {
      // Report counts claiming more blocks than present (SR/RR), or SDES chunks running off the end.
      const body = rng.bytes(8);
      return { kind: `rtcp pt ${pt} block count past the end`, data: packet(2, body, 31) };
    }
  }
}

/** DTLS-looking garbage: first byte 20..63 (the demux range of RFC 7983), record headers with bad lengths. */
export function dtlsGarbage(rng: Rng): Datagram {
  switch (rng.int(0, 3)) {
    case 0:
      return { kind: 'dtls random first byte 20..63', data: Buffer.concat([Buffer.from([rng.int(20, 63)]), rng.bytes(rng.int(0, 200))]) };
    case 1: {
      // Record header: type 22 (handshake), version DTLS 1.2, epoch 0, seq, length past the end.
      const h = Buffer.alloc(13);
      h[0] = rng.pick([20, 21, 22, 23]);
      h.writeUInt16BE(rng.pick([0xfefd, 0xfeff, 0x0303, 0x0000]), 1);
      h.writeUInt16BE(rng.pick([0, 1, 0xffff]), 3);
      rng.bytes(6).copy(h, 5);
      h.writeUInt16BE(rng.pick([0xffff, 1, 16384]), 11);
      return { kind: 'dtls record length past the end', data: Buffer.concat([h, rng.bytes(rng.int(0, 64))]) };
    }
    case 2: {
      // ClientHello-shaped handshake with a fragment longer than the record.
      const h = Buffer.alloc(13 + 12);
      h[0] = 22;
      h.writeUInt16BE(0xfefd, 1);
      h.writeUInt16BE(12 + 40, 11);
      h[13] = 1; // client_hello
      h.writeUIntBE(0xffffff, 14, 3);
      h.writeUInt16BE(0, 17);
      h.writeUIntBE(0, 19, 3);
      h.writeUIntBE(0xffffff, 22, 3);
      return { kind: 'dtls client hello fragment past the end', data: Buffer.concat([h, rng.bytes(40)]) };
    }
    default:
      return { kind: 'dtls truncated header', data: Buffer.from([rng.int(20, 63), ...rng.bytes(rng.int(0, 12))]) };
  }
}

/** A mix of everything above plus plain random bytes, `count` datagrams. */
export function datagramCases(rng: Rng, count: number, ufragHint: string): Datagram[] {
  const out: Datagram[] = [];
  for (let i = 0; i < count; i++) {
    switch (i % 5) {
      case 0:
        out.push({ kind: 'random bytes', data: rng.bytes(rng.pick([0, 1, 2, 12, 100, 1200, 1500])) });
        break;
      case 1:
        out.push(malformedStun(rng, ufragHint));
        break;
      case 2:
        out.push(malformedRtp(rng));
        break;
      case 3:
        out.push(malformedRtcp(rng));
        break;
      default:
        out.push(dtlsGarbage(rng));
    }
  }
  return out;
}

/** Server-side UDP host candidates on 127.0.0.1 from an SDP answer. */
export function loopbackCandidatePorts(answerSdp: string): number[] {
  const ports = new Set<number>();
  for (const line of answerSdp.split(/\r?\n/)) {
    const m = /^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ host/i.exec(line);
    if (m && m[1] === '127.0.0.1') ports.add(Number(m[2]));
  }
  return [...ports];
}

// ------------------------------------------------------------------ images

const crcTable = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer, badCrc = false): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length, 0);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(badCrc ? crc32(td) ^ 1 : crc32(td), 0);
  return Buffer.concat([len, td, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A PNG whose IHDR declares `width` x `height` (8-bit greyscale) with an IDAT that inflates `rows`
 * all-zero rows: small on the wire, huge when decoded (a decompression bomb).
 */
export function pngBomb(width: number, height: number, rows: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  const raw = Buffer.alloc(rows * (width + 1)); // filter byte 0 + zeros per row
  const idat = deflateSync(raw, { level: 9 });
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A JPEG whose SOF0 declares `width` x `height` but has almost no scan data. */
export function jpegHugeHeader(width: number, height: number): Buffer {
  const soi = Buffer.from([0xff, 0xd8]);
  // Minimal quantisation table (all ones) and baseline SOF0, 1 component.
  const dqt = Buffer.concat([Buffer.from([0xff, 0xdb, 0x00, 0x43, 0x00]), Buffer.alloc(64, 1)]);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x0b, 0x08, (height >> 8) & 0xff, height & 0xff, (width >> 8) & 0xff, width & 0xff, 0x01, 0x01, 0x11, 0x00]);
  // Huffman table with a single 1-bit DC code and a single 1-bit AC code (EOB).
  const dhtDc = Buffer.concat([Buffer.from([0xff, 0xc4, 0x00, 0x14, 0x00, 0x01]), Buffer.alloc(15, 0), Buffer.from([0x00])]);
  const dhtAc = Buffer.concat([Buffer.from([0xff, 0xc4, 0x00, 0x14, 0x10, 0x01]), Buffer.alloc(15, 0), Buffer.from([0x00])]);
  const sos = Buffer.from([0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00]);
  const scan = Buffer.alloc(2000, 0x00);
  return Buffer.concat([soi, dqt, sof, dhtDc, dhtAc, sos, scan, Buffer.from([0xff, 0xd9])]);
}

/** One fuzzed POST /v1/references request. */
export interface ImageCase {
  name: string;
  body: Buffer;
  contentType: string | null;
  /** Still a decodable portrait (e.g. only the IEND chunk cut, a PNG labelled JPEG): 201 is a fine answer. */
  mayDecode: boolean;
}

/** Truncated, corrupted, bomb, oversized and random image bodies built from a real PNG and JPEG. */
export function imageCases(png: Buffer, jpeg: Buffer, rng: Rng, maxBytes: number): ImageCase[] {
  const cases: ImageCase[] = [];
  const add = (name: string, body: Buffer, contentType: string | null = 'image/png', mayDecode = false) => cases.push({ name, body, contentType, mayDecode });
  for (const at of [1, 8, 16, 33, 100, 2000, Math.floor(png.length / 2)]) add(`png truncated at ${at}`, png.subarray(0, at));
  add('png without IEND', png.subarray(0, png.length - 12), 'image/png', true);
  // libjpeg pads a truncated scan with grey, so a cut JPEG may still decode to a (partial) face.
  for (const at of [2, 4, 100, 600]) add(`jpeg truncated at ${at}`, jpeg.subarray(0, at), 'image/jpeg');
  for (const at of [Math.floor(jpeg.length / 2), jpeg.length - 2]) add(`jpeg truncated at ${at}`, jpeg.subarray(0, at), 'image/jpeg', true);
  add('png bomb 100000x100000', pngBomb(100_000, 100_000, 64));
  add('png bomb 30000x30000', pngBomb(30_000, 30_000, 256));
  add('png bomb 65535x1 rows past the end', pngBomb(65_535, 1, 1));
  add('png 1x1', pngBomb(1, 1, 1));
  add('png 1x20000 (extreme aspect)', pngBomb(1, 20_000, 20_000));
  add('png 20000x1 (extreme aspect)', pngBomb(20_000, 1, 1));
  add('png 0x0', pngBomb(0, 0, 0));
  add('png 2^31x2^31', pngBomb(0x7fffffff, 0x7fffffff, 0));
  add('jpeg SOF 65535x65535', jpegHugeHeader(65_535, 65_535), 'image/jpeg');
  add('jpeg SOF 0x0', jpegHugeHeader(0, 0), 'image/jpeg');
  add('jpeg SOF 16x16 no real scan', jpegHugeHeader(16, 16), 'image/jpeg');
  {
    // IHDR with a wrong CRC, and a chunk length of 0xffffffff.
    const bad = Buffer.from(png);
    bad[29] = (bad[29]! ^ 0xff) & 0xff;
    add('png bad IHDR CRC', bad);
    const huge = Buffer.concat([png.subarray(0, 33), Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from('IDAT'), rng.bytes(100)]);
    add('png chunk length 0xffffffff', huge);
  }
  {
    const corrupt = Buffer.from(png);
    for (let i = 0; i < 50; i++) corrupt[rng.int(100, corrupt.length - 1)] = rng.int(0, 255);
    add('png 50 random byte flips', corrupt, 'image/png', true);
    const corruptJ = Buffer.from(jpeg);
    for (let i = 0; i < 50; i++) corruptJ[rng.int(200, corruptJ.length - 1)] = rng.int(0, 255);
    add('jpeg 50 random byte flips', corruptJ, 'image/jpeg', true);
  }
  add('png labelled jpeg', png, 'image/jpeg', true);
  add('random bytes as png', rng.bytes(5000));
  add('random bytes as jpeg', rng.bytes(5000), 'image/jpeg');
  add('png signature + random', Buffer.concat([PNG_SIGNATURE, rng.bytes(3000)]));
  add('jpeg SOI + random', Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), rng.bytes(3000)]), 'image/jpeg');
  add('svg labelled png', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"></svg>'));
  add('gif labelled png', Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'));
  add('oversized body', Buffer.alloc(maxBytes + 1, 0x41));
  add('oversized body x3', Buffer.alloc(maxBytes * 3, 0x42));
  add('png as text/plain', png, 'text/plain');
  add('png without content type', png, null);
  add('png as image/gif', png, 'image/gif');
  add('png as multipart', png, 'multipart/form-data; boundary=xyz');
  return cases;
}

// ------------------------------------------------------------------ control messages

/** Malformed data-channel messages: strings (sent as text) and Buffers (sent as binary). */
export function controlCases(rng: Rng): Array<{ name: string; data: string | Buffer }> {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  return [
    { name: 'oversized 4097 bytes', data: JSON.stringify({ type: 'pose', yaw: 1, pitch: 1, roll: 1, pad: 'x'.repeat(4097) }) },
    { name: 'oversized 16 KiB', data: JSON.stringify({ type: 'clear', pad: 'y'.repeat(16 * 1024) }) },
    { name: 'oversized 60 KiB', data: 'z'.repeat(60 * 1024) },
    { name: 'oversized binary 32 KiB', data: rng.bytes(32 * 1024) },
    { name: 'not JSON', data: 'hello' },
    { name: 'half JSON', data: '{"type":"pose","yaw":' },
    { name: 'empty string', data: ' ' },
    { name: 'binary random', data: rng.bytes(200) },
    { name: 'invalid UTF-8', data: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) },
    { name: 'null', data: 'null' },
    { name: 'number', data: '42' },
    { name: 'array', data: '[1,2,3]' },
    { name: 'string', data: '"clear"' },
    { name: 'type number', data: '{"type":1}' },
    { name: 'type object', data: '{"type":{"toString":"x"}}' },
    { name: 'unknown type', data: '{"type":"dance"}' },
    { name: 'pose strings', data: '{"type":"pose","yaw":"a","pitch":"b","roll":"c"}' },
    { name: 'pose huge', data: '{"type":"pose","yaw":1e308,"pitch":-1e308,"roll":1e308}' },
    { name: 'pose overflow', data: '{"type":"pose","yaw":1e999,"pitch":0,"roll":0}' },
    { name: 'pose missing', data: '{"type":"pose"}' },
    { name: 'expression null', data: '{"type":"expression","scale":null}' },
    { name: 'expression -1e300', data: '{"type":"expression","scale":-1e300}' },
    { name: '__proto__ pollution', data: '{"type":"pose","__proto__":{"yaw":5,"polluted":true},"constructor":{"prototype":{"x":1}}}' },
    { name: 'deep nesting 1500', data: deep(1500) },
    { name: 'deep object', data: '{"type":"expression","scale":1,"a":' + '{"a":'.repeat(600) + '1' + '}'.repeat(600) + '}' },
    { name: 'duplicate keys', data: '{"type":"pose","type":"expression","scale":1,"yaw":1,"pitch":2,"roll":3}' },
    { name: 'NUL bytes', data: '{"type":"cl\u0000ear"}' },
    { name: 'lone surrogate', data: '{"type":"\ud800"}' },
  ];
}
