/**
 * Records what a WHEP viewer sees and hears for the A/V sync measures of avSync.ts: each decoded frame's mouth
 * (opening, change from the previous frame) with its RTP timestamp and arrival, and the decoded audio packets.
 * Attach it with `new WhepViewer({ ..., keep: false, onFrame: r.onFrame, onAudio: r.onAudio })`.
 */
import {
  audioLevels,
  audioOnsets,
  audioSilentAt,
  changedShare,
  cropLuma,
  mouthBox,
  mouthOnsets,
  mouthOpenLevels,
  mouthOpening,
  mouthRestReference,
  offsetStats,
  pairOnsets,
  restFrom,
  soundThreshold,
  type AudioOnsetOptions,
  type Box,
  type MouthReference,
  type MouthSample,
  type OffsetStats,
  type OnsetPair,
  type PairingOptions,
} from './avSync.ts';
import type { RtpNtpClock } from './rtpNtpClock.ts';
import type { EncodedVideoFrame } from './rtpVideoFrames.ts';
import { FfmpegLumaDecoder } from './ffmpegLumaDecoder.ts';
import { decoderCodecOf, type DecodedLuma } from './videoLumaDecoder.ts';
import type { DecodedAudioPacket } from './WhepViewer.ts';

/** One decoded frame's mouth, before it is placed on a clock. */
export interface RecordedMouth {
  rtpTimestamp: number;
  arrivalMs: number;
  open: number;
  change: number;
}

export interface ViewerSyncRecorderOptions {
  /** The portrait's 468 landmarks in output-frame px (`GET /v1/references/{id}`). */
  landmarks: readonly (readonly number[])[];
  /** Frames at the start (mouth at rest: nothing has been said yet) that set the cavity threshold (default 15). */
  restFrames?: number;
}

/** The A/V offsets of one stretch of the stream. */
export interface SyncAnalysis {
  /** Sound onsets and mouth-open onsets on the sender's NTP clock (Unix ms). */
  audioOnsetsMs: number[];
  mouthOnsetsMs: number[];
  pairs: OnsetPair[];
  unmatchedAudio: number;
  stats: OffsetStats | null;
}

/** How a `clear` showed at the viewer: ms from sending it until the mouth rested and the voice fell silent. */
export interface ClearResponse {
  mouthRestMs: number | null;
  audioSilentMs: number;
}

export class ViewerSyncRecorder {
  readonly mouth: RecordedMouth[] = [];
  private audio: DecodedAudioPacket[] = [];
  private decoder: FfmpegLumaDecoder | null = null;
  private box: Box | null = null;
  private reference: MouthReference | null = null;
  private readonly restCrops: { picture: Pick<DecodedLuma, 'rtpTimestamp' | 'arrivalMs'>; crop: Uint8Array }[] = [];
  private previousCrop: Uint8Array | null = null;
  private readonly restFrames: number;

  constructor(private readonly options: ViewerSyncRecorderOptions) {
    this.restFrames = options.restFrames ?? 15;
  }

  /** Frames decoded so far and decoder trouble. */
  get decoderCounters(): FfmpegLumaDecoder['counters'] | null {
    return this.decoder?.counters ?? null;
  }

  get decoderError(): Error | null {
    return this.decoder?.error ?? null;
  }

  readonly onFrame = (frame: EncodedVideoFrame): void => {
    this.decoder ??= new FfmpegLumaDecoder(decoderCodecOf(frame.mimeType), (picture) => this.onPicture(picture));
    this.decoder.decode(frame);
  };

  readonly onAudio = (packet: DecodedAudioPacket): void => {
    this.audio.push(packet);
  };

  /** Waits for the frames given so far to be decoded and measured. */
  async flush(): Promise<void> {
    await this.decoder?.flush();
  }

  close(): void {
    this.decoder?.close();
  }

  /** Drops audio packets that arrived before `arrivalMs` (long runs analyse minute by minute). */
  forgetAudioBefore(arrivalMs: number): void {
    this.audio = this.audio.filter((p) => p.arrivalMs >= arrivalMs);
  }

  /** Mouth samples on the sender's NTP clock (frames before the first sender report are left out). */
  mouthOnClock(videoClock: RtpNtpClock): MouthSample[] {
    const out: MouthSample[] = [];
    for (const m of this.mouth) {
      const t = videoClock.toNtpMs(m.rtpTimestamp);
      if (t !== null) out.push({ t, open: m.open, change: m.change });
    }
    return out.sort((a, b) => a.t - b.t);
  }

  /**
   * Sound onsets and mouth onsets on the NTP clock, paired. `fromMs`/`toMs` (NTP) limit the audio onsets
   * counted (e.g. to skip a warm-up burst, or one minute of a soak).
   */
  analyze(videoClock: RtpNtpClock, audioClock: RtpNtpClock, opts: { fromMs?: number; toMs?: number; audio?: AudioOnsetOptions; pairing?: PairingOptions } = {}): SyncAnalysis {
    const { fromMs = -Infinity, toMs = Infinity } = opts;
    const audioOnsetsMs = audioOnsets(audioLevels(this.audio), opts.audio)
      .map((rtp) => audioClock.toNtpMs(rtp))
      .filter((t): t is number => t !== null && t >= fromMs && t < toMs);
    const mouthOnsetsMs = mouthOnsets(this.mouthOnClock(videoClock));
    const { pairs, unmatchedAudio } = pairOnsets(audioOnsetsMs, mouthOnsetsMs, opts.pairing);
    return { audioOnsetsMs, mouthOnsetsMs, pairs, unmatchedAudio, stats: offsetStats(pairs.map((p) => p.offsetMs)) };
  }

  /**
   * After a `clear` sent at `clearAtMs` (performance.now()), how long until the frames arriving show the mouth
   * at rest and still, and the voice arriving is silent for good; both looked at up to `untilMs`.
   */
  clearResponse(clearAtMs: number, untilMs: number): ClearResponse {
    const levels = mouthOpenLevels(this.mouth.map((m) => ({ t: m.arrivalMs, open: m.open, change: m.change })));
    const window = this.mouth.filter((m) => m.arrivalMs < untilMs).map((m) => ({ t: m.arrivalMs, open: m.open, change: m.change }));
    const restAt = restFrom(window, clearAtMs, { maxOpen: levels.rest + 0.05 * (levels.open - levels.rest) });
    const audio = this.audio.filter((p) => p.arrivalMs < untilMs);
    const silentAt = audioSilentAt(audio, clearAtMs, soundThreshold(audioLevels(this.audio)));
    return { mouthRestMs: restAt === null ? null : restAt - clearAtMs, audioSilentMs: silentAt - clearAtMs };
  }

  private onPicture(picture: DecodedLuma): void {
    this.box ??= mouthBox(this.options.landmarks, picture.width, picture.height);
    const crop = cropLuma(picture, this.box);
    if (!this.reference) {
      this.restCrops.push({ picture: { rtpTimestamp: picture.rtpTimestamp, arrivalMs: picture.arrivalMs }, crop });
      if (this.restCrops.length < this.restFrames) return;
      this.reference = mouthRestReference(this.restCrops.map((r) => r.crop));
      for (const r of this.restCrops.splice(0)) this.record(r.picture, r.crop);
      return;
    }
    this.record(picture, crop);
  }

  private record(picture: Pick<DecodedLuma, 'rtpTimestamp' | 'arrivalMs'>, crop: Uint8Array): void {
    const change = this.previousCrop ? changedShare(crop, this.previousCrop) : 0;
    this.previousCrop = crop;
    this.mouth.push({ rtpTimestamp: picture.rtpTimestamp, arrivalMs: picture.arrivalMs, open: mouthOpening(crop, this.reference!), change });
  }
}
