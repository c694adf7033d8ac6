import { BadInputError, UnsupportedError } from '../errors.ts';

/** What the server needs to know about a client's offer before negotiating. */
export interface OfferSummary {
  /** The client sends Opus audio (sendonly/sendrecv). */
  hasAudioOpus: boolean;
  /** The client can receive Opus audio (recvonly/sendrecv): where the voice can go. */
  receivesAudioOpus: boolean;
  /** H.264 with packetization-mode=1 is offered (any profile). */
  hasH264: boolean;
  /**
   * profile-level-id of the offered H.264 entry the server should answer with: a High-profile entry
   * (our encoder, x264, always produces High profile without B-frames) if there is one, else baseline.
   */
  h264ProfileLevelId: string | undefined;
  /** Every offered H.264 profile-level-id with packetization-mode=1, lowercase, in offer order. */
  h264ProfileLevelIds: string[];
  hasVp8: boolean;
  hasVideo: boolean;
  hasDataChannel: boolean;
}

/**
 * Profile preference for the answer: High (what x264 emits), then profiles whose decoders must also decode
 * High streams (H.264 Annex A: High 10 `6e`, High 4:2:2 `7a`, High 4:4:4 Predictive `f4`; Chromium offers
 * f4001f without 64xxxx), then baselines as a last resort.
 */
const H264_PROFILE_RANK = [/^640c/i, /^6400/i, /^6e/i, /^7a/i, /^f4/i, /^42e0/i, /^4200/i];
const DECODES_HIGH = /^(64|6e|7a|f4)/i;
/**
 * For a Constrained Baseline stream: the entry that says exactly that (42e0/42c0: constraint_set1), then Baseline
 * (a superset), then profiles whose decoders decode Constrained Baseline too (Main, then the High family).
 */
const CONSTRAINED_BASELINE_RANK = [/^42[ce]0/i, /^42[0-9a-f]0/i, /^4d/i, ...H264_PROFILE_RANK];

/** The H.264 profile the server's encoder emits (see h264ProfileOf). */
export type EmittedH264Profile = 'constrained-baseline' | 'high';

/**
 * Who is offering: a microphone caller (audio in, video out), a WHIP publisher (audio in; its video is ignored)
 * or a WHEP viewer (video and voice out).
 */
export type OfferRole = 'caller' | 'whip' | 'viewer';

/**
 * Check an SDP offer's shape (not a full parser: werift parses it afterwards) and summarise the media it offers.
 * Throws BadInputError for malformed text and UnsupportedError for offers we cannot serve in `role`.
 */
export function inspectOffer(sdp: string, maxBytes: number, maxLines = 2000, role: OfferRole = 'caller'): OfferSummary {
  if (sdp.length === 0) throw new BadInputError('empty SDP offer');
  if (Buffer.byteLength(sdp) > maxBytes) throw new BadInputError(`SDP offer larger than ${maxBytes} bytes`, 413);
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines.length > maxLines) throw new BadInputError(`SDP offer has more than ${maxLines} lines`, 413);
  if (lines[0] !== 'v=0') throw new BadInputError('malformed SDP offer: first line must be v=0');
  for (const line of lines) {
    if (!/^[a-z]=/.test(line)) throw new BadInputError(`malformed SDP offer: bad line "${line.slice(0, 40)}"`);
  }
  const sections: { kind: string; lines: string[] }[] = [];
  for (const line of lines) {
    if (line.startsWith('m=')) sections.push({ kind: line.slice(2).split(' ')[0] ?? '', lines: [line] });
    else sections.at(-1)?.lines.push(line);
  }
  if (sections.length === 0) throw new BadInputError('malformed SDP offer: no media sections');
  const mids = sections.map((sec) => sec.lines.filter((l) => l.startsWith('a=mid:')).map((l) => l.slice(6)));
  if (mids.some((m) => m.length !== 1)) throw new BadInputError('malformed SDP offer: every m= section needs exactly one a=mid');
  if (new Set(mids.flat()).size !== mids.length) throw new BadInputError('malformed SDP offer: duplicate a=mid values');
  if (!lines.some((l) => l.startsWith('a=fingerprint:'))) throw new BadInputError('SDP offer has no DTLS fingerprint');
  if (!lines.some((l) => l.startsWith('a=ice-ufrag:'))) throw new BadInputError('SDP offer has no ICE credentials');

  const rtpmaps = (s: { lines: string[] }, codec: string) =>
    s.lines
      .map((l) => new RegExp(`^a=rtpmap:(\\d+) ${codec}/`, 'i').exec(l)?.[1])
      .filter((pt): pt is string => pt !== undefined);
  const fmtp = (s: { lines: string[] }, pt: string) => s.lines.find((l) => l.startsWith(`a=fmtp:${pt} `)) ?? '';

  const audio = sections.filter((s) => s.kind === 'audio' && !s.lines.some((l) => l === 'a=inactive' || l === 'a=recvonly'));
  const video = sections.filter((s) => s.kind === 'video' && !s.lines.some((l) => l === 'a=inactive' || l === 'a=sendonly'));
  const hasAudioOpus = audio.some((s) => rtpmaps(s, 'opus').length > 0);
  const receivesAudioOpus = sections.some(
    (s) => s.kind === 'audio' && !s.lines.some((l) => l === 'a=inactive' || l === 'a=sendonly') && rtpmaps(s, 'opus').length > 0,
  );
  const h264Profiles = video.flatMap((s) =>
    rtpmaps(s, 'H264')
      .map((pt) => fmtp(s, pt))
      .filter((f) => /packetization-mode=1/.test(f))
      .map((f) => (/profile-level-id=([0-9a-f]{6})/i.exec(f)?.[1] ?? '42001f').toLowerCase()),
  );
  const h264ProfileLevelId = pickProfile(h264Profiles, H264_PROFILE_RANK);
  const hasH264 = h264ProfileLevelId !== undefined;
  const hasVp8 = video.some((s) => rtpmaps(s, 'VP8').length > 0);
  const summary = {
    hasAudioOpus,
    receivesAudioOpus,
    hasH264,
    h264ProfileLevelId,
    h264ProfileLevelIds: h264Profiles,
    hasVp8,
    hasVideo: video.length > 0,
    hasDataChannel: sections.some((s) => s.kind === 'application'),
  };
  if (role !== 'viewer') {
    if (audio.length === 0) throw new UnsupportedError('SDP offer has no audio the server can receive (need audio sendrecv or sendonly)');
    if (!hasAudioOpus) throw new UnsupportedError('SDP offer has no Opus audio');
  }
  if (role !== 'whip') {
    if (!summary.hasVideo) throw new UnsupportedError('SDP offer has no video the server can send (need video recvonly or sendrecv)');
    if (!hasH264 && !hasVp8) throw new UnsupportedError('SDP offer has neither H.264 (packetization-mode=1) nor VP8 video');
  }
  return summary;
}

function pickProfile(profiles: string[], rank: RegExp[]): string | undefined {
  return rank.map((re) => profiles.find((p) => re.test(p))).find((p) => p !== undefined);
}

/** True when the offer's best H.264 entry can decode High profile, what x264 produces. */
export function offersHighProfile(offer: OfferSummary): boolean {
  return DECODES_HIGH.test(offer.h264ProfileLevelId ?? '');
}

/** Whether the offer can decode the H.264 the encoder emits (every H.264 decoder takes Constrained Baseline). */
function decodesOurH264(offer: OfferSummary, emits: EmittedH264Profile): boolean {
  return emits === 'constrained-baseline' ? offer.hasH264 : offersHighProfile(offer);
}

/** The profile-level-id to answer with: the offered entry that best describes the stream the encoder emits. */
export function answerProfileLevelId(offer: OfferSummary, emits: EmittedH264Profile): string | undefined {
  return emits === 'constrained-baseline' ? pickProfile(offer.h264ProfileLevelIds, CONSTRAINED_BASELINE_RANK) : offer.h264ProfileLevelId;
}

/**
 * Pick the video codec: the configured one if the offer can take it, else the other.
 * H.264 counts as fully offered when the offer decodes what the encoder emits; with a High-profile encoder,
 * baseline-only H.264 is used only when there is no VP8.
 */
export function chooseVideoCodec(offer: OfferSummary, preferred: 'h264' | 'vp8', emits: EmittedH264Profile = 'high'): 'h264' | 'vp8' {
  const h264Ok = decodesOurH264(offer, emits);
  if (preferred === 'h264') return h264Ok || !offer.hasVp8 ? 'h264' : 'vp8';
  return offer.hasVp8 ? 'vp8' : 'h264';
}

/** Whether a viewer's offer can take a session's video codec; the reason when it cannot. */
export function viewerCanReceive(offer: OfferSummary, codec: 'h264' | 'vp8', emits: EmittedH264Profile = 'high'): string | undefined {
  if (codec === 'h264' && !offer.hasH264) return 'this session sends H.264 (packetization-mode=1) and the offer has none';
  if (codec === 'h264' && !decodesOurH264(offer, emits)) return 'this session sends High-profile H.264 and the offer has only baseline profiles';
  if (codec === 'vp8' && !offer.hasVp8) return 'this session sends VP8 and the offer has none';
  return undefined;
}

/**
 * The offer as the server applies it. A browser that hides its addresses behind mDNS names (`<uuid>.local`) and
 * says `a=end-of-candidates` (Firefox does) leaves werift no pair to check, and werift fails the peer at once,
 * before the browser's connectivity checks arrive. Without the marker werift waits for those checks and pairs
 * with their source (a peer-reflexive candidate), as servers do; an offer with a usable candidate keeps it.
 */
export function offerForIce(sdp: string): string {
  const candidates = sdp.match(/^a=candidate:.*$/gm) ?? [];
  const usable = candidates.some((line) => {
    const address = line.split(' ')[4] ?? '';
    return address.length > 0 && !address.toLowerCase().endsWith('.local');
  });
  return usable ? sdp : sdp.replace(/^a=end-of-candidates\r?\n/gm, '');
}
