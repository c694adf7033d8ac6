/** Summaries of a receiving peer's getStats(): one inbound video and one inbound audio stream. */
import type { InboundAudioStats, InboundStreamStats, InboundVideoStats, ViewerStats } from './debugState.ts';

type Entry = Record<string, unknown>;

const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

function streamStats(entry: Entry, report: RTCStatsReport): InboundStreamStats {
  const codec = report.get(String(entry.codecId)) as { mimeType?: string } | undefined;
  const emitted = num(entry.jitterBufferEmittedCount);
  return {
    codec: codec?.mimeType?.replace(/^(video|audio)\//, '') ?? null,
    packetsReceived: num(entry.packetsReceived),
    packetsLost: num(entry.packetsLost),
    bytesReceived: num(entry.bytesReceived),
    jitterBufferDelayMs: emitted > 0 ? (num(entry.jitterBufferDelay) / emitted) * 1000 : null,
  };
}

function videoStats(entry: Entry, report: RTCStatsReport): InboundVideoStats {
  return {
    ...streamStats(entry, report),
    framesDecoded: num(entry.framesDecoded),
    framesDropped: num(entry.framesDropped),
    framesPerSecond: typeof entry.framesPerSecond === 'number' ? entry.framesPerSecond : null,
    frameWidth: num(entry.frameWidth),
    frameHeight: num(entry.frameHeight),
  };
}

function audioStats(entry: Entry, report: RTCStatsReport): InboundAudioStats {
  return {
    ...streamStats(entry, report),
    totalSamplesReceived: num(entry.totalSamplesReceived),
    concealedSamples: num(entry.concealedSamples),
    silentConcealedSamples: num(entry.silentConcealedSamples),
    totalAudioEnergy: num(entry.totalAudioEnergy),
    audioLevel: num(entry.audioLevel),
  };
}

export async function summarizeInbound(pc: RTCPeerConnection | null): Promise<ViewerStats> {
  const summary: ViewerStats = { video: null, audio: null };
  if (!pc) return summary;
  const report = await pc.getStats();
  report.forEach((entry: Entry) => {
    if (entry.type !== 'inbound-rtp') return;
    if (entry.kind === 'video') summary.video = videoStats(entry, report);
    else if (entry.kind === 'audio') summary.audio = audioStats(entry, report);
  });
  return summary;
}
