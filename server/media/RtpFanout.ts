import {
  RtcpSenderInfo,
  RtcpSourceDescriptionPacket,
  RtcpSrPacket,
  SourceDescriptionChunk,
  SourceDescriptionItem,
  type RTCRtpSender,
  type RtpPacket,
} from 'werift';
import type { Logger } from '../logger.ts';
import type { NativeFanoutModule, NativeTransportHandle } from './NativeFanout.ts';
import { sendWithSenderClock } from './senderReportClock.ts';

/** Video packets kept for NACK retransmission on the native path: about 2 s of a 1.5 Mbit/s stream. */
export const HISTORY_PACKETS = 512;

/** The last packets sent on one track in wire form, by sequence number, for NACK retransmission. */
export class RtpHistory {
  private readonly seqs = new Int32Array(HISTORY_PACKETS).fill(-1);
  private readonly packets: (Buffer | undefined)[] = new Array(HISTORY_PACKETS);

  put(seq: number, wire: Buffer): void {
    const i = seq % HISTORY_PACKETS;
    this.seqs[i] = seq;
    this.packets[i] = wire;
  }

  get(seq: number): Buffer | undefined {
    const i = seq % HISTORY_PACKETS;
    return this.seqs[i] === seq ? this.packets[i] : undefined;
  }
}

/** One frame's (or one voice burst's) packets, serialized once for every native output however many there are. */
export class FramePackets {
  private wireForm: Buffer[] | undefined;
  private payload = -1;

  constructor(
    readonly rtp: readonly RtpPacket[],
    private readonly history?: RtpHistory,
  ) {}

  get wire(): Buffer[] {
    if (!this.wireForm) {
      this.wireForm = this.rtp.map((p) => p.serialize());
      if (this.history) for (let i = 0; i < this.rtp.length; i++) this.history.put(this.rtp[i]!.header.sequenceNumber, this.wireForm[i]!);
    }
    return this.wireForm;
  }

  get payloadBytes(): number {
    if (this.payload < 0) this.payload = this.rtp.reduce((a, p) => a + p.payload.length, 0);
    return this.payload;
  }
}

/* werift 0.25 internals the native path reads or keeps up to date (so its RTCP sender reports and stats stay right). */
interface IcePair {
  remoteAddr: [string, number];
  packetsSent: number;
  bytesSent: number;
  protocol: { type: string; transport: { type?: string; closed?: boolean; socket?: object } };
}
interface IceConnection {
  nominated?: IcePair;
  canSendApplicationData(): boolean;
}
interface DtlsInternals {
  state: string;
  bytesSent: number;
  packetsSent: number;
  dtls?: { srtp: { srtpProfile?: number }; extractSessionKeys(keyLength: number, saltLength: number): { localKey: Buffer; localSalt: Buffer } };
  iceTransport: { connection: IceConnection };
}
interface SenderInternals {
  ssrc: number;
  codec?: { payloadType: number };
  seqOffset: number;
  timestampOffset: number;
  packetCount: number;
  octetCount: number;
  ntpTimestamp: bigint;
  rtpTimestamp: number;
  sequenceNumber?: number;
  timestamp?: number;
  cname?: string;
  /** What werift matches receiver reports against to measure the round trip. */
  lastSRtimestamp?: number;
  lastSentSRTimestamp?: number;
  headerExtensions: unknown[];
  redRedundantPayloadType?: number;
  dtlsTransport: DtlsInternals;
  canSendRtp(): boolean;
}

/** SRTP profiles (RFC 5764 / 7714): key and salt lengths, authentication tag bytes. */
const PROFILES: Record<number, { key: number; salt: number; tag: number }> = {
  1: { key: 16, salt: 14, tag: 10 }, // SRTP_AES128_CM_HMAC_SHA1_80
  7: { key: 16, salt: 12, tag: 16 }, // SRTP_AEAD_AES_128_GCM
};

/** The fd of a dgram socket, read through its state symbol (the public `_handle` getter is deprecated). */
export function socketFd(socket: object | undefined): number | undefined {
  if (!socket) return undefined;
  const sym = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  const state = sym ? (socket as Record<symbol, { handle?: { fd?: number } } | undefined>)[sym] : undefined;
  const fd = state?.handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * One peer's outbound SRTP on the native path: keyed from werift's DTLS once it connects, aimed at werift's
 * nominated ICE pair (re-aimed when ICE nominates another). Shared by the peer's video and voice (BUNDLE).
 */
export class PeerLink {
  private handle: NativeTransportHandle | undefined;
  /** The DTLS transport the handle was keyed from (an ICE restart brings a new one, with new keys). */
  private keyedFrom: DtlsInternals | undefined;
  private pair: IcePair | undefined;
  private tagBytes = 0;
  private failed: string | undefined;
  private closed = false;

  constructor(
    private readonly native: NativeFanoutModule | undefined,
    private readonly log: Logger,
  ) {}

  /** 'native' once it has sent natively, 'werift' when it cannot (or was told not to), 'pending' before connect. */
  get path(): 'native' | 'werift' | 'pending' {
    if (!this.native || this.failed) return 'werift';
    return this.handle ? 'native' : 'pending';
  }

  /**
   * Send each track's packets (in order, one sendmmsg for all); the number the kernel took, counted from the first
   * track's first packet, or false when this peer must use werift's path instead.
   */
  send(tracks: readonly { s: SenderInternals; wire: Buffer[] }[]): number | false {
    if (!this.native || this.failed || this.closed || tracks.length === 0) return false;
    const dtls = tracks[0]!.s.dtlsTransport;
    if (this.handle && this.keyedFrom !== dtls) {
      this.native.close(this.handle);
      this.handle = undefined;
      this.pair = undefined;
    }
    if (!this.handle && !this.open(dtls)) return false;
    const conn = dtls.iceTransport.connection;
    if (!conn.canSendApplicationData()) return 0; // RFC 7675: no consent, no media
    const pair = conn.nominated;
    if (!pair || pair.protocol.transport.closed) return 0;
    if (pair !== this.pair && !this.aim(pair)) return false;
    const args: (Buffer[] | number)[] = [];
    for (const { s, wire } of tracks) args.push(wire, s.ssrc, s.codec!.payloadType, s.seqOffset, s.timestampOffset);
    const sent = this.native.send(this.handle!, ...args);
    let bytes = 0;
    let left = sent;
    for (const { wire } of tracks) for (let i = 0; i < wire.length && left > 0; i++, left--) bytes += wire[i]!.length + this.tagBytes;
    pair.packetsSent += sent;
    pair.bytesSent += bytes;
    dtls.bytesSent += bytes;
    dtls.packetsSent += sent;
    return sent;
  }

  /**
   * One RTCP sender report (with the CNAME, as a compound packet must carry) per track that has sent, as SRTCP.
   * Replaces werift's own report loop on the native path: a timer and a JavaScript SRTCP encryption per track
   * cost about 0.04 % of a core per viewer.
   */
  sendReports(senders: readonly SenderInternals[]): void {
    if (!this.native || !this.handle || this.failed || this.closed || !this.pair || this.pair.protocol.transport.closed) return;
    const dtls = senders[0]?.dtlsTransport;
    if (!dtls || dtls !== this.keyedFrom || !dtls.iceTransport.connection.canSendApplicationData()) return;
    for (const s of senders) {
      if (s.packetCount === 0) continue;
      const sr = new RtcpSrPacket({
        ssrc: s.ssrc,
        senderInfo: new RtcpSenderInfo({ ntpTimestamp: s.ntpTimestamp, rtpTimestamp: s.rtpTimestamp, packetCount: s.packetCount, octetCount: s.octetCount }),
      }).serialize();
      const sdes = s.cname
        ? new RtcpSourceDescriptionPacket({ chunks: [new SourceDescriptionChunk({ source: s.ssrc, items: [new SourceDescriptionItem({ type: 1, text: s.cname })] })] }).serialize()
        : undefined;
      if (this.native.sendRtcp(this.handle, sdes ? Buffer.concat([sr, sdes]) : sr) === 1) {
        s.lastSRtimestamp = Number((s.ntpTimestamp >> 16n) & 0xffffffffn); // compact NTP: the middle 32 bits
        s.lastSentSRTimestamp = Date.now() / 1000;
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.handle && this.native) this.native.close(this.handle);
    this.handle = undefined;
  }

  private open(dtls: DtlsInternals): boolean {
    const profileId = dtls.dtls?.srtp.srtpProfile;
    const profile = profileId === undefined ? undefined : PROFILES[profileId];
    if (!profile || !dtls.dtls) return this.fail(`SRTP profile ${String(profileId)} is not handled natively`);
    try {
      const { localKey, localSalt } = dtls.dtls.extractSessionKeys(profile.key, profile.salt);
      this.handle = this.native!.createTransport(profileId!, Buffer.concat([localKey, localSalt]));
      this.tagBytes = profile.tag;
      this.keyedFrom = dtls;
      this.log.debug({ srtpProfile: profileId }, 'native fan-out keyed');
      return true;
    } catch (err) {
      return this.fail(`native SRTP setup failed: ${(err as Error).message}`);
    }
  }

  private aim(pair: IcePair): boolean {
    // A TURN relay wraps each packet for the relay, a TCP candidate frames it: only werift knows how.
    if (pair.protocol.type !== 'stun' || pair.protocol.transport.type !== 'udp') return this.fail(`the ICE pair is ${pair.protocol.type}/${String(pair.protocol.transport.type)}, not plain UDP`);
    const fd = socketFd(pair.protocol.transport.socket);
    if (fd === undefined) return this.fail('the ICE socket has no fd');
    try {
      this.native!.setTarget(this.handle!, fd, pair.remoteAddr[0], pair.remoteAddr[1]);
    } catch (err) {
      return this.fail(`native send target rejected: ${(err as Error).message}`);
    }
    this.pair = pair;
    return true;
  }

  /** From here on this peer uses werift's path (its SRTP context starts where the receiver expects: same keys, same sequence). */
  private fail(reason: string): false {
    this.failed = reason;
    this.log.warn({ reason }, 'native fan-out unavailable for this peer; using werift');
    return false;
  }
}

/**
 * One negotiated track of one peer (the caller's or a viewer's video or voice): werift's sender, whose state behind
 * its RTCP sender reports is kept right when the packets go natively (sendToPeer), and the NACKs it cannot answer
 * itself (it never saw those packets), answered from the session's history on the peer's native link.
 */
export class TrackOutput {
  /** @internal werift's sender, as the native path reads and updates it. */
  readonly s: SenderInternals;
  private readonly nativeOk: boolean;
  private unsubscribeNack: (() => void) | undefined;
  retransmitted = 0;

  constructor(
    readonly sender: RTCRtpSender,
    private readonly link: PeerLink,
    private readonly log: Logger,
    history?: RtpHistory,
  ) {
    this.s = sender as unknown as SenderInternals;
    // Header extensions and RED are rebuilt per packet by werift; the native path sends the packets as they are.
    this.nativeOk = this.s.headerExtensions.length === 0 && this.s.redRedundantPayloadType === undefined;
    if (history && this.nativeOk) {
      const sub = sender.onGenericNack.subscribe((nack) => this.onNack(nack.lost, history));
      this.unsubscribeNack = () => sub.unSubscribe();
    }
  }

  /** This track's packets may go out natively now (werift would send them too: connected, codec negotiated). */
  get nativeReady(): boolean {
    return this.nativeOk && this.s.canSendRtp() && this.s.codec !== undefined;
  }

  /** Through werift's sender, packet by packet. */
  sendWithWerift(frame: FramePackets, ntp: bigint): void {
    for (const p of frame.rtp) sendWithSenderClock(this.sender, p, (err) => this.log.debug({ err: err.message }, 'rtp send failed'), ntp);
  }

  close(): void {
    this.unsubscribeNack?.();
    this.unsubscribeNack = undefined;
  }

  /** What werift's own dispatch would have recorded for `sent` of the frame's packets: its sender reports use these. */
  account(frame: FramePackets, sent: number, ntp: bigint): void {
    if (sent <= 0) return;
    const s = this.s;
    const last = frame.rtp[frame.rtp.length - 1]!.header;
    s.packetCount = (s.packetCount + sent) >>> 0;
    s.octetCount = (s.octetCount + frame.payloadBytes) >>> 0;
    s.ntpTimestamp = ntp;
    s.rtpTimestamp = (last.timestamp + s.timestampOffset) >>> 0;
    s.timestamp = s.rtpTimestamp;
    s.sequenceNumber = (last.sequenceNumber + s.seqOffset) & 0xffff;
  }

  /** werift found nothing in its own cache for these (it never saw them): resend from the session's history. */
  private onNack(lost: number[], history: RtpHistory): void {
    const s = this.s;
    if (this.link.path !== 'native' || !s.codec) return;
    const wire: Buffer[] = [];
    for (const seq of lost) {
      const p = history.get((seq - s.seqOffset) & 0xffff);
      if (p) wire.push(p);
    }
    if (wire.length === 0) return;
    const sent = this.link.send([{ s, wire }]);
    if (sent) this.retransmitted += sent;
  }
}

/**
 * One peer's share of a frame: its video (when it takes this frame) and voice packets, in one native send when both
 * tracks can go natively, else each through werift's sender.
 */
export function sendToPeer(link: PeerLink, video: TrackOutput | undefined, videoPackets: FramePackets | undefined, voice: TrackOutput | undefined, voicePackets: FramePackets | undefined, ntp: bigint): void {
  const items: [TrackOutput, FramePackets][] = [];
  if (video && videoPackets && videoPackets.rtp.length > 0) items.push([video, videoPackets]);
  if (voice && voicePackets && voicePackets.rtp.length > 0) items.push([voice, voicePackets]);
  if (items.length === 0) return;
  if (items.every(([t]) => t.nativeReady)) {
    const sent = link.send(items.map(([t, f]) => ({ s: t.s, wire: f.wire })));
    if (sent !== false) {
      let left = sent;
      for (const [t, f] of items) {
        const n = Math.min(left, f.rtp.length);
        t.account(f, n, ntp);
        left -= n;
      }
      return;
    }
  }
  for (const [t, f] of items) t.sendWithWerift(f, ntp);
}

/** How often a native peer's tracks get a sender report (werift's own loop: 0.5-1.5 s, randomised), ms. */
export const SENDER_REPORT_INTERVAL_MS = 1000;

/** Sender reports for one peer's tracks on its native link (werift's loop covers peers on werift's path). */
export function sendReports(link: PeerLink, video: TrackOutput | undefined, voice: TrackOutput | undefined): void {
  if (link.path !== 'native') return;
  const senders: SenderInternals[] = [];
  if (video) senders.push(video.s);
  if (voice) senders.push(voice.s);
  link.sendReports(senders);
}
